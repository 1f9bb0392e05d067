"""Which credentials a run uses, from its arguments or the ``[sources.campaign_monitor]`` settings: an API
key (your own account) or OAuth tokens (an account you act for); the key wins when both are set."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dlt

from .api_facts import BASE_URL
from .http import CampaignMonitorAPI
from .http.oauth import DEFAULT_TOKEN_FILE, OAuthTokens

logger = logging.getLogger(__name__)
SECTION = "sources.campaign_monitor"


def _setting(name: str, given: str | None) -> str | None:
    if given:
        return given
    settings = dlt.config if name in ("base_url", "token_file") else dlt.secrets
    value: Any = settings.get(f"{SECTION}.{name}")
    return str(value) if value else None


def api_from_settings(
    api_key: str | None = None,
    base_url: str | None = None,
    access_token: str | None = None,
    refresh_token: str | None = None,
    token_file: str | None = None,
    **client_settings: Any,
) -> CampaignMonitorAPI:
    """The client for these credentials, each defaulting to its setting; ``client_settings`` (retry,
    concurrency) go to ``CampaignMonitorAPI``. Without a key or tokens it refuses, naming the settings."""
    key, url = _setting("api_key", api_key), _setting("base_url", base_url) or BASE_URL
    access, refresh = _setting("access_token", access_token), _setting("refresh_token", refresh_token)
    oauth = None
    if access or refresh:
        if key:
            logger.warning("both an API key and OAuth tokens are configured: using the API key")
        else:
            oauth = OAuthTokens(
                access or "", refresh or "", url, Path(token_file or _setting("token_file", None) or DEFAULT_TOKEN_FILE)
            )
    return CampaignMonitorAPI(key or "", url, oauth=oauth, **client_settings)
