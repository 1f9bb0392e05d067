"""Every HTTP concern of the connector: auth, retries, errors and the paged envelope.

Campaign Monitor answers errors as JSON ``{"Code", "Message"}``; this module turns them into one
``CampaignMonitorError`` whose text a person can act on, so nothing above it looks at status codes.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth

DEFAULT_BASE_URL = "https://api.createsend.com/api/v3.3"
PAGE_SIZE = 1000  # the API's maximum; fewer pages means fewer requests

API_KEY_SETTING = "SOURCES__CAMPAIGN_MONITOR__API_KEY"
CLIENT_ID_SETTING = "SOURCES__CAMPAIGN_MONITOR__CLIENT_ID"
BASE_URL_SETTING = "SOURCES__CAMPAIGN_MONITOR__BASE_URL"

logger = logging.getLogger(__name__)


class CampaignMonitorError(Exception):
    """A request Campaign Monitor refused or could not answer; ``str()`` is one actionable line."""

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[int] = None,
        path: str = "",
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.path = path
        self.body = body


class RetryingSession(requests.Session):
    """A session that retries what a flaky or rate-limited API answers.

    dlt's retrying session honours only ``Retry-After``; Campaign Monitor sends
    ``X-RateLimit-Reset`` (seconds to wait) or nothing at all, so the wait is decided here.
    """

    RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
        timeout_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Both ``Session.request`` and dlt's ``RESTClient`` end here, so one loop serves both."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_seconds
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = super().send(request, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self.max_attempts:
                    raise
                logger.warning("%s %s failed (%s); retrying", request.method, request.path_url, type(exc).__name__)
                self.sleep(self._backoff(attempt))
                continue
            if response.status_code not in self.RETRY_STATUSES or attempt == self.max_attempts:
                return response
            logger.warning("%s %s answered %s; retrying", request.method, request.path_url, response.status_code)
            response.close()
            self.sleep(self._wait_for(response, attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait_for(self, response: requests.Response, attempt: int) -> float:
        reset = response.headers.get("X-RateLimit-Reset")
        if response.status_code == 429 and reset is not None:
            try:
                return min(max(float(reset), 0.0), self.max_wait_seconds)
            except ValueError:
                pass
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, so parallel readers do not retry in step."""
        return min(self.backoff_seconds * 2 ** (attempt - 1), self.max_wait_seconds) * random.uniform(0.5, 1.0)


class CampaignMonitorAPI:
    """One authenticated connection to one Campaign Monitor account (or sandbox)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        session: Optional[requests.Session] = None,
    ) -> None:
        if not api_key:
            raise CampaignMonitorError(f"no Campaign Monitor API key: set {API_KEY_SETTING}")
        self.base_url = base_url.rstrip("/")
        self._rest = RESTClient(
            base_url=self.base_url,
            auth=HttpBasicAuth(username=api_key, password="x"),
            session=session or RetryingSession(),
        )

    def get(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        """GET one resource and return its decoded JSON, or raise a ``CampaignMonitorError``."""
        return self._send("GET", path, params=dict(params or {}))

    def post(self, path: str, body: Any) -> Any:
        """POST a JSON body; retried like reads, which is safe only because writes are upserts."""
        return self._send("POST", path, json=body)

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._rest.request(path, method=method, **kwargs)
        except requests.RequestException as exc:
            raise CampaignMonitorError(
                f"{method} {path}: could not reach {self.base_url} ({type(exc).__name__}) after retries:"
                f" check {BASE_URL_SETTING} and the network",
                path=path,
            ) from None
        return decode_response(response, path)

    def get_array(self, path: str, params: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
        """GET a collection that the API answers as a bare JSON array (it cannot be paged)."""
        body = self.get(path, params)
        if not isinstance(body, list):
            raise CampaignMonitorError(
                f"GET {path}: expected a JSON array, got {type(body).__name__}: check {BASE_URL_SETTING}",
                path=path,
            )
        return body

    def get_pages(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Iterator[List[Dict[str, Any]]]:
        """Yield the ``Results`` of every page of a paged envelope, one page at a time.

        Written out rather than using ``RESTClient.paginate``: that decodes every page's JSON twice
        (once for the data, once for the page count), which doubles the cost of a million-row list.
        Page 1 tells ``NumberOfPages``; exactly that many requests are sent.
        """
        page = 1
        while True:
            body = self.get(path, {**(params or {}), "page": page, "pagesize": PAGE_SIZE})
            results, number_of_pages = read_envelope(body, path)
            yield results
            if page >= number_of_pages:
                return
            page += 1


def read_envelope(body: Any, path: str) -> "tuple[List[Dict[str, Any]], int]":
    """Check a paged envelope and return its rows and page count.

    A bare array here means the server speaks v3.2 (or is not Campaign Monitor): loading it as
    zero rows is how another connector shipped an empty campaigns table for weeks.
    """
    if not isinstance(body, dict) or not isinstance(body.get("Results"), list):
        raise CampaignMonitorError(
            f"GET {path}: expected a v3.3 paged envelope with Results, got {type(body).__name__}:"
            f" check that {BASE_URL_SETTING} ends in /api/v3.3",
            path=path,
        )
    try:
        number_of_pages = int(body["NumberOfPages"])
    except (KeyError, TypeError, ValueError):
        raise CampaignMonitorError(
            f"GET {path}: the paged envelope has no usable NumberOfPages", path=path
        ) from None
    return body["Results"], number_of_pages


def decode_response(response: requests.Response, path: str) -> Any:
    """Return the JSON body of a successful response; raise one actionable line otherwise."""
    method = response.request.method if response.request is not None else "GET"
    try:
        body = response.json()
    except ValueError:
        body = None
        if response.ok:
            raise CampaignMonitorError(
                f"{method} {path}: answered {response.status_code} with a body that is not JSON:"
                f" check that {BASE_URL_SETTING} is the API's base URL (…/api/v3.3)",
                status=response.status_code,
                path=path,
            ) from None
    if response.ok:
        return body
    code = body.get("Code") if isinstance(body, dict) else None
    message = body.get("Message") if isinstance(body, dict) else None
    raise CampaignMonitorError(
        describe_error(f"{method} {path}", response.status_code, code, message),
        status=response.status_code,
        code=code,
        path=path,
        body=body,
    )


def describe_error(request: str, status: int, code: Optional[int], message: Optional[str]) -> str:
    """Say what went wrong in the user's terms and which setting fixes it."""
    answer = f"{status}" + (f" Code {code}" if code is not None else "") + (f": {message.strip()}" if message else "")
    subject = request.split(" ", 1)[-1].split("/")
    if status == 401 and code == 102 and len(subject) > 1 and subject[0] == "clients":
        client_id = subject[1].removesuffix(".json")
        return (
            f"client {client_id} does not exist or this API key cannot see it ({answer}):"
            f" check {CLIENT_ID_SETTING} and that the key belongs to that client's account"
        )
    if status == 400 and code == 101 and len(subject) > 1 and subject[0] in ("lists", "subscribers"):
        list_id = subject[1].removesuffix(".json")
        return f"list {list_id} does not exist or this API key cannot see it ({answer}): check the list ID"
    if status == 401:
        return f"Campaign Monitor rejected the API key ({answer}) on {request}: check {API_KEY_SETTING}"
    if status == 404:
        return f"{request} is not a Campaign Monitor endpoint ({answer}): check {BASE_URL_SETTING} (…/api/v3.3)"
    if status == 429 or status >= 500:
        return f"{request} still failed after retries ({answer}): Campaign Monitor is unavailable or rate limiting; run again later"
    return f"{request} failed ({answer})"
