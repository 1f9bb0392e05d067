"""Campaign Monitor (API v3.3) for dlt: a source that loads every table, a writer that upserts and mirrors
lists, and a sandbox that speaks the API locally."""

from importlib import import_module
from typing import Any

from .errors import CampaignMonitorError

# Both sides are imported when first named: a read does not need the write side (phonenumbers), and the
# command line sets Arrow's memory pool before anything imports pyarrow (see cm_source.commands).
_LAZY = {
    "TABLES": "read",
    "campaign_monitor_source": "read",
    "plan_sync": "read.plan",
    "run_in_pieces": "read.run_in_pieces",
    **dict.fromkeys(
        (
            "ActionReport",
            "MirrorReport",
            "UpsertReport",
            "UpsertSettings",
            "campaign_monitor_subscribers",
            "delete_subscribers",
            "mirror_list",
            "suppress",
            "unsubscribe_subscribers",
            "unsuppress",
            "upsert_subscribers",
        ),
        "write",
    ),
}

__all__ = ["CampaignMonitorError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
