"""HTTP to Campaign Monitor: the client (``client``), when to retry (``retry``), the shared rate limit
(``rate_limit``), paged envelopes (``paging``) and what an answer means (``answers``)."""

from .client import DEFAULT_MAX_CONCURRENT_REQUESTS, CampaignMonitorAPI
from .retry import RetryPolicy

__all__ = ["CampaignMonitorAPI", "DEFAULT_MAX_CONCURRENT_REQUESTS", "RetryPolicy"]
