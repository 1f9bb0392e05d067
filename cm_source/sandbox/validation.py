"""What a subscriber write may say: one subscriber entry of POST /subscribers/{lid}.json or of an import
checked as the API checks it, each problem answered with the API's Code, into a SubscriberWrite."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..api_facts import CONSENT_VALUES
from .messages import ApiError

MAX_FIELD_VALUE = 250
FIELD_DATE_RANGE = (date(1900, 1, 1), date(2076, 6, 6))
MOBILE_NUMBER_RE = re.compile(r"\+[1-9][0-9]{6,14}")  # E.164
# dot-separated atoms @ labels . TLD; Unicode letters and digits are fine anywhere, so IDN domains and
# non-ASCII local parts pass, as they do in the API.
_EMAIL_ATOM = r"[^\s\x00-\x1f\x7f@\"(),:;<>\[\]\\.]+"
_DOMAIN_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
EMAIL_RE = re.compile(
    rf"{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*@(?:{_DOMAIN_LABEL}\.)+(?:[^\W\d_]{{2,63}}|xn--[a-z0-9-]{{1,59}})",
    re.IGNORECASE,
)
INVALID_EMAIL = "Invalid Email Address"


@dataclass(frozen=True)
class SubscriberWrite:
    """One validated subscriber of a write. None, "Unchanged" and a field left out of custom_fields all
    mean "keep what is stored"."""

    email: str
    name: str | None
    consent_to_track: str
    consent_to_send_sms: str
    mobile_number: str | None
    custom_fields: dict[str, list[str]]  # field name -> its new values; [] clears the field


def entry_address(entry: Any) -> str:
    """The EmailAddress a subscriber entry was sent with, "" when it has none (failures still name it)."""
    email = entry.get("EmailAddress") if isinstance(entry, dict) else None
    return email if isinstance(email, str) else ""


def checked_email(text: str) -> str:
    """The address if it has a sane local@domain.tld shape, within the lengths mail servers accept; else
    400 Code 1."""
    local = text.rpartition("@")[0]
    if len(text) > 254 or len(local) > 64 or EMAIL_RE.fullmatch(text) is None:
        raise ApiError(400, 1, INVALID_EMAIL)
    return text


def _consent(entry: dict, name: str, required: bool) -> str:
    """A consent exactly Yes, No or Unchanged (case matters: "true" is refused as the API does); an
    optional one left out is Unchanged."""
    value = entry.get(name)
    if value is None and required:
        raise ApiError(400, 214, f"{name} is required: Yes, No or Unchanged")
    if value is None:
        return "Unchanged"
    if value not in CONSENT_VALUES:
        raise ApiError(400, 215, f"Invalid {name} value: use Yes, No or Unchanged")
    return value


def _given_mobile_number(entry: dict) -> str | None:
    """The E.164 MobileNumber sent; None when left out, null or empty, which keeps the stored one."""
    value = entry.get("MobileNumber")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not MOBILE_NUMBER_RE.fullmatch(value):
        raise ApiError(400, 220, "Invalid mobile number")
    return value


def _is_field_date(value: str) -> bool:
    """YYYY-MM-DD within the range a Date field can hold."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return False
    return FIELD_DATE_RANGE[0] <= day <= FIELD_DATE_RANGE[1]


def _field_value(item: Any, by_key: dict[str, dict]) -> tuple[dict | None, str]:
    """One CustomFields entry checked: its field's definition (None for a Key the list lacks, which is
    ignored rather than refused) and its Value as text."""
    key = item.get("Key") if isinstance(item, dict) else None
    if not isinstance(key, str) or not re.fullmatch(r"\[[^\[\]]+\]", key):
        raise ApiError(400, 253, "Custom field keys must be in square brackets, e.g. [website]")
    definition = by_key.get(key.casefold())
    value = "" if item.get("Value") is None else str(item["Value"])
    if definition is None:
        return None, value
    if len(value) > MAX_FIELD_VALUE:
        raise ApiError(400, 250, f"The value of {key} is longer than {MAX_FIELD_VALUE} characters")
    if value and definition["DataType"] == "Date" and not _is_field_date(value):
        first, last = FIELD_DATE_RANGE
        raise ApiError(400, 5, f"Invalid date in {key}: use YYYY-MM-DD between {first} and {last}")
    return definition, value


def _custom_field_changes(raw: Any, fields: list[dict]) -> dict[str, list[str]]:
    """New values by field name. A field's values replace the stored ones (a multi-select-many field
    takes one entry per option, the others keep the last); an empty Value clears the field only with
    "Clear": true; options a select field does not offer are dropped."""
    if raw is None:
        return {}
    by_key = {definition["Key"].casefold(): definition for definition in fields}
    changes: dict[str, list[str]] = {}
    for item in raw if isinstance(raw, list) else [raw]:
        definition, value = _field_value(item, by_key)
        if definition is None:
            continue
        name = definition["FieldName"]
        if not value:
            if item.get("Clear") is True:
                changes.setdefault(name, [])
        elif definition["FieldOptions"] and value not in definition["FieldOptions"]:
            continue
        elif definition["DataType"] != "MultiSelectMany":
            changes[name] = [value]
        elif value not in changes.setdefault(name, []):
            changes[name].append(value)
    return changes


def subscriber_write(entry: Any, fields: list[dict]) -> SubscriberWrite:
    """Validate one subscriber for either POST endpoint against the list's `fields`; the first problem
    wins, in this order: email (1), ConsentToTrack (214/215), ConsentToSendSms (215), MobileNumber
    (220), custom fields (253, 250, 5)."""
    entry = entry if isinstance(entry, dict) else {}
    email = checked_email(entry_address(entry))
    name = entry.get("Name")
    return SubscriberWrite(
        email=email,
        name=name if isinstance(name, str) else None,
        consent_to_track=_consent(entry, "ConsentToTrack", required=True),
        consent_to_send_sms=_consent(entry, "ConsentToSendSms", required=False),
        mobile_number=_given_mobile_number(entry),
        custom_fields=_custom_field_changes(entry.get("CustomFields"), fields),
    )
