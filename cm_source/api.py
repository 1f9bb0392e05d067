"""Every HTTP concern of the connector: auth, retries, errors and the paged envelope.

Campaign Monitor answers errors as JSON ``{"Code", "Message"}``; this module turns them into one
``CampaignMonitorError`` whose text a person can act on, so nothing above it looks at status codes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth

from .api_facts import API_KEY_SETTING, BASE_URL, BASE_URL_SETTING, CLIENT_ID_SETTING, MAX_PAGE_SIZE

# Requests in flight at once. Campaign Monitor publishes no concurrency limit; a handful hides
# latency without provoking its rate limiter, and every 429 is still honoured.
DEFAULT_MAX_CONCURRENT_REQUESTS = 6

MISSING_KEY = (
    f"no Campaign Monitor API key: set {API_KEY_SETTING} or api_key under"
    " [sources.campaign_monitor] in .dlt/secrets.toml"
)

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


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up; every wait is configurable so tests need not wait for real.

    dlt's retrying session honours only ``Retry-After``; Campaign Monitor sends
    ``X-RateLimit-Reset`` (seconds to wait) or nothing at all, so retries are decided here.
    """

    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so parallel readers do not retry in step."""
        return min(self.backoff_seconds * 2 ** (attempt - 1), self.max_wait_seconds) * random.uniform(0.5, 1.0)

    def wait_after(self, response: Optional[requests.Response], attempt: int) -> float:
        reset = seconds_header(response, "X-RateLimit-Reset") if response is not None else None
        if response is not None and response.status_code == 429 and reset is not None:
            return min(reset, self.max_wait_seconds)
        return self.backoff(attempt)

    def budget_wait(self, response: requests.Response, others_in_flight: int = 0) -> Optional[float]:
        """How long every reader should hold off once the rate-limit budget runs out, if at all.

        Only a spent budget holds requests back, until ``X-RateLimit-Reset``: what is left
        (``X-RateLimit-Remaining``) is spent anyway by the requests already in flight. Slowing down
        earlier leaves allowed requests unused.
        """
        remaining = seconds_header(response, "X-RateLimit-Remaining")
        reset = seconds_header(response, "X-RateLimit-Reset")
        if remaining is not None and reset is not None and remaining <= others_in_flight:
            return min(reset, self.max_wait_seconds)
        return None


class RateGate:
    """The earliest moment the next request may leave, shared by every reader thread.

    A 429 or an exhausted budget seen by one thread holds back all of them: threads that each
    waited on their own would wake together and trip the limit again, a storm of 429s.
    """

    def __init__(self, sleep: Callable[[float], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._sleep = sleep
        self._clock = clock
        self._opens_at = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._opens_at = max(self._opens_at, self._clock() + seconds)

    def wait(self) -> None:
        with self._lock:
            delay = self._opens_at - self._clock()
        if delay > 0:
            self._sleep(delay)


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A reset connection, a timeout and a body cut short all end up as one of these.
RETRY_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
NOT_JSON = object()
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def seconds_header(response: requests.Response, name: str) -> Optional[float]:
    try:
        return max(float(response.headers[name]), 0.0)
    except (KeyError, ValueError):
        return None


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
        session: Optional[requests.Session] = None,
        max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
    ) -> None:
        if not api_key:
            raise CampaignMonitorError(MISSING_KEY)
        if max_concurrent_requests < 1:
            raise CampaignMonitorError(f"max_concurrent_requests must be 1 or more, not {max_concurrent_requests}")
        self.base_url = check_base_url(base_url)
        self.retry = retry
        self.max_concurrent_requests = max_concurrent_requests
        # Bounds requests in flight across every reader thread, whoever started them.
        self._in_flight = threading.BoundedSemaphore(max_concurrent_requests)
        self._gate = RateGate(retry.sleep)
        self._sending = 0  # requests in flight now, so an answer can tell whether the budget is spoken for
        self._sending_lock = threading.Lock()
        self._system_date: Optional[str] = None
        self._system_date_lock = threading.Lock()
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_maxsize=max(10, max_concurrent_requests))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._rest = RESTClient(
            base_url=self.base_url,
            auth=HttpBasicAuth(username=api_key, password="x"),
            session=session,
        )

    def get(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        """GET one resource and return its decoded JSON, or raise a ``CampaignMonitorError``."""
        return self._send("GET", path, params=dict(params or {}))

    def post(self, path: str, body: Any) -> Any:
        """POST a JSON body, or one already encoded as bytes; retried like reads, which is safe only
        because writes are upserts."""
        if isinstance(body, bytes):
            return self._send("POST", path, data=body, headers={"Content-Type": "application/json"})
        return self._send("POST", path, json=body)

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request, retried on 429, 5xx, dropped connections, timeouts and cut-short bodies.

        The shared rate gate is checked once this request holds a slot, and an answer's hold is set
        before the slot is given back: a thread that queued for a slot, or takes the one just freed,
        never sends past a hold it could not yet see.
        """
        for attempt in range(1, self.retry.max_attempts + 1):
            response: Optional[requests.Response] = None
            try:
                with self._in_flight:
                    self._gate.wait()
                    with self._sending_lock:
                        self._sending += 1
                    try:
                        response = self._rest.request(path, method=method, timeout=self.retry.timeout_seconds, **kwargs)
                        body = json_body(response)
                    finally:
                        with self._sending_lock:
                            self._sending -= 1
                            others_in_flight = self._sending
                        if response is not None:
                            self._hold_for(response, others_in_flight, attempt)
            except RETRY_EXCEPTIONS as exc:
                problem = f"could not reach {self.base_url} ({type(exc).__name__})"
            else:
                if response.status_code not in RETRY_STATUSES and not (response.ok and body is NOT_JSON):
                    return check_response(response, body, f"{method} {path}")
                problem = describe_answer(response, body)
            if attempt == self.retry.max_attempts:
                raise give_up(f"{method} {path}", problem, attempt, response)
            logger.warning("%s %s: %s; retrying (%d of %d)", method, path, problem, attempt, self.retry.max_attempts)
            if response is None or response.status_code != 429:  # a 429 already holds every reader
                self.retry.sleep(self.retry.wait_after(response, attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _hold_for(self, response: requests.Response, others_in_flight: int, attempt: int) -> None:
        """Hold every reader after a 429 (until its reset, or a backoff), or once the budget is spent."""
        if response.status_code == 429:
            if attempt < self.retry.max_attempts:
                self._gate.hold(self.retry.wait_after(response, attempt))
            return
        budget_wait = self.retry.budget_wait(response, others_in_flight)
        if budget_wait:
            self._gate.hold(budget_wait)

    def get_array(self, path: str, params: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
        """GET a collection that the API answers as a bare JSON array (it cannot be paged)."""
        body = self.get(path, params)
        if not isinstance(body, list):
            raise CampaignMonitorError(
                f"GET {path}: expected a JSON array, got {type(body).__name__}: check {BASE_URL_SETTING}",
                path=path,
            )
        return body

    def get_object(self, path: str, rows_at: str = "") -> List[Dict[str, Any]]:
        """GET an endpoint that answers one JSON object: that object as one row, or the array under ``rows_at``."""
        body = self.get(path)
        rows = body.get(rows_at, []) if rows_at and isinstance(body, dict) else [body]
        if not isinstance(body, dict) or not isinstance(rows, list):
            raise CampaignMonitorError(
                f"GET {path}: expected a JSON object" + (f" with a {rows_at} array" if rows_at else "")
                + f", got {type(body).__name__}: check {BASE_URL_SETTING}",
                path=path,
            )
        return rows

    def get_pages(
        self,
        path: str,
        params: Optional[Mapping[str, Any]] = None,
        row_key: Sequence[str] = (),
        changed_since_param: str = "",
        max_passes: int = 3,
    ) -> Iterator[List[Dict[str, Any]]]:
        """Yield every row of a paged envelope once, page by page, even while the data moves.

        Paging is by offset over live data: a row inserted or removed mid-read shifts later pages,
        so a row is read twice or never. A pass is trusted only if ``TotalNumberOfRecords`` held
        still and it saw exactly that many distinct ``row_key`` values; otherwise the collection
        is read again and only rows not yet yielded are passed on, so none is yielded twice.
        An insert and a removal can cancel out in the totals, so a read of several pages ends
        with one more request for rows changed since it began (``changed_since_param``).
        Written out rather than using ``RESTClient.paginate``, which decodes every page twice and
        cannot see the totals between pages.
        """
        since = ""
        yielded: Set[int] = set()
        for number in range(max_passes):
            # The first pass can only meet a row twice within itself; sharing the set halves memory.
            seen_this_pass = yielded if number == 0 else set()
            totals: set = set()
            for rows, total, number_of_pages in self._one_pass(path, params):
                if changed_since_param and number_of_pages > 1 and not since:
                    since = self.system_date()  # right after page 1: a change before it was read anyway
                totals.add(total)
                yield self._unseen(rows, row_key, yielded, seen_this_pass)
            if not row_key or (len(totals) == 1 and len(seen_this_pass) == totals.pop()):
                if since:
                    for rows, _, _ in self._one_pass(path, {**(params or {}), changed_since_param: since}):
                        yield self._unseen(rows, row_key, yielded, set())
                return
            logger.warning("GET %s: the data changed while it was paged; reading it again", path)
        raise CampaignMonitorError(
            f"GET {path}: the data kept changing while it was read ({max_passes} passes): run again later",
            path=path,
        )

    @staticmethod
    def _unseen(rows: List[Dict[str, Any]], row_key: Sequence[str], yielded: Set[int], seen: Set[int]) -> List[Dict[str, Any]]:
        """The rows not yet yielded, remembering every key met in this pass.

        Keys are kept as their hashes: 60 bytes a row instead of ~130 for an e-mail address, which
        is the difference between 45 MB and 100 MB on a list of 760,000. A collision of two 64-bit
        hashes among a million keys is a one-in-ten-million chance per read.
        """
        if not row_key:
            return rows
        fresh = []
        single = row_key[0] if len(row_key) == 1 else None
        for row in rows:
            key = hash(row.get(single) if single else tuple(row.get(name) for name in row_key))
            if key not in yielded:
                yielded.add(key)
                fresh.append(row)
            seen.add(key)
        return fresh

    def system_date(self) -> str:
        """The account's local "now" as the ``date`` filter takes it, a minute early to be safe.

        Fetched once per run: the filter speaks the account's local time, not this machine's.
        """
        with self._system_date_lock:  # readers on several threads may ask at once; ask the API once
            if self._system_date is None:
                body = self.get("systemdate.json")
                now = datetime.fromisoformat(str(body.get("SystemDate"))) if isinstance(body, dict) else None
                self._system_date = (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M") if now else ""
            return self._system_date

    def _one_pass(
        self, path: str, params: Optional[Mapping[str, Any]]
    ) -> Iterator[Tuple[List[Dict[str, Any]], int, int]]:
        """Pages 1..NumberOfPages at the API's largest page size, each with its total and page count.

        The next page is requested while the caller works on this one, so a long list costs the
        server's time or the caller's, whichever is longer, rather than both added up.
        """
        def fetch(page: int) -> Any:
            return self.get(path, {**(params or {}), "page": page, "pagesize": MAX_PAGE_SIZE})

        read_ahead: Optional[ThreadPoolExecutor] = None  # only for reads of several pages
        try:
            page, body = 1, fetch(1)
            while True:
                results, number_of_pages, total = read_envelope(body, path)
                if page < number_of_pages:
                    read_ahead = read_ahead or ThreadPoolExecutor(max_workers=1, thread_name_prefix="cm-read-ahead")
                    answer = read_ahead.submit(fetch, page + 1)
                yield results, total, number_of_pages
                if page >= number_of_pages:
                    return
                page, body = page + 1, answer.result()
        finally:
            if read_ahead is not None:
                read_ahead.shutdown(wait=False)  # a reader stopped early does not wait for a page it will not use


def read_envelope(body: Any, path: str) -> Tuple[List[Dict[str, Any]], int, int]:
    """Check a paged envelope and return its rows, page count and total.

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
        return body["Results"], int(body["NumberOfPages"]), int(body.get("TotalNumberOfRecords", len(body["Results"])))
    except (KeyError, TypeError, ValueError):
        raise CampaignMonitorError(f"GET {path}: the paged envelope has no usable NumberOfPages", path=path) from None


def json_body(response: requests.Response) -> Any:
    """The decoded body, or ``NOT_JSON`` (an HTML error page, or a body cut short)."""
    try:
        return response.json()
    except ValueError:
        return NOT_JSON


def error_fields(body: Any) -> Tuple[Optional[int], Optional[str]]:
    """The ``Code`` and ``Message`` of an error body, where it has them."""
    if not isinstance(body, dict):
        return None, None
    return body.get("Code"), body.get("Message")


def describe_answer(response: requests.Response, body: Any) -> str:
    if body is NOT_JSON:
        return f"answered {response.status_code} with a body that is not JSON ({response.text[:60]!r})"
    code, message = error_fields(body)
    return f"answered {response.status_code}" + (f" Code {code}" if code is not None else "") + (
        f": {str(message).strip()}" if message else "")


def give_up(request: str, problem: str, attempts: int, response: Optional[requests.Response]) -> CampaignMonitorError:
    """The error after the last attempt: what came back, and what the user can do about it."""
    if response is not None and response.ok:
        advice = f"check that {BASE_URL_SETTING} is the API's base URL (…/api/v3.3)"
    else:
        advice = f"Campaign Monitor is unavailable or rate limiting, or {BASE_URL_SETTING} is wrong; run again later"
    return CampaignMonitorError(
        f"{request}: {problem} in all {attempts} attempts: {advice}",
        status=response.status_code if response is not None else None,
        path=request.split(" ", 1)[-1],
    )


def check_response(response: requests.Response, body: Any, request: str) -> Any:
    """Return the body of a successful response; raise one actionable line otherwise."""
    if response.ok:
        return body
    code, message = error_fields(body)
    raise CampaignMonitorError(
        describe_error(request, response.status_code, code, message),
        status=response.status_code,
        code=code,
        path=request.split(" ", 1)[-1],
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
    if status >= 500:
        return f"{request} failed on Campaign Monitor's side ({answer}): run again later"
    return f"{request} failed ({answer})"
