"""An incremental table read under one parent, by the table's ``sync`` (see ``incremental``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, Protocol

from ..api_facts import MAX_PAGE_SIZE
from ..http.arrow_pages import envelope_schema
from ..http.page import Page, row_count, where
from ..http.paging import Row
from ..http.timeline import MESSAGE_ID, SENT_AT, newer_than, sent_at, walk_back
from .catalogue import ENDPOINTS, Endpoint, Sync, query_ids
from .columnar import ROWS_PER_ITEM, gathered, page_fields
from .incremental import EventCursor, ListRead, TablePlan, removals
from .page_rules import PageRules
from .progress import RunProgress
from .reconcile import (
    Rotation,
    confirmed_gone,
    email_order,
    loaded_addresses,
    read_slice,
    state_of,
)
from .rows import shape_page
from .time_zones import LocalTime


class PageReader(Protocol):
    """What an incremental read needs of the account reader (``AccountReader``), which calls it: the
    reader depends on these reads, not the other way round."""

    api: Any  # http.CampaignMonitorAPI
    local_time: LocalTime
    progress: RunProgress

    def read_endpoint(
        self,
        endpoint: Endpoint,
        ids: Mapping[str, str],
        zone: Any,
        nested_as_text: bool,
        params: Mapping[str, str] | None = None,
        keep: Callable[[Page], Page] | None = None,
        keep_takes_arrow: bool = False,
    ) -> Iterator[Any]: ...

    def pages(
        self, endpoint: Endpoint, path: str, params: Mapping[str, str] | None = None, as_arrow: bool = False
    ) -> Iterator[Page]: ...

    def timeline(
        self, endpoint: Endpoint, path: str, query: Mapping[str, Any]
    ) -> Callable[[Mapping[str, Any]], list[dict[str, Any]]]: ...


def read_incrementally(
    reader: PageReader, plan: TablePlan, ids: Mapping[str, str], zone: Any, nested_as_text: bool
) -> Iterator[Any]:
    """One parent's part of an incremental table, its cursor moved only once the part is read whole."""
    endpoint = plan.endpoint
    parent_id = list(ids.values())[-1]
    if endpoint.sync is Sync.STATE_CHANGES:
        yield from state_changes(reader, plan, ids, zone, nested_as_text)
    elif endpoint.sync is Sync.TIMELINE:
        yield from timeline(reader, plan, ids, zone, nested_as_text)
    elif endpoint.sync is Sync.NEW_EVENTS:
        minute, seen = (None, {}) if plan.reload else plan.table.event_cursor(parent_id)
        cursor = EventCursor(minute, seen, endpoint.timestamps[0])
        yield from reader.read_endpoint(endpoint, ids, zone, nested_as_text, cursor.params(), cursor.new_rows)
        plan.table.set_event_cursor(parent_id, cursor.minute, cursor.seen)
    else:
        yield from reader.read_endpoint(endpoint, ids, zone, nested_as_text)
        plan.loaded(parent_id)


def state_changes(
    reader: PageReader, plan: TablePlan, ids: Mapping[str, str], zone: Any, nested_as_text: bool
) -> Iterator[Any]:
    """A list's subscribers in one state: in full on a reload or for a list without a cursor, else
    those who changed since the cursor, and a removal for each who is now in another state."""
    endpoint, run = plan.endpoint, plan.run
    list_id = ids["ListID"]
    run.owned(list_id, ids["ClientID"])
    since = None if plan.reload else run.cursor_at_start(list_id)
    read = run.lists.read_of(list_id)
    if since is None:
        ended = run.lists.timed(list_id)
        counted = RowCount()
        yield from reader.read_endpoint(
            endpoint, ids, zone, nested_as_text, keep=seen_by(read, counted), keep_takes_arrow=True
        )
        ended()
        if run.reconcile_runs:  # a full read is a round of the rotation in itself
            Rotation.fresh(
                run.state().rotation(list_id, endpoint.table),
                f"{list_id} {endpoint.table}",
                counted.rows,
                run.state().runs,
                run.reconcile_runs,
                read_in_full=True,
            )
    else:

        def fetch(path: str, params: Mapping[str, str]) -> list[Row]:
            return [row for page in reader.pages(endpoint, path, params) for row in page]

        paths = [other.path.format(**ids) for other in ENDPOINTS if other.sync is Sync.STATE_CHANGES]
        changes = run.lists.changes(list_id, since, paths, fetch)
        rules = PageRules(endpoint, ids, zone, reader.local_time)
        here = endpoint.path.format(**ids)
        # Leavers go in the same page as the changed rows
        left = removals(
            endpoint, (row["EmailAddress"] for path, rows in changes.items() if path != here for row in rows)
        )
        rows, again = [*changes[here], *left], list[Page]()
        if run.reconcile_runs:
            changed = {email_order(row["EmailAddress"]) for by_state in changes.values() for row in by_state}
            again, gone = reconciled(reader, plan, ids, changed)
            rows += removals(endpoint, gone)
        for start in range(0, len(rows), ROWS_PER_ITEM):
            yield shape_page(rows[start : start + ROWS_PER_ITEM], rules, nested_as_text)
        yield from gathered(shape_page(page, rules, nested_as_text) for page in again if len(page))
    run.move_cursor(list_id, read)


def reconciled(
    reader: PageReader, plan: TablePlan, ids: Mapping[str, str], changed: set[str]
) -> tuple[list[Page], list[str]]:
    """This run's slice of the list's state (see ``reconcile``): its pages, less the rows this run's
    changes already hold, and the loaded addresses the API confirms are no longer in this state."""
    endpoint, run = plan.endpoint, plan.run
    list_id, path = ids["ListID"], endpoint.path.format(**ids)
    rotation = Rotation(run.state().rotation(list_id, endpoint.table))
    if rotation.state.is_new():  # cursors older than the reconcile: a first page now, to learn the size
        Rotation.fresh(
            rotation.state,
            f"{list_id} {endpoint.table}",
            MAX_PAGE_SIZE * run.reconcile_runs,
            run.state().runs - 1,
            run.reconcile_runs,
            read_in_full=False,
        )
    pages = rotation.earn(run.reconcile_runs)
    if not pages:
        return [], []
    read_ahead = reader.api.max_concurrent_requests
    get = partial(reader.api.get_page, envelope_schema(page_fields(endpoint)))
    piece = read_slice(get, path, endpoint.params, rotation, pages, read_ahead)
    rotation.spend(piece.pages_read)
    run.count_reconciled(piece.rows)
    again = [
        where(page, [email_order(email) not in changed for email in emails]) if changed else page
        for page, emails in zip(piece.pages, piece.page_emails, strict=True)
    ]
    if not piece.steady:
        return again, []  # rows moved while the slice was read: merged, nothing removed, read again next run
    held = {email_order(email) for email in piece.emails} | changed
    missing = [
        email
        for email in loaded_addresses(run.pipeline, endpoint.table, list_id, piece.after, piece.to)
        if email_order(email) not in held
    ]
    gone = confirmed_gone(reader.api.get, list_id, state_of(endpoint.path), missing, read_ahead)
    rotation.moved_to(piece, run.state().runs)
    return again, gone


@dataclass
class RowCount:
    rows: int = 0


def seen_by(read: ListRead, counted: RowCount) -> Callable[[Page], Page]:
    """A page filter that loads every row, notes the latest ``Date`` among them and counts them."""

    def keep(rows: Page) -> Page:
        read.saw(rows)
        counted.rows += row_count(rows)
        return rows

    return keep


def timeline(
    reader: PageReader, plan: TablePlan, ids: Mapping[str, str], zone: Any, nested_as_text: bool
) -> Iterator[Any]:
    """A client's transactional messages: all of them on a reload or for a client without a cursor;
    else those sent after the newest loaded, then, back to ``report_refresh_days`` ago, the ones
    loaded before again (their opens and clicks move), all merged on ``message_id``."""
    endpoint, client_id = plan.endpoint, ids["ClientID"]
    stored = None if plan.reload else plan.table.newest_message(client_id)
    newest = NewestMessage(stored)
    if stored is None:
        yield from reader.read_endpoint(endpoint, ids, zone, nested_as_text, keep=newest.saw)
    else:
        reader.progress.started(endpoint.table)
        rules = PageRules(endpoint, ids, zone, reader.local_time)
        get = reader.timeline(endpoint, endpoint.path.format(**ids), {**endpoint.params, **query_ids(endpoint, ids)})
        new: set[str] = set()
        oldest_new: Row | None = None
        stored_id, stored_sent = stored
        old_sent = sent_at({SENT_AT: stored_sent})
        for page in newer_than(get, stored_id, old_sent):
            newest.saw(page)
            new.update(row[MESSAGE_ID] for row in page)
            oldest_new = min((row for row in (oldest_new, *page) if row), key=_sent_order, default=None)
            if page:
                yield shape_page(page, rules, nested_as_text)
        since = plan.run.recent_messages_from
        if since is not None and (old_sent is None or old_sent >= since):
            start = oldest_new[MESSAGE_ID] if oldest_new else None  # from the top when nothing was new
            for page in walk_back(get, start, far_enough=lambda rows: _sent_order(rows[-1]) < since):
                again = [row for row in page if row[MESSAGE_ID] not in new]
                newest.saw(again)
                if again:
                    yield shape_page(again, rules, nested_as_text)
    if newest.row is not None:
        plan.table.set_newest_message(client_id, newest.row[MESSAGE_ID], newest.row[SENT_AT])


_NEVER = datetime.min.replace(tzinfo=timezone.utc)  # a message whose time is unknown is never the newest…


def _sent_order(row: Row) -> datetime:
    """…nor the oldest, and never ends a walk back."""
    return sent_at(row) or datetime.max.replace(tzinfo=timezone.utc)


class NewestMessage:
    """The newest message met (by ``SentAt``; the first met among equals), where the next run goes on from."""

    def __init__(self, stored: tuple[str, Any] | None) -> None:
        self.row: dict[str, Any] | None = {MESSAGE_ID: stored[0], SENT_AT: stored[1]} if stored else None

    def saw(self, rows: list[Row]) -> list[Row]:
        for row in rows:
            if self.row is None or (sent_at(row) or _NEVER) > (sent_at(self.row) or _NEVER):
                self.row = {MESSAGE_ID: row[MESSAGE_ID], SENT_AT: row.get(SENT_AT)}
        return rows
