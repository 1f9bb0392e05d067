"""What can go wrong when talking to Campaign Monitor, as exceptions whose ``str()`` is one actionable line.

Callers catch the kind they can handle (``AccessRefused``, ``NotFound``, ``RequestRefused``,
``Unavailable``) instead of testing status codes; input the caller must change is ``InputError``;
everything else is ``CampaignMonitorError``, the one root.
"""

from __future__ import annotations

from typing import Any

from .api_facts import API_KEY_SETTING

MISSING_KEY = (
    f"no Campaign Monitor API key: set {API_KEY_SETTING} or api_key under"
    " [sources.campaign_monitor] in .dlt/secrets.toml (or, acting for another account,"
    " access_token and refresh_token: docs/authentication.md)"
)


class CampaignMonitorError(Exception):
    """A request Campaign Monitor refused or could not answer, or a setting that stops the run."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        path: str = "",
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.path = path
        self.body = body


class InputError(CampaignMonitorError):
    """Input or settings the caller gave that cannot be used (a row, a column, a name, a limit); nothing
    was sent. Its message names the setting to change as the library calls it (``max_removals=``); the
    command says the same in flags (``--max-removals``)."""


class AccessRefused(CampaignMonitorError):
    """401: the key is wrong, or it cannot see the client or list asked for (the API answers both alike)."""


class NotFound(CampaignMonitorError):
    """404, or an ID the API does not know (400 Code 101, "Invalid ListID")."""


class RequestRefused(CampaignMonitorError):
    """Any other 4xx: the request itself was refused; ``body`` holds the API's answer (a bulk import's
    ``ResultData`` among it)."""


class Unavailable(CampaignMonitorError):
    """Every attempt failed: 5xx, 429, a dropped connection or an answer that was not JSON."""
