"""``campaign_monitor_subscribers``: a Campaign Monitor list as a dlt destination, upserting whatever it is given."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import dlt
from dlt.common.schema import TTableSchema
from dlt.common.typing import TDataItems

from ..account_access import api_from_settings
from ..api_facts import IMPORT_LIMIT
from ..http import CampaignMonitorAPI
from .custom_fields import CustomFields
from .rejects import write_rejects
from .settings import UpsertSettings
from .upsert import upsert_subscribers

logger = logging.getLogger(__name__)
FIELDS_TTL_SECONDS = 600
# dlt calls the destination once per batch; the list's fields are fetched once per list and run,
# not once per batch (a process that loads again later than the TTL sees fields added since).
_fields_cache: dict[tuple[str, str], tuple[float, CustomFields]] = {}


def _list_fields(api: CampaignMonitorAPI, list_id: str) -> CustomFields:
    cached = _fields_cache.get((api.base_url, list_id))
    if cached is None or time.monotonic() - cached[0] > FIELDS_TTL_SECONDS:
        cached = (time.monotonic(), CustomFields.fetch(api, list_id))
        _fields_cache[(api.base_url, list_id)] = cached
    return cached[1]


def forget_list_fields() -> None:
    """Fetch every list's custom fields again on the next batch (after fields were added to a list)."""
    _fields_cache.clear()


@dlt.destination(
    name="campaign_monitor_subscribers",
    batch_size=IMPORT_LIMIT,  # one dlt batch is one import call
    loader_file_format="typed-jsonl",
    naming_convention="direct",  # keep column names as given: they name custom fields
    max_table_nesting=0,  # a list value is a multi-select field, not a child table
    skip_dlt_columns_and_tables=True,
)
def campaign_monitor_subscribers(
    items: TDataItems,
    table: TTableSchema,
    list_id: str = dlt.config.value,
    api_key: str | None = None,
    base_url: str | None = None,
    resubscribe: bool = False,
    consent_to_track_default: str = "Unchanged",
    default_region: str | None = None,
    rejects_path: str = "campaign_monitor_rejects.jsonl",
    column_map: dict[str, str] | None = None,
) -> None:
    """Upsert each batch of rows into ``list_id``; rejected rows are appended to ``rejects_path``.

    The key and base URL default to ``[sources.campaign_monitor]``, the read side's settings.
    dlt remembers which batches finished, so a failed load resumes where it stopped.
    """
    api = api_from_settings(api_key, base_url)
    settings = UpsertSettings(
        resubscribe=resubscribe, consent_to_track_default=consent_to_track_default, default_region=default_region
    )
    report = upsert_subscribers(
        items, list_id, api=api, fields=_list_fields(api, list_id), settings=settings, column_map=column_map
    )
    write_rejects(Path(rejects_path), report.rejected, append=True)
    if report.rejected:
        logger.warning("%s; rejected rows appended to %s", report.summary(), rejects_path)
    else:
        logger.info(report.summary())
