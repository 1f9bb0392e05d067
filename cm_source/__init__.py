"""Campaign Monitor (API v3.3) for dlt: a source that loads every table, and its sandbox."""

from .api import CampaignMonitorError
from .endpoints import TABLES
from .source import campaign_monitor_source

__all__ = ["campaign_monitor_source", "CampaignMonitorError", "TABLES"]
