"""One authenticated connection to a Campaign Monitor account: the session, auth and the one retry loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth
from dlt.sources.helpers.rest_client.typing import HTTPMethod

from ..api_facts import BASE_URL, BASE_URL_SETTING, EXPIRED_TOKEN
from ..errors import MISSING_KEY, CampaignMonitorError
from .answers import NOT_JSON, check_response, describe_answer, error_fields, give_up, json_body, page_body, write_body
from .oauth import OAuthTokens
from .page import Page
from .paging import every_row_once
from .rate_limit import RequestPacer
from .retry import RETRY_EXCEPTIONS, RETRY_STATUSES, RetryPolicy
from .session import new_session

# Requests in flight at once. Campaign Monitor publishes no concurrency limit; a handful hides
# latency without provoking its rate limiter, and every 429 is still honoured.
DEFAULT_MAX_CONCURRENT_REQUESTS = 6
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# Times one request may renew a token that expired before it answered any request of this process: a
# grant whose new tokens are refused from the start fails here. A token that answered requests first
# expired in use, and renewing it costs nothing from this budget, however often threads and processes
# sharing the grant use the new pair up before this request is sent again.
MAX_UNUSED_TOKEN_RENEWALS = 5

logger = logging.getLogger(__name__)


def bearer_token_of(response: requests.Response) -> str:
    """The access token a request was sent with: the one its expired answer refuses."""
    header = str(response.request.headers.get("Authorization", "")) if response.request is not None else ""
    return header.removeprefix("Bearer ")


def check_base_url(base_url: str) -> str:
    """Refuse to send the key in clear text: plain http only for loopback (the sandbox)."""
    parsed = urlparse(base_url)
    host = (parsed.hostname or "").lower()
    if parsed.scheme == "https" and host:
        return base_url.rstrip("/")
    if parsed.scheme == "http" and (host in LOOPBACK_HOSTS or host.startswith("127.")):
        return base_url.rstrip("/")
    raise CampaignMonitorError(
        f"base URL {base_url!r} is not an https URL: the API key would travel in clear text;"
        f" set {BASE_URL_SETTING} to https://… (plain http is allowed only on loopback, for the sandbox)"
    )


class CampaignMonitorAPI:
    """One authenticated connection to one Campaign Monitor account (or sandbox)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = BASE_URL,
        retry: RetryPolicy = RetryPolicy(),
        session: requests.Session | None = None,
        max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
        oauth: OAuthTokens | None = None,
    ) -> None:
        if not api_key and oauth is None:
            raise CampaignMonitorError(MISSING_KEY)
        self.oauth = None if api_key else oauth  # the API key wins when both are configured
        if max_concurrent_requests < 1:
            raise CampaignMonitorError(f"max_concurrent_requests must be 1 or more, not {max_concurrent_requests}")
        self.base_url = check_base_url(base_url)
        self.retry = retry
        self.max_concurrent_requests = max_concurrent_requests
        # Admits every request of every reader thread: a slot in flight, within the announced budget.
        self._pacer = RequestPacer(max_concurrent_requests, retry.sleep)
        # Told of every answer: its status and the seconds this request waited at the rate gate (progress).
        self.observer: Callable[[int, float], None] | None = None
        self._account_now: datetime | None = None
        self._system_date_asked = False
        self._system_date_lock = threading.Lock()
        if session is None:
            session = new_session(max_concurrent_requests)
        self._rest = RESTClient(
            base_url=self.base_url,
            auth=HttpBasicAuth(username=api_key, password="x") if api_key else self.oauth,
            session=session,
        )

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET one resource and return its decoded JSON, or raise a ``CampaignMonitorError``."""
        return self._send("GET", path, params=dict(params or {}))

    def post(self, path: str, body: Any) -> Any:
        """POST a JSON body, or one already encoded as bytes; retried like reads, which is safe only
        because writes are upserts."""
        if isinstance(body, bytes):
            return self._send("POST", path, write_body, data=body, headers={"Content-Type": "application/json"})
        return self._send("POST", path, write_body, json=body)

    def delete(self, path: str, params: Mapping[str, Any]) -> Any:
        """DELETE with query parameters (``email=``); retried like reads, safe because a removal repeated
        leaves the same state."""
        return self._send("DELETE", path, write_body, params=dict(params))

    def put(self, path: str, params: Mapping[str, Any]) -> Any:
        """PUT with query parameters and no body (``unsuppress.json?email=``); retried like a DELETE."""
        return self._send("PUT", path, write_body, params=dict(params))

    def get_page(self, schema: pa.Schema, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET one page of a large table, decoded by Arrow as ``schema`` declares where it can (see ``arrow_pages``)."""
        return self._send("GET", path, decode=partial(page_body, schema=schema), params=dict(params or {}))

    def _send(
        self, method: HTTPMethod, path: str, decode: Callable[[requests.Response], Any] = json_body, **kwargs: Any
    ) -> Any:
        """One request, retried on 429, 5xx, dropped connections, timeouts and cut-short bodies.

        The pacer admits it (see ``rate_limit``) and learns from its answer before the slot is given
        back: a thread that queued for a slot never sends past a hold it could not yet see.
        """
        unused_renewals = 0
        attempt = 0
        while attempt < self.retry.max_attempts:
            attempt += 1
            response: requests.Response | None = None
            try:
                ticket = self._pacer.admit()
                try:
                    response = self._rest.request(path, method=method, timeout=self.retry.timeout_seconds, **kwargs)
                    body = decode(response)
                finally:
                    self._pacer.answered(ticket, response, self._hold_after(response, attempt))
                    if response is not None and self.observer is not None:
                        self.observer(response.status_code, ticket.waited_s)
            except RETRY_EXCEPTIONS as exc:
                problem = f"could not reach {self.base_url} ({type(exc).__name__})"
            else:
                if self.oauth is not None:
                    token = bearer_token_of(response)
                    if response.status_code != 401:
                        self.oauth.answered(token)
                    elif self._expired_token(response, body):
                        unused = not self.oauth.was_used(token)
                        if not unused or unused_renewals < MAX_UNUSED_TOKEN_RENEWALS:
                            unused_renewals += unused
                            self.oauth.renew(token, self._rest.session)
                            attempt -= 1  # the request again, with the new token
                            continue
                if response.status_code not in RETRY_STATUSES and not (response.ok and body is NOT_JSON):
                    return check_response(response, body, method, path)
                problem = describe_answer(response, body)
            if attempt == self.retry.max_attempts:
                raise give_up(method, path, problem, attempt, response)
            logger.warning("%s %s: %s; retrying (%d of %d)", method, path, problem, attempt, self.retry.max_attempts)
            if response is None or response.status_code != 429:  # a 429 already holds every reader
                self.retry.sleep(self.retry.wait_after(response, attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    @property
    def rate_gate(self) -> RequestPacer:
        """The pacer every request of this client is admitted by: what the API's rate window holds."""
        return self._pacer

    def _expired_token(self, response: requests.Response, body: Any) -> bool:
        """A 401 Code 121 to an OAuth request: renew the token (whichever thread or process gets there
        first refreshes it) and resend."""
        return response.status_code == 401 and error_fields(body)[0] == EXPIRED_TOKEN

    def _hold_after(self, response: requests.Response | None, attempt: int) -> float | None:
        """How long every reader holds off after a 429 that will be tried again: its reset, or a backoff."""
        if response is None or response.status_code != 429 or attempt >= self.retry.max_attempts:
            return None
        return self.retry.wait_after(response, attempt)

    def get_array(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """GET a collection that the API answers as a bare JSON array (it cannot be paged)."""
        body = self.get(path, params)
        if not isinstance(body, list):
            raise CampaignMonitorError(
                f"GET {path}: expected a JSON array, got {type(body).__name__}: check {BASE_URL_SETTING}",
                path=path,
            )
        return body

    def get_object(self, path: str, rows_at: str = "") -> list[dict[str, Any]]:
        """GET an endpoint that answers one JSON object: that object as one row, or the array under ``rows_at``."""
        return object_rows(self.get(path), rows_at, path)

    def get_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        row_key: Sequence[str] = (),
        changed_since_param: str = "",
        columns: pa.Schema | None = None,
    ) -> Iterator[Page]:
        """Every row of a paged envelope once, page by page, even while the data moves (see ``paging``).

        With ``columns`` (``arrow_pages.envelope_schema``) a page comes as an Arrow table where Arrow
        can read it, else as a list of rows.
        """
        get = self.get if columns is None else partial(self.get_page, columns)
        return every_row_once(
            get, self.system_date, path, params, row_key, changed_since_param, read_ahead=self.max_concurrent_requests
        )

    def system_date(self) -> str:
        """The account's local "now" as the ``date`` filter takes it, a minute early to be safe.

        Fetched once per run: the filter speaks the account's local time, not this machine's.
        """
        now = self.account_now()
        return (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M") if now else ""

    def account_now(self) -> datetime | None:
        """The account's local time (``systemdate.json``), asked once per run; None if it does not say."""
        with self._system_date_lock:  # readers on several threads may ask at once; ask the API once
            if not self._system_date_asked:
                body = self.get("systemdate.json")
                try:
                    self._account_now = datetime.fromisoformat(str(body.get("SystemDate")))
                except (AttributeError, ValueError):
                    self._account_now = None
                self._system_date_asked = True
            return self._account_now


def object_rows(body: Any, rows_at: str, path: str) -> list[dict[str, Any]]:
    """An object answer's rows: the object as one row, or the array under ``rows_at``; anything else is
    not the API (a wrong base URL)."""
    rows = body.get(rows_at, []) if rows_at and isinstance(body, dict) else [body]
    if not isinstance(body, dict) or not isinstance(rows, list):
        raise CampaignMonitorError(
            f"GET {path}: expected a JSON object"
            + (f" with a {rows_at} array" if rows_at else "")
            + f", got {type(body).__name__}: check {BASE_URL_SETTING}",
            path=path,
        )
    return rows
