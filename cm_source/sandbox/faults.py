"""Fault switches of a sandbox (Faults): what a live API and the network in front of it do to a sync,
switched on at run time: 429s (one-shot or a real per-window limiter), 5xx, answers cut short, HTML
instead of JSON, dropped connections, latency, and rows inserted or removed while a list is paged."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import responses as HTTP_REASONS

from .account import STATES, Account
from .messages import KEY_REFUSED, Reply
from .paging import SUBSCRIBER_ORDER, ordered_members, page_spec, since_param
from .writes import new_row

RATE_LIMITED = {"Code": 429, "Message": "Rate limit exceeded"}
# X-RateLimit-Limit on a rate_limit() answer while no window limiter is on: the API publishes no limit.
DEFAULT_RATE_LIMIT = 100
# What a proxy or load balancer in front of the API answers when it is not the API answering.
PROXY_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>Bad Gateway</h1>\n<p>The proxy server received an invalid response from an upstream server.</p>\n"
    "<hr><address>proxy at api.createsend.com Port 443</address></body></html>\n"
)
# Addresses inserted while paging start with this, which sorts before every generated address.
INSERTED_PREFIX = "0000-inserted-"


Only = str | re.Pattern[str] | None  # a regex searched in the path after the API base; None: every path


def _pattern(only: Only) -> re.Pattern[str] | None:
    """The regex a fault's `only` gives, searched in the path after the API base; None matches every path."""
    return re.compile(only) if isinstance(only, str) else only


def _counted(count: int, name: str = "count") -> int:
    """A non-negative whole number of requests or rows."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"{name} must be a whole number >= 0, not {count!r}")
    return count


def _seconds_text(seconds: float) -> str:
    """Seconds as a header value: "2" when whole, else a decimal such as "0.5"."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


@dataclass(eq=False)
class _OneShot:
    """A fault armed for the next `left` requests whose path matches `only`."""

    name: str
    left: int
    only: re.Pattern[str] | None
    reply: Reply | None  # sent instead of serving; None for truncate, which serves and then cuts the answer


@dataclass(eq=False)
class _Window:
    """A fixed-window limiter: `limit` requests per `seconds`, a window opening at the first request after
    the last one closed."""

    limit: int
    seconds: float
    start: float = -math.inf
    used: int = 0

    def take(self, now: float) -> tuple[bool, dict[str, str]]:
        """Count a request at `now`: whether it is allowed, and the headers its answer carries."""
        if now >= self.start + self.seconds:
            self.start, self.used = now, 0
        allowed = self.used < self.limit
        self.used += allowed
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - self.used),
            "X-RateLimit-Reset": str(max(1, math.ceil(self.start + self.seconds - now))),
        }
        return allowed, headers


@dataclass(frozen=True)
class _PagingChange:
    """insert_while_paging's plan: what to change once page `after_page` of `path` has been served."""

    path: str
    list_id: str
    state: str
    after_page: int
    count: int
    remove: int


@dataclass(frozen=True)
class _Admission:
    """What the faults decided for one request as it arrived."""

    fault: str | None = None  # the switch answering it, as recorded
    reply: Reply | None = None  # answer this instead of serving
    delay: float = 0.0  # wait this long first
    headers: dict[str, str] = field(default_factory=dict)  # add these to the served answer


NO_FAULT = _Admission()


@dataclass(eq=False)
class Faults:
    """Fault switches of one sandbox, flipped by tests at run time, between or during requests.

    The one-shot switches (rate_limit, server_error, refuse_key, truncate, garbage, reset_connection) each take the
    next `count` requests whose path after the API base (e.g. "/lists/abc/active.json") the regex `only`
    is found in (`re.search`; None: every path). Requests take them in arrival order, and one armed
    earlier comes first: rate_limit(1) then server_error(1) answers 429, then 500, then serves. Every
    request is still recorded in `Sandbox.requests`, with `fault` naming the switch that answered it.
    rate_limit, server_error, refuse_key, garbage and reset_connection answer in place of the API (nothing is read or
    written); truncate serves the request (a write lands) and cuts the answer short.

    `latency` delays every matching request, faulted or not; `rate_limit_window` is a real limiter in
    front of everything, checked before the one-shot switches (a request it refuses takes none of them);
    `insert_while_paging` changes a list behind a sync's back. `inserted`, `removed` and
    `rate_limited_count` record what happened and survive `clear()`, which only turns the switches off.

    `armed` is the one attribute the request path looks at when nothing is switched on.
    """

    clock: Callable[[], float] = time.monotonic  # the limiter's clock; tests replace it rather than sleep
    rate_limited_count: int = 0  # 429s answered, by rate_limit() and by the window limiter
    inserted: list[str] = field(default_factory=list)  # addresses insert_while_paging added, in order
    removed: list[str] = field(default_factory=list)  # addresses it moved off the pages already served
    armed: bool = field(default=False, init=False)
    _one_shots: list[_OneShot] = field(default_factory=list, init=False, repr=False)
    _latency: tuple[float, re.Pattern[str] | None] | None = field(default=None, init=False, repr=False)
    _paging: _PagingChange | None = field(default=None, init=False, repr=False)
    _window: _Window | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # ---- switches -------------------------------------------------------------------------------

    def rate_limit(self, count: int, reset_seconds: float | None = 1, only: Only = None) -> None:
        """The next `count` matching requests answer 429 Code 429, with X-RateLimit-Limit, -Remaining: 0
        and -Reset: `reset_seconds`, or with no rate-limit headers at all when it is None."""
        headers = {}
        if reset_seconds is not None:
            if reset_seconds < 0:
                raise ValueError(f"reset_seconds must be >= 0, not {reset_seconds!r}")
            headers = {
                "X-RateLimit-Limit": str(DEFAULT_RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": _seconds_text(reset_seconds),
            }
        self._arm("rate_limit", count, only, Reply(429, RATE_LIMITED, headers, fault="rate_limit"))

    def server_error(self, count: int, status: int = 500, only: Only = None) -> None:
        """The next `count` matching requests answer `status` (5xx) with {"Code": status, "Message": its
        reason}, e.g. {"Code": 500, "Message": "Internal Server Error"}."""
        if isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599:
            raise ValueError(f"status must be a 5xx HTTP status, not {status!r}")
        payload = {"Code": status, "Message": HTTP_REASONS.get(status, "Server Error")}
        self._arm("server_error", count, only, Reply(status, payload, fault="server_error"))

    def refuse_key(self, count: int, only: Only = None) -> None:
        """The next `count` matching requests answer 401 Code 100, as the API does once a key is revoked."""
        payload = {"Code": 100, "Message": KEY_REFUSED}
        self._arm("refuse_key", count, only, Reply(401, payload, fault="refuse_key"))

    def truncate(self, count: int, only: Only = None) -> None:
        """The next `count` matching requests are served, but the answer stops after half its body (the
        Content-Length header still gives the full size) and the connection is closed."""
        self._arm("truncate", count, only, None)

    def garbage(self, count: int, only: Only = None) -> None:
        """The next `count` matching requests answer 200 with a text/html proxy error page."""
        self._arm("garbage", count, only, Reply(200, PROXY_ERROR_PAGE, fault="garbage"))

    def reset_connection(self, count: int, only: Only = None) -> None:
        """The next `count` matching requests get no answer: the connection is closed."""
        self._arm("reset_connection", count, only, Reply(0, None, fault="reset_connection"))

    def latency(self, seconds: float, only: Only = None) -> None:
        """Every matching request waits `seconds` before it is answered, holding no lock, so concurrent
        requests wait side by side; latency(0) turns it off. It replaces any latency set before."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, not {seconds!r}")
        with self._lock:
            self._latency = (float(seconds), _pattern(only)) if seconds else None
            self._update()

    def insert_while_paging(
        self, list_id: str, state: str = "Active", after_page: int = 1, count: int = 1, remove: int = 0
    ) -> None:
        """Once page `after_page` of GET /lists/{list_id}/{state}.json has been served (200, not faulted),
        add `count` new subscribers to that list and state whose addresses ("0000-inserted-1@example.com",
        …) sort before every existing one, so every later page in email order shifts forward; and move
        `remove` rows that were on the pages served so far (the first ones in that request's order) to
        Unsubscribed (Deleted when paging Unsubscribed) with the account's date, which shifts later pages
        back. Fires once; `inserted` and `removed` then list the addresses."""
        name = state.capitalize()
        if name not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        if _counted(after_page, "after_page") < 1:
            raise ValueError("after_page must be >= 1")
        path = f"/lists/{list_id}/{name.lower()}.json"
        change = _PagingChange(path, list_id, name, after_page, _counted(count), _counted(remove, "remove"))
        with self._lock:
            self._paging = change
            self._update()

    def rate_limit_window(self, limit: int | None, per_seconds: float = 1.0) -> None:
        """A limiter of `limit` requests per `per_seconds` window, by `clock`: every answer carries
        X-RateLimit-Limit, -Remaining and -Reset (whole seconds until the window closes, at least 1), and a
        request beyond the limit answers 429 with them. None turns it off; a new call starts afresh."""
        if limit is not None and _counted(limit, "limit") < 1:
            raise ValueError("limit must be >= 1 (or None to turn the limiter off)")
        if not per_seconds > 0:
            raise ValueError(f"per_seconds must be > 0, not {per_seconds!r}")
        with self._lock:
            self._window = None if limit is None else _Window(limit, float(per_seconds))
            self._update()

    def clear(self) -> None:
        """Turn every switch off; what they recorded (inserted, removed, rate_limited_count) stays."""
        with self._lock:
            self._one_shots = []
            self._latency = self._paging = self._window = None
            self._update()

    @property
    def changes_rows(self) -> bool:
        """Whether insert_while_paging waits to change a list: answers made now may not hold once it has."""
        return self._paging is not None

    def _arm(self, name: str, count: int, only: Only, reply: Reply | None) -> None:
        """Queue a one-shot fault behind those armed before it."""
        shot = _OneShot(name, _counted(count), _pattern(only), reply)
        with self._lock:
            if shot.left:
                self._one_shots.append(shot)
            self._update()

    def _update(self) -> None:
        """Recompute `armed`; called holding the lock after any change."""
        self.armed = bool(self._one_shots or self._latency or self._paging or self._window)

    # ---- the request path -----------------------------------------------------------------------

    def admit(self, path: str) -> _Admission:
        """Decide, as a request for `path` arrives, which fault answers it, how long it waits and which
        headers its answer gets; a one-shot fault it takes is used up."""
        with self._lock:
            delay = 0.0
            if self._latency is not None and (self._latency[1] is None or self._latency[1].search(path)):
                delay = self._latency[0]
            headers: dict[str, str] = {}
            if self._window is not None:
                allowed, headers = self._window.take(self.clock())
                if not allowed:
                    self.rate_limited_count += 1
                    reply = Reply(429, RATE_LIMITED, headers, fault="rate_limit_window")
                    return _Admission("rate_limit_window", reply, delay)
            for shot in self._one_shots:
                if shot.only is None or shot.only.search(path):
                    shot.left -= 1
                    if not shot.left:
                        self._one_shots.remove(shot)
                        self._update()
                    self.rate_limited_count += shot.name == "rate_limit"
                    return _Admission(shot.name, shot.reply, delay, {} if shot.reply else headers)
            return _Admission(None, None, delay, headers) if delay or headers else NO_FAULT

    def served(self, account: Account, method: str, path: str, query: dict[str, str], status: int) -> None:
        """After a request was answered without a fault, and before the answer goes out (so before the
        client can ask for the next page): fire insert_while_paging if this was its page. `query` is
        the one the handler saw (paging.given_query)."""
        change = self._paging
        if change is None or path != change.path or method != "GET" or status != 200:
            return
        if int(query.get("page", 1)) != change.after_page:  # a 200 means page was a valid number
            return
        with self._lock:
            if self._paging is not change:  # another request fired it, or it was switched off
                return
            self._paging = None
            self._update()
            first_number = len(self.inserted) + 1
        with account.lock:
            inserted, removed = _change_while_paging(account, change, query, first_number)
        with self._lock:
            self.inserted += inserted
            self.removed += removed


def _change_while_paging(
    account: Account, change: _PagingChange, query: dict[str, str], first_number: int
) -> tuple[list[str], list[str]]:
    """Carry out insert_while_paging on the account (holding its lock): the addresses inserted and removed.
    Rows and lists are replaced, never edited, as every write does."""
    members = account.subscribers[change.list_id]
    rows = members[change.state]
    spec = page_spec(query, SUBSCRIBER_ORDER)
    since = since_param(query)
    served = ordered_members(account, change.list_id, change.state, spec, since)[: change.after_page * spec.size]
    gone = served[: change.remove]
    gone_ids = {id(row) for row in gone}
    now = account.system_date
    taken = {row["EmailAddress"].casefold() for state_rows in members.values() for row in state_rows}
    lowest = min((row["EmailAddress"].casefold() for row in rows), default=None)
    new_rows: list[dict] = []
    number = first_number
    while len(new_rows) < change.count:
        email = _first_address(number, lowest)
        if email.casefold() not in taken:
            new_rows.append({**new_row(email, now), "Name": f"Inserted {number}", "State": change.state})
        number += 1
    target = "Deleted" if change.state == "Unsubscribed" else "Unsubscribed"
    members[change.state] = new_rows + [row for row in rows if id(row) not in gone_ids]
    members[target] = members[target] + [{**row, "State": target, "Date": now} for row in gone]
    return [row["EmailAddress"] for row in new_rows], [row["EmailAddress"] for row in gone]


def _first_address(number: int, lowest: str | None) -> str:
    """An address that sorts (case-folded) before `lowest`: "0000-inserted-N@example.com", or when some
    address already sorts before that, one made of "!" (the lowest character an address can hold) up to
    where `lowest` has its "@"."""
    email = f"{INSERTED_PREFIX}{number}@example.com"
    if lowest is None or email.casefold() < lowest:
        return email
    return "!" * (lowest.index("@") + 1) + f"inserted-{number}@example.com"
