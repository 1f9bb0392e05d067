"""OAuth 2 in the sandbox: Bearer access tokens that act for the whole account, expired or revoked on
demand, and the token endpoint (``POST /oauth/token`` on the host), which hands out a new refresh token
with every refresh and forgets the old one, as Campaign Monitor does."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from .messages import ApiError

EXPIRES_IN = 1209600  # as in refresh_oauth_token.json: two weeks
TOKEN_PATH = "/oauth/token"


@dataclass
class OAuthGrants:
    """The tokens the sandbox has handed out. Access tokens are "valid", "expired" or "revoked"."""

    access: dict[str, str] = field(default_factory=dict)
    refresh: set[str] = field(default_factory=set)
    refreshes: int = 0  # refreshes answered with a new pair
    expires_after: int | None = None  # valid Bearer requests still to answer before expire(); None: never
    lifetime: int | None = None  # Bearer requests each access token answers before it expires; None: no limit
    uses: dict[str, int] = field(default_factory=dict)  # requests answered per access token, under a lifetime
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def grant(self) -> dict:
        """A new pair, as the token endpoint answers (what a user's first authorisation gives them)."""
        with self._lock:
            return self._new_pair()

    def _new_pair(self) -> dict:
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.access[access] = "valid"
        self.refresh.add(refresh)
        return {"access_token": access, "expires_in": EXPIRES_IN, "refresh_token": refresh}

    def expire(self) -> None:
        """Every valid access token expires now: the next request with one answers 401 Code 121."""
        with self._lock:
            self.access = {token: "expired" if state == "valid" else state for token, state in self.access.items()}

    def revoke(self) -> None:
        """The account's user revoked access: every token, access and refresh, stops working (Code 122)."""
        with self._lock:
            self.access = dict.fromkeys(self.access, "revoked")
            self.refresh.clear()

    def expire_after(self, requests: int) -> None:
        """Answer ``requests`` more Bearer requests, then expire every valid token (mid-read, say)."""
        with self._lock:
            self.expires_after = requests

    def expire_every(self, requests: int | None) -> None:
        """Each access token answers ``requests`` Bearer requests, then expires (None: no limit): refreshes
        come every few requests, as when many processes share a grant whose tokens are short-lived."""
        with self._lock:
            self.lifetime = requests
            self.uses.clear()

    def check(self, token: str) -> None:
        """Answer as the API does for a Bearer token that is not valid: 121 expired, 122 revoked, 120 unknown."""
        with self._lock:
            if self.expires_after is not None and self.access.get(token) == "valid":
                if self.expires_after == 0:
                    self.expires_after = None
                    self.access = {t: "expired" if state == "valid" else state for t, state in self.access.items()}
                else:
                    self.expires_after -= 1
            if self.lifetime is not None and self.access.get(token) == "valid":
                self.uses[token] = self.uses.get(token, 0) + 1
                if self.uses[token] > self.lifetime:
                    self.access[token] = "expired"
            state = self.access.get(token)
        if state == "valid":
            return
        if state == "expired":
            raise ApiError(401, 121, "Expired OAuth Token")
        if state == "revoked":
            raise ApiError(401, 122, "Revoked OAuth Token")
        raise ApiError(401, 120, "Invalid OAuth Token")

    def refreshed(self, form: dict[str, str]) -> tuple[int, dict]:
        """The token endpoint: a known refresh token buys a new pair and is forgotten; anything else is
        400 ``invalid_grant`` (shaped as oauth_exchange_token_error.json)."""
        with self._lock:
            token = form.get("refresh_token", "")
            if form.get("grant_type") != "refresh_token" or token not in self.refresh:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Specified refresh token was invalid or expired",
                }
            self.refresh.discard(token)
            self.refreshes += 1
            return 200, self._new_pair()
