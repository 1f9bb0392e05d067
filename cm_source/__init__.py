"""Campaign Monitor (API v3.3) for dlt: a source that loads every table, a writer that upserts lists,
and a sandbox that speaks the API locally."""

from .errors import CampaignMonitorError
from .read import TABLES, campaign_monitor_source
from .write import UpsertReport, UpsertSettings, campaign_monitor_subscribers, upsert_subscribers

__all__ = [
    "CampaignMonitorError",
    "TABLES",
    "UpsertReport",
    "UpsertSettings",
    "campaign_monitor_source",
    "campaign_monitor_subscribers",
    "upsert_subscribers",
]
