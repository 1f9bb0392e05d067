"""The write side: upsert rows into a Campaign Monitor list with bulk imports, accounting for every row.

A row is a mapping with ``email_address`` (required), ``name``, ``mobile_number``, ``consent_to_track``,
``consent_to_send_sms``; every other column is a custom field of the list. Rows go out in imports of
at most 1000; a 400 with Code 210 is a partial success whose ``FailureDetails`` become rejections.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import dlt
import phonenumbers
from dlt.common.normalizers.naming.snake_case import NamingConvention

from .api import CampaignMonitorAPI, CampaignMonitorError, error_fields
from .api_facts import BASE_URL, CONSENT_VALUES, IMPORT_LIMIT
from .concurrency import one_ahead

CONSENT = {"true": "Yes", "yes": "Yes", "1": "Yes", "false": "No", "no": "No", "0": "No", "unchanged": "Unchanged"}
STANDARD_COLUMNS = ("email_address", "name", "mobile_number", "consent_to_track", "consent_to_send_sms")
# Columns of the read side's subscriber tables that the API sets itself: ignored, so that a table
# loaded by campaign_monitor_source can be pushed back as it is.
READ_ONLY_COLUMNS = frozenset({"list_id", "client_id", "date", "list_joined_date", "state", "reads_email_with"})
# The read side keeps a subscriber's custom fields in one column of {key, value} entries.
CUSTOM_FIELDS_COLUMN = "custom_fields"
_naming = NamingConvention()
# Cached: every row of an import names the same few columns (a million rows, a dozen names).
column_name = lru_cache(maxsize=4096)(_naming.normalize_identifier)

Row = Mapping[str, Any]


@dataclass(frozen=True)
class UpsertSettings:
    """What the user decides about how rows are written; the defaults change nothing they did not ask for."""

    resubscribe: bool = False  # re-add people who unsubscribed, bounced or were deleted
    consent_to_track_default: str = "Unchanged"  # where the row has no consent_to_track column
    default_region: Optional[str] = None  # ISO country for national mobile numbers, e.g. "GB"
    queue_autoresponders: bool = False
    restart_autoresponders: bool = False

    def __post_init__(self) -> None:
        if self.consent_to_track_default not in CONSENT_VALUES:
            raise CampaignMonitorError(
                f"consent_to_track_default must be one of {', '.join(CONSENT_VALUES)}, not {self.consent_to_track_default!r}"
            )


@dataclass
class Rejection:
    """A row that was not written, with the API's code (or the code it would have answered)."""

    row: Dict[str, Any]
    code: int
    message: str


@dataclass
class UpsertReport:
    """What happened to every input row: new + updated + rejected + superseded duplicates = rows read."""

    list_id: str
    rows_read: int = 0
    new: int = 0
    updated: int = 0
    rejected: List[Rejection] = field(default_factory=list)
    duplicates: List[str] = field(default_factory=list)  # emails whose earlier rows a later one replaced
    imports_sent: int = 0
    imports_resumed: int = 0  # finished by an earlier, interrupted run and not sent again
    dry_run: bool = False

    @property
    def accepted(self) -> int:
        return self.new + self.updated

    def summary(self) -> str:
        verb = "would send" if self.dry_run else "imported"
        return (
            f"list {self.list_id}: {self.rows_read:,} rows read, {verb} {self.accepted:,}"
            f" ({self.new:,} new, {self.updated:,} updated), {len(self.rejected):,} rejected,"
            f" {len(self.duplicates):,} duplicate emails (last row sent), {self.imports_sent} import calls"
            + (f", {self.imports_resumed} resumed" if self.imports_resumed else "")
        )


class CustomFields:
    """The list's custom fields, matched to input columns the way a user would name them."""

    def __init__(self, list_id: str, definitions: Sequence[Mapping[str, Any]]) -> None:
        self.list_id = list_id
        self.definitions = list(definitions)
        self._by_name: Dict[str, Mapping[str, Any]] = {}
        for definition in self.definitions:
            bare_key = str(definition["Key"]).strip("[]")
            for name in (definition["Key"], bare_key, definition.get("FieldName") or bare_key):
                self._by_name[column_name(str(name))] = definition

    @classmethod
    def fetch(cls, api: CampaignMonitorAPI, list_id: str) -> "CustomFields":
        """One GET of ``customfields.json``; it also proves the list exists and the key may see it."""
        return cls(list_id, api.get_array(f"lists/{list_id}/customfields.json"))

    def check_columns(self, columns: Iterable[str]) -> None:
        """Refuse, before anything is sent, a column that is neither standard nor a field of the list."""
        unknown = [c for c in columns if custom_column(c) and column_name(c) not in self._by_name]
        if unknown:
            names = ", ".join(str(d.get("FieldName") or d["Key"]) for d in self.definitions) or "none"
            raise CampaignMonitorError(
                f"column {', '.join(repr(c) for c in unknown)} is not a custom field of list {self.list_id}"
                f" (its fields: {names}): rename or drop the column, or create the field in Campaign Monitor"
            )

    def key_for(self, column: str) -> str:
        """The field's Key as ``customfields.json`` gives it, brackets included (Code 253 without)."""
        return str(self._by_name[column_name(column)]["Key"])

    def data_type(self, column: str) -> str:
        return str(self._by_name[column_name(column)].get("DataType", "Text"))


@dataclass(frozen=True)
class RowShape:
    """Which input column holds each part of a subscriber: worked out once per set of columns, not per row."""

    email_address: Optional[str]
    name: Optional[str]
    mobile_number: Optional[str]
    consent_to_track: Optional[str]
    consent_to_send_sms: Optional[str]
    custom: Tuple[Tuple[str, str], ...]  # (input column, the field's Key)
    custom_fields: Optional[str]  # the read side's column of {key, value} entries


@lru_cache(maxsize=4096)
def row_shape(fields: CustomFields, columns: Tuple[str, ...]) -> RowShape:
    """The shape of rows with these columns; an unknown column stops the run (``check_columns``)."""
    fields.check_columns(columns)
    by_name = {column_name(column): column for column in columns}
    return RowShape(
        email_address=by_name.get("email_address"),
        name=by_name.get("name"),
        mobile_number=by_name.get("mobile_number"),
        consent_to_track=by_name.get("consent_to_track"),
        consent_to_send_sms=by_name.get("consent_to_send_sms"),
        custom=tuple((column, fields.key_for(column)) for column in columns if custom_column(column)),
        custom_fields=by_name.get(CUSTOM_FIELDS_COLUMN),
    )


@lru_cache(maxsize=4096)
def custom_column(column: str) -> bool:
    """Whether an input column is a custom field (not standard, read-only or dlt's own)."""
    name = column_name(column)
    return not (
        name in STANDARD_COLUMNS or name in READ_ONLY_COLUMNS or name == CUSTOM_FIELDS_COLUMN or name.startswith("_dlt")
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


def e164(value: Any, default_region: Optional[str]) -> str:
    """A mobile number in E.164; only a number that cannot even be possible is refused (Code 220).

    Validity (is the range allocated?) is left to Campaign Monitor: reserved test ranges such as
    +44 7700 900123 are possible but not "valid", and still belong to someone's test list.
    """
    try:
        number = phonenumbers.parse(field_value(value), default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if default_region else " (a national number needs a default region, e.g. --default-region GB)"
        raise RowError(220, f"mobile_number {value!r} is not a phone number: {exc}{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise RowError(220, f"mobile_number {value!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class RowError(Exception):
    """A row that cannot be sent as it is; code is the one the API would answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def to_subscriber(row: Row, fields: CustomFields, settings: UpsertSettings) -> Dict[str, Any]:
    """Turn one input row into the API's subscriber object, or raise ``RowError``."""
    shape = row_shape(fields, tuple(row))
    email = row.get(shape.email_address) if shape.email_address else None
    if blank(email):
        raise RowError(1, "email_address is empty")
    subscriber: Dict[str, Any] = {"EmailAddress": field_value(email)}
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


def custom_field_entries(entries: Any, fields: CustomFields) -> List[Tuple[str, Any]]:
    """The read side's ``custom_fields`` column (a list of ``{key, value}``, or its JSON) as (Key, value).

    A malformed column or a field the list lacks stops the run, like an unknown column does.
    """
    try:
        found = (json.loads(entries) if entries.strip() else []) if isinstance(entries, str) else list(entries or ())
    except (ValueError, TypeError):
        found = None
    if found is None or not all(isinstance(entry, Mapping) for entry in found):
        raise CampaignMonitorError(
            f"column {CUSTOM_FIELDS_COLUMN} holds {str(entries)[:80]!r}, not a list of {{key, value}} entries as the"
            " read side loads it: fix the column, or drop it and give each field a column of its own"
        )
    names = [str(entry.get("key", entry.get("Key"))) for entry in found]
    fields.check_columns(names)
    return [(fields.key_for(name), entry.get("value", entry.get("Value"))) for name, entry in zip(names, found)]


def read_side_custom_fields(entries: Any, fields: CustomFields, set_by_columns: Set[str]) -> List[Dict[str, str]]:
    """The ``custom_fields`` column of a table the read side loaded, as the API's entries.

    A field that also has a column of its own takes the column's value: that is the one edited.
    """
    return [
        {"Key": key, "Value": field_value(value)}
        for key, value in custom_field_entries(entries, fields)
        if key not in set_by_columns and not blank(value)
    ]


Batch = List[Tuple[Dict[str, Any], Dict[str, Any]]]  # (subscriber, the row it came from)


@dataclass
class Prepared:
    """The rows to send, one per email in the order of each email's last row, and the rows set aside."""

    rows: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # lower-cased email -> its last row
    rejected: List[Rejection] = field(default_factory=list)
    duplicates: List[str] = field(default_factory=list)
    rows_read: int = 0


def prepare(rows: Iterable[Row], fields: CustomFields) -> Prepared:
    """Everything that can stop the run, checked before the first request; and the last row of an email wins.

    Like Campaign Monitor within one import, the last row wins even when it is then rejected: the
    earlier rows are superseded, not sent in its place. Turning rows into subscribers (E.164 above
    all) is left to ``subscriber_batches``, so that it can overlap the imports.
    """
    prepared = Prepared()
    for row in rows:
        prepared.rows_read += 1
        row = dict(row)
        shape = row_shape(fields, tuple(row))
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


def import_body(batch: Batch, settings: UpsertSettings) -> bytes:
    """The import's request body, encoded here so that it can be done off the thread that sends it."""
    return json.dumps({
        "Subscribers": [subscriber for subscriber, _ in batch],
        "Resubscribe": settings.resubscribe,
        "QueueSubscriptionBasedAutoResponders": settings.queue_autoresponders,
        "RestartSubscriptionBasedAutoresponders": settings.restart_autoresponders,
    }, ensure_ascii=False).encode("utf-8")


def send_import(api: CampaignMonitorAPI, list_id: str, batch: Batch, body: bytes) -> Dict[str, Any]:
    """One import call; returns the result object whether all rows or only some were accepted.

    A 400 without ``ResultData`` rejected the whole batch: every row gets that code and message.
    """
    try:
        return api.post(f"subscribers/{list_id}/import.json", body)
    except CampaignMonitorError as exc:
        if exc.status == 400 and isinstance(exc.body, dict) and isinstance(exc.body.get("ResultData"), dict):
            return exc.body["ResultData"]
        if exc.status == 400 and exc.code not in (101,) and exc.code is not None:
            message = error_fields(exc.body)[1] or ""
            return {
                "TotalNewSubscribers": 0,
                "TotalExistingSubscribers": 0,
                "FailureDetails": [
                    {"EmailAddress": s["EmailAddress"], "Code": exc.code, "Message": message} for s, _ in batch
                ],
            }
        raise


class Checkpoint:
    """Results of imports already finished, so a re-run after an interruption does not send them again.

    Batches are recognised by a hash of their exact body: changed input is simply sent.
    """

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.done: Dict[str, Dict[str, Any]] = {}
        if path is not None and path.exists():
            self.done = json.loads(path.read_text(encoding="utf-8"))

    def key(self, list_id: str, body: bytes) -> Optional[str]:
        """None without a checkpoint file: there is nothing to resume, so no body is hashed."""
        if self.path is None:
            return None
        return hashlib.sha256(list_id.encode("utf-8") + b"\n" + body).hexdigest()

    def record(self, key: Optional[str], result: Dict[str, Any]) -> None:
        if key is not None:
            self.done[key] = result
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.done), encoding="utf-8")
            temporary.replace(self.path)  # atomic: a kill mid-write never corrupts the checkpoint

    def clear(self) -> None:
        if self.path is not None and self.path.exists():
            self.path.unlink()


def upsert_subscribers(
    rows: Iterable[Row],
    list_id: str,
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    settings: UpsertSettings = UpsertSettings(),
    rejects_path: Optional[str] = None,
    checkpoint_path: Optional[str] = None,
    dry_run: bool = False,
    api: Optional[CampaignMonitorAPI] = None,
    fields: Optional[CustomFields] = None,
) -> UpsertReport:
    """Upsert ``rows`` into list ``list_id`` in imports of at most 1000 and report on every row.

    The key and base URL default to the read side's ``[sources.campaign_monitor]`` settings.
    Raises ``CampaignMonitorError`` when nothing can be done (bad key, unknown list or column).
    """
    api = api or CampaignMonitorAPI(*credentials(api_key, base_url))
    fields = fields or CustomFields.fetch(api, list_id)
    prepared = prepare(rows, fields)
    report = UpsertReport(list_id, rows_read=prepared.rows_read, duplicates=prepared.duplicates, dry_run=dry_run)
    batches = subscriber_batches(prepared, fields, settings)
    if dry_run:
        report.new = sum(len(batch) for batch in batches)  # unknown until sent: counted as new
    else:
        checkpoint = Checkpoint(Path(checkpoint_path) if checkpoint_path else None)
        # The next import's rows are converted and encoded while this one is in flight.
        for batch, body in one_ahead((batch, import_body(batch, settings)) for batch in batches):
            key = checkpoint.key(list_id, body)
            if key in checkpoint.done:
                result = checkpoint.done[key]
                report.imports_resumed += 1
            else:
                result = send_import(api, list_id, batch, body)
                checkpoint.record(key, result)
                report.imports_sent += 1
            account_for(report, result, batch)
        checkpoint.clear()
    report.rejected[:0] = prepared.rejected  # rows refused here first, then those the API refused
    if rejects_path:
        write_rejects(Path(rejects_path), report.rejected)
    return report


def account_for(report: UpsertReport, result: Mapping[str, Any], batch: Batch) -> None:
    """Add one import's counts and failures to the report, failures matched back to their rows."""
    report.new += int(result.get("TotalNewSubscribers") or 0)
    report.updated += int(result.get("TotalExistingSubscribers") or 0)
    rows_by_email = {subscriber["EmailAddress"].lower(): row for subscriber, row in batch}
    for failure in result.get("FailureDetails") or []:
        email = str(failure.get("EmailAddress", ""))
        row = rows_by_email.get(email.lower(), {"email_address": email})
        report.rejected.append(Rejection(row, int(failure.get("Code") or 0), str(failure.get("Message") or "")))


def credentials(api_key: Optional[str], base_url: Optional[str]) -> Tuple[str, str]:
    """The key and base URL, from the arguments or else the read side's settings: one secret serves both.

    A missing key is refused by ``CampaignMonitorAPI``, with the same message as on the read side.
    """
    key = api_key or dlt.secrets.get("sources.campaign_monitor.api_key") or ""
    url = base_url or dlt.config.get("sources.campaign_monitor.base_url") or BASE_URL
    return str(key), str(url)


def write_rejects(path: Path, rejections: Sequence[Rejection], append: bool = False) -> None:
    """The original rows plus ``code`` and ``message``: CSV for a ``.csv`` path, else JSON Lines.

    ``append`` serves the destination, which sees one batch at a time.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [{**rejection.row, "code": rejection.code, "message": rejection.message} for rejection in rejections]
    if append and not records:
        return
    is_new = not (append and path.exists() and path.stat().st_size)
    with path.open("a" if append else "w", newline="", encoding="utf-8") as out:
        if path.suffix.lower() != ".csv":
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            return
        columns = list(dict.fromkeys(column for record in records for column in record)) or ["email_address", "code", "message"]
        writer = csv.DictWriter(out, fieldnames=columns)
        if is_new:
            writer.writeheader()
        for record in records:
            writer.writerow({k: json.dumps(v, default=str) if isinstance(v, (list, dict)) else v for k, v in record.items()})
