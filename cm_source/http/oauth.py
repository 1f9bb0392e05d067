"""OAuth 2 for Campaign Monitor: a Bearer token that refreshes itself once when it expires, and a refresh
token that is never lost.

Every refresh answers with a new refresh token that replaces the old one; a connector that throws it
away (as the Singer tap does) stops working once the configured token has been used. So every pair
received is written at once to the token file (owner-only), and a run reads that file in preference to
the configured tokens.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Optional, Tuple
from urllib.parse import urlsplit

import requests

from ..api_facts import ACCESS_TOKEN_SETTING, REFRESH_TOKEN_SETTING
from ..errors import AccessRefused
from ..private_files import open_private

DEFAULT_TOKEN_FILE = Path(".campaign_monitor") / "tokens.json"
REFRESH_TIMEOUT_SECONDS = 60.0
HOW_TO_GET_TOKENS = (
    f"get new tokens (docs/authentication.md) and set {ACCESS_TOKEN_SETTING} and {REFRESH_TOKEN_SETTING},"
    " then delete the token file {token_file}"
)


def token_url(base_url: str) -> str:
    """``/oauth/token`` on the API's host: ``https://api.createsend.com/oauth/token`` for the real API."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/oauth/token"


class OAuthTokens(requests.auth.AuthBase):
    """The current access and refresh tokens, shared by every thread of a run; requests carry the
    access token as ``Authorization: Bearer``."""

    def __init__(self, access_token: str, refresh_token: str, base_url: str,
                 token_file: Optional[Path] = DEFAULT_TOKEN_FILE) -> None:
        self.token_file = Path(token_file) if token_file else None
        self.access_token, self.refresh_token = self._saved() or (access_token, refresh_token)
        self.url = token_url(base_url)
        self.generation = 0  # bumped by each refresh, so a thread can tell whether one already happened
        self._lock = threading.Lock()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request

    def __repr__(self) -> str:  # never the tokens themselves
        return f"OAuthTokens(token_file={str(self.token_file)!r}, generation={self.generation})"

    def refresh(self, seen_generation: int, session: requests.Session) -> None:
        """Trade the refresh token for a new pair, unless another thread already did since this one sent
        its request with generation ``seen_generation``: the others wait on the lock, then retry."""
        with self._lock:
            if self.generation != seen_generation:
                return
            response = session.post(self.url, data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
                                    timeout=REFRESH_TIMEOUT_SECONDS, auth=None)
            body = _json(response)
            if response.status_code != 200 or not body.get("access_token") or not body.get("refresh_token"):
                error = body.get("error") or f"HTTP {response.status_code}"
                raise AccessRefused(
                    f"Campaign Monitor refused to refresh the OAuth token ({error}): "
                    + HOW_TO_GET_TOKENS.format(token_file=self.token_file),
                    status=response.status_code,
                )
            self.access_token, self.refresh_token = str(body["access_token"]), str(body["refresh_token"])
            self.generation += 1
            self._save()

    def _saved(self) -> Optional[Tuple[str, str]]:
        if self.token_file is None or not self.token_file.exists():
            return None
        try:
            saved = json.loads(self.token_file.read_text(encoding="utf-8"))
            return str(saved["access_token"]), str(saved["refresh_token"])
        except (ValueError, KeyError, TypeError, OSError):
            return None  # unreadable: the configured tokens are tried instead

    def _save(self) -> None:
        """Write the pair owner-only, atomically (a kill mid-write never loses the only valid token)."""
        if self.token_file is None:
            return
        temporary = self.token_file.with_suffix(".tmp")
        with open_private(temporary) as out:
            json.dump({"access_token": self.access_token, "refresh_token": self.refresh_token}, out)
        os.replace(temporary, self.token_file)
        ignore = self.token_file.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")  # git-ignored wherever it is created


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
