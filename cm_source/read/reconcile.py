"""The rotating reconcile of an incremental run: a slice of each list's state tables read again in full.

The ``date`` filter finds the subscribers whose state changed. It cannot see an edit that leaves
``Date`` alone (a name, a custom field), nor an address that vanished without a state change. So each
incremental run also reads again a slice of every (list, state): the next pages in the API's email order,
about ``1/reconcile_runs`` of them, going round so that every row is read again within
``reconcile_runs`` runs. A state of fewer pages than that earns a page every few runs, so small lists do
not cost a request each run. The slice's rows are merged, which updates names and custom fields.

An address loaded within the slice's range of emails that the slice no longer holds is asked about
(``GET subscribers/{list}.json?email=``) and removed only when the API says it is not in that state: the
API orders emails by its database's collation, which Python's order cannot be promised to match, so a
range of emails alone never deletes a row.

Where each rotation stands is kept in the source state beside the cursors and committed with the load:
a run cut off mid-slice leaves the rotation where the last committed run left it, and the next run reads
that slice again (a merge makes the repeat harmless). A slice read while its state's total moved is
merged but removes nothing, and the rotation stays put to read it again next run.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..api_facts import MAX_PAGE_SIZE, SUBSCRIBER_STATES
from ..concurrency import WorkAhead
from ..errors import RequestRefused
from ..http.page import Page, values, where
from ..http.paging import Get, one_pass
from .incremental_state import RotationState
from .lake_tables import lake_rows, table_format

NOT_IN_LIST = 203  # the API's Code for an address the list does not hold
LOCATE_STEPS = 4  # pages stepped back or forward to find where the last slice ended, before reading on


def email_order(email: Any) -> str:
    """An address as the API orders it: case-insensitively."""
    return str(email or "").casefold()


def state_of(path: str) -> str:
    """The API's name of the state a state table's path reads (``lists/{ListID}/active.json`` → Active)."""
    return next(state for state in SUBSCRIBER_STATES if path.endswith(f"/{state.lower()}.json"))


@dataclass
class Rotation:
    """Where one list's state stands in its rotation (kept in the source state, see ``RotationState``):
    the last address the previous slice read and the page that held it, the state's pages when last
    read, the pages earned and not yet read, and the run since when every row was read again."""

    state: RotationState

    @classmethod
    def fresh(
        cls, state: RotationState, key: str, rows: int, run: int, reconcile_runs: int, read_in_full: bool
    ) -> Rotation:
        """A rotation starting over at the end of ``run``, for a state of ``rows`` rows: after a full read
        (``read_in_full``, a round of one run), or with nothing yet read again; the next round begins
        with the next run. A state of fewer pages than ``reconcile_runs`` reads a page only
        every few runs: each starts a different share of a page ahead, so small states take their turns
        in different runs rather than all in one."""
        pages = max(1, math.ceil(rows / MAX_PAGE_SIZE))
        ahead = (zlib.crc32(key.encode("utf-8")) % 1000) / 1000 if pages < reconcile_runs else 0.0
        state.start(pages, run, run if read_in_full else None, ahead)
        return cls(state)

    def earn(self, reconcile_runs: int) -> int:
        """This run's share of pages, carried over where it is less than a page."""
        self.state.credit += self.state.pages / reconcile_runs
        return int(self.state.credit)

    def spend(self, pages: int) -> None:
        self.state.credit = max(0.0, self.state.credit - pages)

    def moved_to(self, read: SliceRead, run: int) -> None:
        """Go on after a steady slice: from its last address, or from the start once it reached the end."""
        self.state.pages = max(1, read.number_of_pages)
        if read.to is None:
            self.state.round_completed(run)
        else:
            self.state.went_on_to(read.to, read.last_page)


@dataclass
class SliceRead:
    """One slice: its rows, the range of emails it covers (``after`` exclusive, ``to`` inclusive, None
    for the end), the pages read and whether the state's total held still while they were read."""

    pages: list[Page] = field(default_factory=list)
    page_emails: list[list[str]] = field(default_factory=list)  # each page's addresses, in order
    after: str | None = None
    to: str | None = None
    first_page: int = 1
    last_page: int = 1
    number_of_pages: int = 0
    totals: set[int] = field(default_factory=set)

    @property
    def steady(self) -> bool:
        return len(self.totals) <= 1

    @property
    def pages_read(self) -> int:
        return self.last_page - self.first_page + 1

    @property
    def emails(self) -> list[str]:
        return [email for emails in self.page_emails for email in emails]

    @property
    def rows(self) -> int:
        return sum(map(len, self.page_emails))

    def add(self, page: Page) -> None:
        """A page, less its rows at or before ``after`` (the page that held the last slice's end)."""
        emails = emails_of(page)
        if self.after is not None and emails and email_order(emails[0]) <= self.after:
            keep = [email_order(email) > self.after for email in emails]
            page = where(page, keep)
            emails = [email for email, kept in zip(emails, keep, strict=True) if kept]
        self.pages.append(page)
        self.page_emails.append(emails)

    def covers(self, email: str) -> bool:
        order = email_order(email)
        return (self.after is None or order > self.after) and (self.to is None or order <= self.to)


def read_slice(
    get: Get, path: str, params: Mapping[str, Any], rotation: Rotation, pages: int, read_ahead: int
) -> SliceRead:
    """Up to ``pages`` pages of a state in email order, from where the rotation stands.

    Rows added or removed since the last slice shift the pages, so the page that held its last address
    is looked at first and the read steps back or on until that address is in view.
    """
    after = rotation.state.after
    page = rotation.state.page if after else 1
    read = SliceRead(after=after)

    def one(number: int) -> Any:
        return next(one_pass(get, path, params, read_ahead, first=number, count=1))

    step = 0  # the way the look moved: back (-1) or on (+1); it never turns, so it cannot go round
    for _ in range(LOCATE_STEPS):
        body, total, read.number_of_pages = one(page)
        rows = emails_of(body)
        read.totals.add(total)
        read.first_page = read.last_page = page
        if page > max(1, read.number_of_pages):
            page, step = max(1, read.number_of_pages), -1
        elif after is not None and rows and step <= 0 and page > 1 and email_order(rows[0]) > after:
            page, step = page - 1, -1
        elif (
            after is not None and rows and step >= 0 and page < read.number_of_pages and email_order(rows[-1]) <= after
        ):
            page, step = page + 1, +1
        else:
            break
    page = read.first_page
    read.add(body)
    if pages > 1 and page < read.number_of_pages:
        for body, total, _ in one_pass(get, path, params, read_ahead, first=page + 1, count=pages - 1):
            read.totals.add(total)
            read.add(body)
            read.last_page += 1
    if read.last_page < read.number_of_pages:
        last = next((emails[-1] for emails in reversed(read.page_emails) if emails), None)
        read.to = email_order(last) if last is not None else after
    return read


def emails_of(page: Page) -> list[str]:
    """The addresses of a page, in order."""
    return [str(email or "") for email in values(page, "EmailAddress")]


def confirmed_gone(
    get: Callable[[str, Mapping[str, Any]], Any], list_id: str, state: str, emails: Iterable[str], workers: int
) -> list[str]:
    """The addresses the API says are no longer in ``state`` on the list (not on it, or in another state)."""

    def gone(email: str) -> bool:
        try:
            details = get(f"subscribers/{list_id}.json", {"email": email})
        except RequestRefused as refused:
            if refused.code == NOT_IN_LIST:
                return True
            raise
        return not isinstance(details, dict) or details.get("State") != state

    emails = list(emails)
    if not emails:
        return []
    asked = WorkAhead((partial(gone, email) for email in emails), min(workers, len(emails)), name="cm-reconcile")
    return [email for email, is_gone in zip(emails, asked, strict=True) if is_gone]


# How each destination compares text by code point, for the SQL bounds of a range of emails; on others
# the list's addresses are all fetched and the range checked here.
BINARY_ORDER = {"duckdb": "lower(email_address)", "postgres": 'lower(email_address) COLLATE "C"'}
# One query at a time: the state tables' readers ask from several threads, and two DuckDB connections to
# one file opened at once in one process fail ("Unique file handle conflict").
DESTINATION_QUERIES = threading.Lock()
BOUND_SLACK = 3  # characters dropped from each bound: lower() and casefold() differ on a few letters (ß)


def loaded_addresses(pipeline: Any, table: str, list_id: str, after: str | None, to: str | None) -> list[str]:
    """The addresses the destination holds for the list in ``table`` within a range of emails (the
    ends as ``email_order`` gives them; None for open). The SQL bounds are a little wide, the range is
    then checked exactly. A table not created yet holds none."""
    if pipeline is None or table not in pipeline.default_schema.data_table_names(seen_data_only=True):
        return []
    within = SliceRead(after=after, to=to)
    if table_format(pipeline, table):
        with DESTINATION_QUERIES:
            emails = lake_rows(pipeline, table, ["email_address"], {"list_id": list_id}).column(0).to_pylist()
        return [email for email in emails if within.covers(email)]
    conditions, args = ["list_id = %s"], [list_id]
    ordered = BINARY_ORDER.get(pipeline.destination.destination_name)
    if ordered is not None:
        if after is not None:
            conditions.append(f"{ordered} >= %s")
            args.append(after[: max(1, len(after) - BOUND_SLACK)])
        if to is not None:
            conditions.append(f"{ordered} <= %s")
            args.append(to[: max(1, len(to) - BOUND_SLACK)] + "\U0010ffff")
    with DESTINATION_QUERIES, pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        rows = client.execute_sql(f"SELECT email_address FROM {name} WHERE {' AND '.join(conditions)}", *args)
    return [email for (email,) in rows or [] if within.covers(email)]
