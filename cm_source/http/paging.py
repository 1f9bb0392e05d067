"""Campaign Monitor's paged envelopes, read so that every row arrives once while the data moves.

Paging is by offset over live data: a row inserted or removed mid-read shifts later pages, so a
row is read twice or never. This is why paging is written out here rather than left to
``RESTClient.paginate``, which decodes every page twice and cannot see the totals between pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import pyarrow as pa

from ..api_facts import BASE_URL_SETTING, MAX_PAGE_SIZE
from ..concurrency import WorkAhead
from ..errors import CampaignMonitorError
from .arrow_pages import envelope_parts
from .page import Page, keys, where

Row = dict[str, Any]
Get = Callable[[str, Mapping[str, Any]], Any]  # one GET: path and query to decoded JSON

logger = logging.getLogger(__name__)


def every_row_once(
    get: Get,
    system_date: Callable[[], str],
    path: str,
    params: Mapping[str, Any] | None = None,
    row_key: Sequence[str] = (),
    changed_since_param: str = "",
    max_passes: int = 3,
    *,
    read_ahead: int,
) -> Iterator[Page]:
    """Yield every row of a paged envelope once, page by page (a list of rows, or an Arrow table).

    A pass (one read of pages 1..N) is trusted only if ``TotalNumberOfRecords`` held still and
    it saw exactly that many distinct ``row_key`` values; otherwise the collection is read again and only rows not yet
    yielded are passed on, so none is yielded twice. An insert and a removal can cancel out in
    the totals, so a read of several pages ends with one more request for rows changed since it
    began (``changed_since_param``, the account's local time from ``system_date``).
    """
    since = ""
    yielded: set[int] = set()
    for number in range(max_passes):
        # The first pass can only meet a row twice within itself; sharing the set halves memory.
        seen_this_pass = yielded if number == 0 else set()
        totals: set = set()
        for rows, total, number_of_pages in one_pass(get, path, params, read_ahead):
            if changed_since_param and number_of_pages > 1 and not since:
                since = system_date()  # right after page 1: a change before it was read anyway
            totals.add(total)
            yield unseen(rows, row_key, yielded, seen_this_pass)
        if not row_key or (len(totals) == 1 and len(seen_this_pass) == totals.pop()):
            if since:
                for rows, _, _ in one_pass(get, path, {**(params or {}), changed_since_param: since}, read_ahead):
                    yield unseen(rows, row_key, yielded, set())
            return
        logger.warning("GET %s: the data changed while it was paged; reading it again", path)
    raise CampaignMonitorError(
        f"GET {path}: the data kept changing while it was read ({max_passes} passes): run again later",
        path=path,
    )


def unseen(rows: Page, row_key: Sequence[str], yielded: set[int], seen: set[int]) -> Page:
    """The rows (a list, or an Arrow table) not yet yielded, remembering every key met in this pass.

    Keys are kept as their hashes, less than half the memory of the e-mail addresses themselves;
    a collision of two 64-bit hashes among a million keys is a one-in-ten-million chance per pass.
    """
    if not row_key:
        return rows
    fresh = []
    for key in map(hash, keys(rows, row_key)):
        fresh.append(key not in yielded)
        yielded.add(key)
        seen.add(key)
    return rows if all(fresh) else where(rows, fresh)


def one_pass(
    get: Get,
    path: str,
    params: Mapping[str, Any] | None,
    read_ahead: int,
    first: int = 1,
    count: int | None = None,
) -> Iterator[tuple[Page, int, int]]:
    """Pages first..NumberOfPages (at most ``count`` of them) at the API's largest page size, each with
    its total and page count.

    Once page 1 tells how many there are, the next ``read_ahead`` pages are requested while the caller
    works on this one: a long list costs the server's time or the caller's, whichever is longer, and
    over a network with a round trip of a tenth of a second, one large list (most accounts keep most
    people on one) is read side by side rather than a page at a time. Pages still reach the caller in
    order, so paging's checks are the same.
    """

    def fetch(page: int) -> Any:
        return get(path, {**(params or {}), "page": page, "pagesize": MAX_PAGE_SIZE})

    pages = _PagesToAsk(fetch, first + 1, first, count)
    results, number_of_pages, total = read_envelope(fetch(first), path)
    pages.learn(number_of_pages)
    if pages.last <= first:  # one page (most of a fan-out's reads): no read-ahead to set up
        yield results, total, number_of_pages
        return
    # one more than the threads: read_ahead pages stay in flight while the caller works on this one
    with WorkAhead(pages, read_ahead, ahead=read_ahead + 1, name="cm-read-ahead", finish_on_close=False) as rest:
        answers, page = iter(rest), first
        while True:
            yield results, total, number_of_pages
            if page >= pages.last:
                return  # pages asked for beyond a last page that moved down are dropped
            page += 1
            results, number_of_pages, total = read_envelope(next(answers), path)
            pages.learn(number_of_pages)


class _PagesToAsk:
    """The next pages of a paged read, as tasks, up to the last page the latest answer gives (at most
    ``count`` pages from ``first``): when the page count moves, so does the end. Asked for more once it
    has run out, it may have more, once an answer said there are."""

    def __init__(self, fetch: Callable[[int], Any], page: int, first: int, count: int | None) -> None:
        self.fetch, self.page, self.first, self.count = fetch, page, first, count
        self.last = first

    def learn(self, number_of_pages: int) -> None:
        self.last = number_of_pages if self.count is None else min(number_of_pages, self.first + self.count - 1)

    def __iter__(self) -> _PagesToAsk:
        return self

    def __next__(self) -> Callable[[], Any]:
        if self.page > self.last:
            raise StopIteration
        self.page += 1
        return partial(self.fetch, self.page - 1)


def read_envelope(body: Any, path: str) -> tuple[Page, int, int]:
    """Check a paged envelope and return its rows (a list, or an Arrow table), page count and total.

    A bare array here means the server speaks v3.2 (or is not Campaign Monitor): loading it as
    zero rows is how another connector shipped an empty campaigns table for weeks.
    """
    if isinstance(body, pa.Table):
        parts = envelope_parts(body)
        if parts is None:
            raise CampaignMonitorError(f"GET {path}: the paged envelope has no usable NumberOfPages", path=path)
        return parts
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
