"""Input rows into the API's subscribers: the first stage of an upsert, before anything is sent.

``prepare`` checks everything that can stop the run (the address column, unknown columns) and keeps the
last row of each address; ``subscriber_batches`` turns the rows into imports of subscriber objects
(standard columns, consent, E.164 and custom fields), setting aside each row that cannot be sent.

A row is a mapping with ``email_address`` (required), ``name``, ``mobile_number``, ``consent_to_track``,
``consent_to_send_sms``; every other column is a custom field of the list, or the read side's
``custom_fields`` column of {key, value} entries.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import phonenumbers

from ..api_facts import IMPORT_LIMIT
from ..errors import InputError
from .custom_fields import CUSTOM_FIELDS_COLUMN, CustomFields, column_name, custom_column, email_column
from .rejects import Rejection
from .settings import UpsertSettings

CONSENT = {"true": "Yes", "yes": "Yes", "1": "Yes", "false": "No", "no": "No", "0": "No", "unchanged": "Unchanged"}

Row = Mapping[str, Any]


@dataclass(frozen=True)
class RowShape:
    """Which input column holds each part of a subscriber: worked out once per set of columns, not per row."""

    email_address: str | None
    name: str | None
    mobile_number: str | None
    consent_to_track: str | None
    consent_to_send_sms: str | None
    custom: tuple[tuple[str, str], ...]  # (input column, the field's Key)
    custom_fields: str | None  # the read side's column of {key, value} entries


@lru_cache(maxsize=4096)
def row_shape(fields: CustomFields, columns: tuple[str, ...]) -> RowShape:
    """The shape of rows with these columns; no address column, or an unknown column, stops the run.

    The address is the first of ``email_address`` and the headers other tools export it under.
    """
    email = email_column(columns)
    if email is None:  # the real fault, whatever the other columns are
        raise NoEmailColumn(columns)
    fields.check_columns(columns)
    by_name = {column_name(column): column for column in columns}
    return RowShape(
        email_address=email,
        name=by_name.get("name"),
        mobile_number=by_name.get("mobile_number"),
        consent_to_track=by_name.get("consent_to_track"),
        consent_to_send_sms=by_name.get("consent_to_send_sms"),
        custom=tuple((column, fields.key_for(column)) for column in columns if custom_column(column)),
        custom_fields=by_name.get(CUSTOM_FIELDS_COLUMN),
    )


def blank(value: Any) -> bool:
    """Empty and null values are not sent, so what Campaign Monitor already holds is kept."""
    if type(value) is str:  # the common case first: this runs for every cell of every row
        return not value or value.isspace()
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return isinstance(value, (list, tuple)) and not any(not blank(v) for v in value)


def field_value(value: Any) -> str:
    """Every custom field value travels as a string; dates as ISO dates, whole numbers without ``.0``."""
    if type(value) is str:
        return value.strip()
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(value.to_integral_value())
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value).strip()


def consent(value: Any, column: str) -> str:
    """true/yes/1 -> Yes, false/no/0 -> No, empty -> Unchanged; anything else is refused (Code 215)."""
    if blank(value):
        return "Unchanged"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    text = field_value(value).lower()
    if text in CONSENT:
        return CONSENT[text]
    raise RowError(215, f"{column} {value!r} is not one of true/yes/1, false/no/0 or empty")


def e164(value: Any, default_region: str | None) -> str:
    """A mobile number in E.164; only a number that cannot even be possible is refused (Code 220).

    Validity (is the range allocated?) is left to Campaign Monitor: reserved test ranges such as
    +44 7700 900123 are possible but not "valid", and still belong to someone's test list.
    """
    try:
        number = phonenumbers.parse(field_value(value), default_region)
    except phonenumbers.NumberParseException as exc:
        needs = ' (a national number needs a default region: default_region="GB", --default-region GB on the command)'
        hint = "" if default_region else needs
        raise RowError(220, f"mobile_number {value!r} is not a phone number: {exc}{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise RowError(220, f"mobile_number {value!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class NoEmailColumn(InputError):
    """No input column holds the address; ``source`` names the input where the caller knows it."""

    def __init__(self, columns: tuple[str, ...], source: str = "the input") -> None:
        self.columns = columns
        shown = ", ".join(repr(c) for c in columns) or "none"
        super().__init__(
            f"no email column in {source} (columns: {shown}): map one with column_map={{COLUMN: 'email_address'}}"
        )


class RowError(Exception):
    """A row that cannot be sent as it is; code is the one the API would answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def to_subscriber(row: Row, fields: CustomFields, settings: UpsertSettings) -> dict[str, Any]:
    """Turn one input row into the API's subscriber object, or raise ``RowError``."""
    shape = row_shape(fields, tuple(row))
    email = row.get(shape.email_address) if shape.email_address else None
    if blank(email):
        raise RowError(1, "email_address is empty")
    subscriber: dict[str, Any] = {"EmailAddress": field_value(email)}
    name = row[shape.name] if shape.name else None
    if not blank(name):
        subscriber["Name"] = field_value(name)
    mobile = row[shape.mobile_number] if shape.mobile_number else None
    if not blank(mobile):
        subscriber["MobileNumber"] = e164(mobile, settings.default_region)
    if shape.consent_to_track:
        subscriber["ConsentToTrack"] = consent(row[shape.consent_to_track], "consent_to_track")
    else:
        subscriber["ConsentToTrack"] = settings.consent_to_track_default
    if shape.consent_to_send_sms:
        subscriber["ConsentToSendSms"] = consent(row[shape.consent_to_send_sms], "consent_to_send_sms")
    custom = [
        {"Key": key, "Value": field_value(option)}
        for column, key in shape.custom
        if not blank(value := row[column])
        for option in (value if isinstance(value, (list, tuple)) else (value,))
        if not blank(option)
    ]
    if shape.custom_fields:
        custom += read_side_custom_fields(row[shape.custom_fields], fields, {c["Key"] for c in custom})
    if custom:
        subscriber["CustomFields"] = custom
    return subscriber


def custom_field_entries(entries: Any, fields: CustomFields) -> list[tuple[str, Any]]:
    """The read side's ``custom_fields`` column (a list of ``{key, value}``, or its JSON) as (Key, value).

    A malformed column or a field the list lacks stops the run, like an unknown column does.
    """
    try:
        found = (json.loads(entries) if entries.strip() else []) if isinstance(entries, str) else list(entries or ())
    except (ValueError, TypeError):
        found = None
    if found is None or not all(isinstance(entry, Mapping) for entry in found):
        raise InputError(
            f"column {CUSTOM_FIELDS_COLUMN} holds {str(entries)[:80]!r}, not a list of {{key, value}} entries as the"
            " read side loads it: fix the column, or drop it and give each field a column of its own"
        )
    names = [str(entry.get("key", entry.get("Key"))) for entry in found]
    fields.check_columns(names)
    pairs = zip(names, found, strict=True)
    return [(fields.key_for(name), entry.get("value", entry.get("Value"))) for name, entry in pairs]


def read_side_custom_fields(entries: Any, fields: CustomFields, set_by_columns: set[str]) -> list[dict[str, str]]:
    """The ``custom_fields`` column of a table the read side loaded, as the API's entries.

    A field that also has a column of its own takes the column's value: that is the one edited.
    """
    return [
        {"Key": key, "Value": field_value(value)}
        for key, value in custom_field_entries(entries, fields)
        if key not in set_by_columns and not blank(value)
    ]


Batch = list[tuple[dict[str, Any], dict[str, Any]]]  # (subscriber, the row it came from)


@dataclass
class Prepared:
    """The rows to send, one per email in the order of each email's last row, and the rows set aside."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower-cased email -> its last row
    addresses: dict[str, str] = field(default_factory=dict)  # lower-cased email -> as its last row spells it
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rows_read: int = 0
    email_column: str = "email_address"


def prepare(rows: Iterable[Row], fields: CustomFields, column_map: Mapping[str, str] | None = None) -> Prepared:
    """Everything that can stop the run, checked before the first request; and the last row of an email wins.

    Like Campaign Monitor within one import, the last row wins even when it is then rejected: the
    earlier rows are superseded, not sent in its place. Turning rows into subscribers (E.164 above
    all) is left to ``subscriber_batches``, so that it can overlap the imports. ``column_map`` renames
    input columns (``{"Email": "email_address", "Vorname": "name"}``) before anything else sees them.
    """
    prepared = Prepared()
    renames = dict(column_map or {})
    for row in rows:
        prepared.rows_read += 1
        row = {renames.get(column, column): value for column, value in row.items()} if renames else dict(row)
        shape = row_shape(fields, tuple(row))
        prepared.email_column = shape.email_address or prepared.email_column
        if shape.custom_fields:  # checked now, not mid-import; converted again with the row
            custom_field_entries(row[shape.custom_fields], fields)
        email = row.get(shape.email_address) if shape.email_address else None
        if blank(email):
            prepared.rejected.append(Rejection(row, 1, "email_address is empty"))
            continue
        address = field_value(email)
        if address.lower() in prepared.rows:
            prepared.duplicates.append(address)
            del prepared.rows[address.lower()]  # re-inserted, so the batch order follows the winning row
        prepared.rows[address.lower()] = row
        prepared.addresses[address.lower()] = address
    return prepared


def subscriber_batches(prepared: Prepared, fields: CustomFields, settings: UpsertSettings) -> Iterator[Batch]:
    """Full imports of (subscriber, row); a row that cannot be sent is added to ``prepared.rejected``."""
    batch: Batch = []
    for row in prepared.rows.values():
        try:
            batch.append((to_subscriber(row, fields, settings), row))
        except RowError as exc:
            prepared.rejected.append(Rejection(row, exc.code, exc.message))
            continue
        if len(batch) == IMPORT_LIMIT:
            yield batch
            batch = []
    if batch:
        yield batch
