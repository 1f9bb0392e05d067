"""Upsert rows into a Campaign Monitor list with bulk imports, accounting for every row.

Rows go out in imports of at most the API's limit; a 400 with Code 210 is a partial success whose
``FailureDetails`` become rejections.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..account_access import api_from_settings
from ..api_facts import IMPORT_LIMIT
from ..concurrency import one_ahead
from ..errors import RequestRefused
from ..http import CampaignMonitorAPI
from ..http.answers import error_fields
from .checkpoint import Checkpoint
from .custom_fields import CustomFields
from .rejects import Rejection, write_rejects
from .rows import Row, RowError, blank, custom_field_entries, field_value, row_shape, to_subscriber
from .settings import UpsertSettings


@dataclass
class UpsertReport:
    """What happened to every input row: new + updated + rejected + superseded duplicates = rows read."""

    list_id: str
    rows_read: int = 0
    new: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # emails whose earlier rows a later one replaced
    imports_sent: int = 0
    imports_resumed: int = 0  # finished by an earlier, interrupted run and not sent again
    dry_run: bool = False
    email_column: str = "email_address"  # the input column taken as the address

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
            + (f"; the address from column {self.email_column!r}" if self.email_column != "email_address" else "")
        )


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


def import_body(batch: Batch, settings: UpsertSettings) -> bytes:
    """The import's request body, encoded here so that it can be done off the thread that sends it."""
    return json.dumps(
        {
            "Subscribers": [subscriber for subscriber, _ in batch],
            "Resubscribe": settings.resubscribe,
            "QueueSubscriptionBasedAutoResponders": settings.queue_autoresponders,
            "RestartSubscriptionBasedAutoresponders": settings.restart_autoresponders,
        },
        ensure_ascii=False,
    ).encode("utf-8")


def send_import(api: CampaignMonitorAPI, list_id: str, batch: Batch, body: bytes) -> dict[str, Any]:
    """One import call; returns the result object whether all rows or only some were accepted.

    A 400 without ``ResultData`` rejected the whole batch: every row gets that code and message.
    """
    try:
        return api.post(f"subscribers/{list_id}/import.json", body)
    except RequestRefused as exc:  # NotFound (an unknown list) and AccessRefused stop the run instead
        if exc.status != 400:
            raise
        result = exc.body.get("ResultData") if isinstance(exc.body, dict) else None
        if isinstance(result, dict):
            return result  # Code 210: the good rows were imported
        if exc.code is None:
            raise
        return {
            "TotalNewSubscribers": 0,
            "TotalExistingSubscribers": 0,
            "FailureDetails": [
                {"EmailAddress": s["EmailAddress"], "Code": exc.code, "Message": error_fields(exc.body)[1] or ""}
                for s, _ in batch
            ],
        }


def upsert_subscribers(
    rows: Iterable[Row],
    list_id: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    settings: UpsertSettings = UpsertSettings(),
    rejects_path: str | None = None,
    checkpoint_path: str | None = None,
    dry_run: bool = False,
    api: CampaignMonitorAPI | None = None,
    fields: CustomFields | None = None,
    progress: Callable[[Any], None] | None = None,
    column_map: Mapping[str, str] | None = None,
) -> UpsertReport:
    """Upsert ``rows`` into list ``list_id`` in imports of at most the API's limit and report on every row.

    The key and base URL default to the read side's ``[sources.campaign_monitor]`` settings.
    ``progress`` is handed the report (so far) after each import; ``column_map`` renames input columns
    (``{"E-mail": "email_address"}``). Raises ``CampaignMonitorError``
    when nothing can be done (bad key, unknown list or column).
    """
    api = api or api_from_settings(api_key, base_url)
    fields = fields or CustomFields.fetch(api, list_id)
    prepared = prepare(rows, fields, column_map)
    with Checkpoint(Path(checkpoint_path) if checkpoint_path else None) as checkpoint:
        report = upsert_prepared(api, list_id, prepared, fields, settings, checkpoint, dry_run, progress)
        if not dry_run:
            checkpoint.clear()
        if rejects_path:
            write_rejects(Path(rejects_path), report.rejected)
    return report


def upsert_prepared(
    api: CampaignMonitorAPI,
    list_id: str,
    prepared: Prepared,
    fields: CustomFields,
    settings: UpsertSettings,
    checkpoint: Checkpoint,
    dry_run: bool = False,
    progress: Callable[[Any], None] | None = None,
) -> UpsertReport:
    """The imports of rows already prepared (``prepare``), each recorded in ``checkpoint`` once it is done.

    In a dry run the rows are converted (so every row a real run would refuse here is refused) and
    nothing is sent; they are counted as new, since only the API can tell new from existing.
    """
    report = UpsertReport(
        list_id,
        rows_read=prepared.rows_read,
        duplicates=prepared.duplicates,
        dry_run=dry_run,
        email_column=prepared.email_column,
    )
    batches = subscriber_batches(prepared, fields, settings)
    if dry_run:
        report.new = sum(len(batch) for batch in batches)
    else:
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
            if progress is not None:
                progress(report)
    report.rejected[:0] = prepared.rejected  # rows refused here first, then those the API refused
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
