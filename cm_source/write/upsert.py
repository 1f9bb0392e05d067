"""``upsert_subscribers``: rows into a list, the stages in one direction.

Rows are shaped (``rows``: checked, last row per address, subscriber objects in batches), sent
(``imports``: one import per batch, resumable through ``checkpoint``), accounted for (``accounting``:
every row new, updated, rejected or superseded), and the rejected rows kept (``rejects``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..account_access import api_from_settings
from ..http import CampaignMonitorAPI
from .accounting import UpsertReport, account_for
from .checkpoint import Checkpoint
from .custom_fields import CustomFields
from .imports import imports_done
from .rejects import write_rejects
from .rows import Prepared, Row, prepare, subscriber_batches
from .settings import UpsertSettings


def upsert_subscribers(
    rows: Iterable[Row],
    list_id: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    settings: UpsertSettings | None = None,
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
    settings = settings or UpsertSettings()
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
        for done in imports_done(api, list_id, batches, settings, checkpoint):
            account_for(report, done)
            if progress is not None:
                progress(report)
    report.rejected[:0] = prepared.rejected  # rows refused here first, then those the API refused
    return report
