"""OAuth 2 for Campaign Monitor: a Bearer token that refreshes itself when it expires, and a refresh token
that is never lost and never spent twice, however many threads and processes share one grant.

Every refresh answers with a new refresh token that replaces the old one; a connector that throws it
away (as the Singer tap does) stops working once the configured token has been used. So every pair
received is written at once to the token file (owner-only, replaced whole), and a run reads that file
in preference to the configured tokens.

Processes that share a grant (Dagster partitions, one per client, on one integration's tokens) share the
token file too. A refresh is made under a lock on that file that holds across processes, and a process
whose token is refused first looks in the file: when another process has refreshed already, it takes
that pair instead of spending its own refresh token, which the other process's refresh has made void.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import requests
from filelock import Timeout

from ..api_facts import ACCESS_TOKEN_SETTING, REFRESH_TOKEN_SETTING
from ..errors import AccessRefused
from ..process_locks import held

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_FILE = Path(".campaign_monitor") / "tokens.json"
REFRESH_TIMEOUT_SECONDS = 60.0
# A refresh holds the token file's lock for one request to the token endpoint; five minutes is that
# request's timeout many times over, so only a process hung while holding the lock is waited out.
TOKEN_FILE_LOCK_SECONDS = 300.0
HOW_TO_GET_TOKENS = (
    f"get new tokens (docs/authentication.md) and set {ACCESS_TOKEN_SETTING} and {REFRESH_TOKEN_SETTING},"
    " then delete the token file {token_file}"
)
SPENT_ELSEWHERE = (
    "; if processes on other machines share this grant, their refreshes void each other's tokens: give them"
    " one token file on a shared disk (token_file), or run them on one machine (docs/authentication.md)"
)


def token_url(base_url: str) -> str:
    """``/oauth/token`` on the API's host: ``https://api.createsend.com/oauth/token`` for the real API."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/oauth/token"


class OAuthTokens(requests.auth.AuthBase):
    """The current access and refresh tokens, shared by every thread of a run; requests carry the
    access token as ``Authorization: Bearer``."""

    def __init__(
        self, access_token: str, refresh_token: str, base_url: str, token_file: Path | None = DEFAULT_TOKEN_FILE
    ) -> None:
        self.token_file = Path(token_file) if token_file else None
        self.access_token, self.refresh_token = self._saved() or (access_token, refresh_token)
        self.url = token_url(base_url)
        self.refreshes = 0  # pairs this process bought from the token endpoint
        self._used: set[str] = set()  # access tokens that answered a request of this process
        self._lock = threading.Lock()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request

    def __repr__(self) -> str:  # never the tokens themselves
        return f"OAuthTokens(token_file={str(self.token_file)!r}, refreshes={self.refreshes})"

    def answered(self, token: str) -> None:
        """Note that ``token`` was accepted by the API (any answer but a 401)."""
        self._used.add(token)

    def was_used(self, token: str) -> bool:
        """Whether ``token`` answered a request of this process before it expired: then it expired in use,
        and renewing it is the grant working, not a grant whose new tokens are refused from the start."""
        return token in self._used

    def renew(self, refused: str, session: requests.Session) -> None:
        """Replace the access token ``refused`` (the one an expired answer was sent with) by a valid one.

        Nothing is done when another thread already replaced it; a newer pair in the token file, saved
        by another process, is taken as it is; only then is the refresh token spent, by one process at a
        time, and the new pair saved before the lock is let go.
        """
        with self._lock:
            if self.access_token != refused:
                return
            with self._file_lock():
                saved = self._saved()
                if saved is not None and saved[0] != refused:
                    self.access_token, self.refresh_token = saved
                    return
                self.access_token, self.refresh_token = self._refreshed(session)
                self.refreshes += 1
                self._save()

    def _refreshed(self, session: requests.Session) -> tuple[str, str]:
        """A new pair for the refresh token, from the token endpoint."""
        response = session.post(
            self.url,
            data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
            timeout=REFRESH_TIMEOUT_SECONDS,
            auth=None,
        )
        body = _json(response)
        if response.status_code != 200 or not body.get("access_token") or not body.get("refresh_token"):
            error = body.get("error") or f"HTTP {response.status_code}"
            raise AccessRefused(
                f"Campaign Monitor refused to refresh the OAuth token ({error}): "
                + HOW_TO_GET_TOKENS.format(token_file=self.token_file)
                + (SPENT_ELSEWHERE if error == "invalid_grant" else ""),
                status=response.status_code,
            )
        return str(body["access_token"]), str(body["refresh_token"])

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """The lock every process sharing the token file takes to refresh (none without a file)."""
        if self.token_file is None:
            yield
            return
        waiting = f"waiting for another process refreshing the tokens in {self.token_file}"
        try:
            with held(Path(f"{self.token_file}.lock"), waiting, logger.debug, TOKEN_FILE_LOCK_SECONDS):
                yield
        except Timeout:
            raise AccessRefused(
                f"another process has held the lock of the token file {self.token_file} for"
                f" {TOKEN_FILE_LOCK_SECONDS:.0f} s without finishing its refresh: stop that process, then run again"
            ) from None

    def _saved(self) -> tuple[str, str] | None:
        if self.token_file is None or not self.token_file.exists():
            return None
        try:
            saved = json.loads(self.token_file.read_text(encoding="utf-8"))
            return str(saved["access_token"]), str(saved["refresh_token"])
        except (ValueError, KeyError, TypeError, OSError):
            return None  # unreadable: the configured tokens are tried instead

    def _save(self) -> None:
        """Write the pair owner-only, replacing the file whole: a kill mid-write never loses the only
        valid token, and a process reading the file sees the old pair or the new one, never half."""
        if self.token_file is None:
            return
        descriptor, temporary = tempfile.mkstemp(prefix=".tokens-", dir=self.token_file.parent)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:  # mkstemp creates it owner-only
            json.dump({"access_token": self.access_token, "refresh_token": self.refresh_token}, out)
            out.flush()
            os.fsync(out.fileno())
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
