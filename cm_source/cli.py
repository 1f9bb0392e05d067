"""What the pipeline scripts share: turning any failure into one line a person can act on."""

from __future__ import annotations

from typing import Optional

from dlt.common.configuration.exceptions import ConfigFieldMissingException

from .api import API_KEY_SETTING, CampaignMonitorError


def explain_failure(exc: BaseException) -> Optional[str]:
    """The one-line explanation of a failure we understand, or None for a real bug.

    dlt wraps what a resource raises (PipelineStepFailed -> ResourceExtractionError -> ...),
    so the cause is searched down the whole exception chain.
    """
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, CampaignMonitorError):
            return str(current)
        if isinstance(current, ConfigFieldMissingException) and "api_key" in current.fields:
            return (
                f"no Campaign Monitor API key: set {API_KEY_SETTING} or api_key under"
                " [sources.campaign_monitor] in .dlt/secrets.toml (or run with --demo)"
            )
        current = current.__cause__ or current.__context__
    return None
