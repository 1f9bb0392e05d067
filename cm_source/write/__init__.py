"""The write side: rows into a Campaign Monitor list.

An input row becomes the API's subscriber (``rows``, with the list's ``custom_fields``), rows go out
in bulk imports (``imports``, resumable through ``checkpoint``), and every row not written is kept
with its reason (``rejects``). ``list_destination`` offers the same as a dlt destination.
"""

from .imports import UpsertReport, upsert_subscribers
from .list_destination import campaign_monitor_subscribers
from .rejects import Rejection
from .settings import UpsertSettings

__all__ = ["Rejection", "UpsertReport", "UpsertSettings", "campaign_monitor_subscribers", "upsert_subscribers"]
