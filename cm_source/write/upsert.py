"""``upsert_subscribers``: rows into a list, the stages in one direction.

Rows are shaped (``rows``: checked, last row per address, subscriber objects in batches), sent
(``imports``: one import per batch, resumable through ``checkpoint``), accounted for (``accounting``:
every row new, updated, rejected or superseded), and the rejected rows kept (``rejects``).
"""

from __future__ import annotations

from collections.abc import Iterable

from typing_extensions import Unpack

from .accounting import UpsertReport, account_for
from .checkpoint import Checkpoint
from .custom_fields import CustomFields
from .imports import imports_done
from .rejects import write_rejects
from .rows import Prepared, Row, prepare, subscriber_batches
from .settings import WriteCall, WriteOptions


def upsert_subscribers(
    rows: Iterable[Row], list_id: str, *, fields: CustomFields | None = None, **options: Unpack[WriteOptions]
) -> UpsertReport:
    """Upsert ``rows`` into list ``list_id`` in imports of at most the API's limit and report on every row.

    ``options`` are the write functions' own (``settings.WriteOptions``: the key or a client, the
    settings, ``column_map``, ``rejects_path``, ``checkpoint_path``, ``dry_run``, ``progress``);
    ``fields``, the list's custom fields where the caller has them already. Raises
    ``CampaignMonitorError`` when nothing can be done (bad key, unknown list or column).
    """
    call = WriteCall.of(options)
    fields = fields or CustomFields.fetch(call.api, list_id)
    prepared = prepare(rows, fields, call.column_map)
    with Checkpoint(call.checkpoint_path) as checkpoint:
        report = upsert_prepared(call, list_id, prepared, fields, checkpoint)
        if not call.dry_run:
            checkpoint.clear()
        if call.rejects_path:
            write_rejects(call.rejects_path, report.rejected)
    return report


def upsert_prepared(
    call: WriteCall, list_id: str, prepared: Prepared, fields: CustomFields, checkpoint: Checkpoint
) -> UpsertReport:
    """The imports of rows already prepared (``prepare``), each recorded in ``checkpoint`` once it is done.

    In a dry run the rows are converted (so every row a real run would refuse here is refused) and
    nothing is sent; they are counted as new, since only the API can tell new from existing.
    """
    report = UpsertReport(
        list_id,
        rows_read=prepared.rows_read,
        duplicates=prepared.duplicates,
        dry_run=call.dry_run,
        email_column=prepared.email_column,
    )
    batches = subscriber_batches(prepared, fields, call.settings)
    if call.dry_run:
        report.new = sum(len(batch) for batch in batches)
    else:
        for done in imports_done(call.api, list_id, batches, call.settings, checkpoint):
            account_for(report, done)
            if call.progress is not None:
                call.progress(report)
    report.rejected[:0] = prepared.rejected  # rows refused here first, then those the API refused
    return report
