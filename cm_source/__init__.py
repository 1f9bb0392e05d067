"""Campaign Monitor (API v3.3) for dlt: a source that loads every table, a writer that upserts and mirrors lists,
and a sandbox that speaks the API locally."""

from typing import Any

from .errors import CampaignMonitorError
from .read import TABLES, campaign_monitor_source

# The write side (and phonenumbers with it) is imported when first named: a read does not need it.
_WRITE_NAMES = (
    "ActionReport", "MirrorReport", "UpsertReport", "UpsertSettings", "campaign_monitor_subscribers",
    "delete_subscribers", "mirror_list", "suppress", "unsubscribe_subscribers", "unsuppress", "upsert_subscribers",
)

__all__ = ["CampaignMonitorError", "TABLES", "campaign_monitor_source", *_WRITE_NAMES]


def __getattr__(name: str) -> Any:
    if name in _WRITE_NAMES:
        from . import write

        return getattr(write, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
