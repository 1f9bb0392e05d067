"""Incremental runs: what each table re-reads, from which cursor, and how its table stays exact.

Every cursor lives in dlt's source state, which dlt commits with the load: a run that fails or is
killed leaves the cursors where they were, and the next run reads again from there. A table that has
no cursors yet (its first incremental run, or after ``--full-refresh``) is read in full and replaces
what was loaded, so from then on it equals a full refresh.

Campaign Monitor's ``date`` filter is "on or after", at minute precision, in the client's local time:

- A list's five states are read together from one cursor per list: the largest ``Date`` seen for the
  list, less the time that read took and a margin, so a change made while the list was read is read
  again next time. A subscriber who turns up in another state is removed from this one (a row marked
  ``_cm_left``, dlt's hard delete), so each state table holds who is in that state now.
- A client's transactional messages go on from the newest message loaded (see ``incremental_reads.timeline``).
- Events are appended from a cursor per campaign or journey email: the minute of the latest event
  loaded, with the fingerprints of the events loaded in that minute, so an event at the boundary is
  neither lost nor loaded twice, and true repeats are kept.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from dlt.common.pipeline import current_pipeline

from ..errors import CampaignMonitorError
from ..http.page import Page, values
from ..http.paging import Row
from .catalogue import ENDPOINTS_BY_TABLE, Endpoint, Sync
from .destinations import can_merge, merge_refusal, table_formats_of_run
from .incremental_state import IncrementalState, TableState
from .load_place import Place, describe, place_of
from .pieces import Piece

LEFT_COLUMN = "_cm_left"  # True on a row that removes a subscriber who left this state (hard delete)
CHANGE_MARGIN = timedelta(minutes=5)  # changes the API stamps just before it shows them are read again
API_TIME = "%Y-%m-%d %H:%M:%S"
FILTER_TIME = "%Y-%m-%d %H:%M"


def incremental_hints(endpoint: Endpoint) -> dict[str, Any]:
    """The write disposition of an incremental table, and the hard-delete column of a state table."""
    if endpoint.sync is Sync.STATE_CHANGES:
        return {
            "write_disposition": "merge",
            "columns": {LEFT_COLUMN: {"data_type": "bool", "hard_delete": True, "nullable": True}},
        }
    if endpoint.sync is Sync.NEW_EVENTS:
        return {"write_disposition": "append"}
    if endpoint.sync in (Sync.ONCE, Sync.RECENT, Sync.TIMELINE):
        return {"write_disposition": "merge"}
    return {}


def removals(endpoint: Endpoint, emails: Iterable[str]) -> list[Row]:
    """Rows that delete these addresses from a state table (dlt's hard delete): the columns a page of
    the table has, custom fields empty, so every page keeps one Arrow schema."""
    blank: dict[str, list[Any]] = {endpoint.custom_fields: []} if endpoint.custom_fields else {}
    return [{"EmailAddress": email, **blank, LEFT_COLUMN: True} for email in emails]


def fingerprint(row: Mapping[str, Any]) -> str:
    """An event's identity for the boundary minute: the whole row, as the API sent it."""
    return hashlib.blake2b(json.dumps(row, sort_keys=True, default=str).encode("utf-8"), digest_size=8).hexdigest()


def parse_time(value: Any) -> datetime | None:
    try:
        return datetime.strptime(str(value), API_TIME)
    except ValueError:
        return None


class IncrementalRun:
    """One incremental run's view of the source state: a table's plan, and the shared list reads."""

    def __init__(
        self,
        report_refresh_days: int,
        system_date: Callable[[], str],
        notice: Callable[[str], None],
        reconcile_runs: int = 0,
        clients: str | None = None,
        checkpoint_minutes: float = 0.0,
        made_for_later_piece: bool = False,
    ) -> None:
        self.run_id = uuid.uuid4().hex
        self.notice = notice  # one line for the run's summary and log
        self.report_refresh_days = report_refresh_days
        self.reconcile_runs = reconcile_runs  # 0: no rotating reconcile (see ``reconcile``)
        self.clients = clients  # the one client read, or None for every client the key sees
        self.system_date = system_date
        self._gone: dict[str, str] | None = None
        self._tables_begun: set = set()
        self._lock = threading.Lock()  # the reader threads share the gone lists, the tables begun and the counts
        self._state: IncrementalState | None = None
        self.pipeline: Any = None  # the running pipeline, once state() has been opened on the extract thread
        self._cursors_run_before: str | None = None
        self._cursors_at_start: dict[str, str] = {}
        self._plans: dict[str, TablePlan] = {}
        self.lists = ListChanges()
        self.made_for_later_piece = made_for_later_piece  # the source left the first piece's tables as loaded
        self.piece = Piece(checkpoint_minutes, notice, self._left_for_next_piece)  # 0 minutes: no limit

    def state(self) -> IncrementalState:
        """The source state's incremental part, opened once per run (on the extract thread, as dlt needs).

        The run that last moved the list cursors is remembered: a state table read in that run can
        go on from them; one that was not is read again in full. Cursors kept for another place
        (destination, dataset, database) are forgotten first.
        """
        if self._state is None:
            pipeline = current_pipeline()
            destination = getattr(pipeline, "destination", None)
            formats = table_formats_of_run()
            if destination is not None and not can_merge(destination, formats):
                refusal = merge_refusal(destination, formats, "an incremental run", "load without incremental")
                raise CampaignMonitorError(refusal)
            self.pipeline = pipeline  # for the reads that ask the destination, which run on other threads
            state = IncrementalState.of_running_source()
            self._forget_other_place(state, place_of(pipeline))
            self._forget_other_clients(state)
            state.begin_run()
            self.piece.begin(state.pass_)
            if not self.piece.goes_on:
                state.lists.fold_split()
            lists = state.lists
            self._cursors_run_before = lists.moved_in_run
            self._cursors_at_start = dict(lists.cursors)
            self._state = state
        return self._state

    def _forget_other_place(self, state: IncrementalState, here: Place | None) -> None:
        """Cursors describe the tables of the place they were loaded into: anywhere else, every
        incremental table is read in full and replaced, and the run says why in one line."""
        if here is None:
            return  # no destination (an extract on its own): nothing to compare with
        before = state.place
        if before != here and state.had_tables():
            if before:
                why = f"the cursors are for {describe(before)}, and this run loads into {describe(here)}"
            else:
                why = "the incremental state does not say where its tables were loaded (an older cm-source wrote it)"
            self.notice(f"Incremental: {why}: every incremental table is read in full and replaced in this run")
            state.forget_tables(keep_place=False)
        state.place = here

    def _forget_other_clients(self, state: IncrementalState) -> None:
        """The tables hold only the clients read: a run that reads fewer clients than the last (one
        client, or another one) reads every incremental table in full and replaces it, once, and says
        so; a run that reads more simply reads the new clients in full."""
        before = state.clients if state.has_tables() else self.clients
        if before != self.clients and before != "" and self.clients is not None:
            self.notice(
                f"Incremental: this run reads client {self.clients} and the last read"
                f" {'every client' if before is None else 'client ' + before}: every incremental table is read in"
                " full and replaced in this run, so the tables hold only the clients read"
            )
            state.forget_tables(keep_place=True)
        state.clients = self.clients

    def leaves_first_piece_tables(self) -> bool:
        """Whether this run is a later piece of a pass, made as one (see ``pieces.read_by_first_piece``):
        the pass's first piece loaded the tables read in full that nothing is read under."""
        self.state()
        return self.made_for_later_piece and self.piece.goes_on

    def gone_lists(self, lists_of: Callable[[str], list[str]], clients_now: list[str]) -> dict[str, str]:
        """The lists loaded before that the account no longer has (list → its client), worked out once
        per run: every list of a client that is gone, and each list its client no longer lists. They are
        forgotten here; each state table removes their rows in this run."""
        with self._lock:
            if self._gone is None:
                state = self.state()
                owners = state.lists.owners
                listed = {client: set(lists_of(client)) for client in set(owners.values()) if client in clients_now}
                self._gone = {
                    list_id: client
                    for list_id, client in list(owners.items())
                    if client not in listed or list_id not in listed[client]
                }
                for list_id, client in self._gone.items():
                    self.notice(
                        f"Incremental: list {list_id} of client {client} is no longer in the account:"
                        " its subscribers are removed from the subscriber tables in this run"
                    )
                for list_id in self._gone:
                    state.forget_list(list_id)
            return self._gone

    def first_batch(self, table: str) -> bool:
        """True the first time a table asks in this run (its first batch of parents)."""
        with self._lock:
            first = table not in self._tables_begun
            self._tables_begun.add(table)
            return first

    def owned(self, list_id: str, client_id: str) -> None:
        """Remember whose list it is, to tell later when the account no longer has it."""
        self.state().lists.owners[list_id] = client_id

    def count_reconciled(self, rows: int) -> None:
        """Add to the rows this run's slices read again (kept in the state, for the summary)."""
        state = self.state()
        with self._lock:
            state.add_reconciled(rows)

    def cursor_at_start(self, list_id: str) -> str | None:
        """The list's cursor as this run found it (a cursor moved by this run's own reads is for the next)."""
        self.state()
        return self._cursors_at_start.get(list_id)

    def move_cursor(self, list_id: str, read: ListRead) -> None:
        """Store the list's cursor for the next run, from everything this run read of the list so far; for
        a split list (see ``pieces``), beside the cursor, as this run's."""
        lists = self.state().lists
        since = read.next_since(self._cursors_at_start.get(list_id))
        if since is None:
            return
        with self._lock:
            if list_id in lists.split:
                lists.split[list_id][self.run_id] = since
            else:
                lists.cursors[list_id] = since

    def _left_for_next_piece(self, table: str, parent_id: str) -> None:
        """A state table leaves a list for the next piece: the list is split, its cursor back where this
        run found it, and what this run's reads of it give kept beside it (see ``pieces``)."""
        if ENDPOINTS_BY_TABLE[table].sync is not Sync.STATE_CHANGES:
            return
        lists = self.state().lists
        with self._lock:
            if parent_id in lists.split:
                return
            moved = lists.cursors.get(parent_id)
            before = self._cursors_at_start.get(parent_id)
            lists.split[parent_id] = {self.run_id: moved} if moved is not None and moved != before else {}
            if before is None:
                lists.cursors.pop(parent_id, None)
            else:
                lists.cursors[parent_id] = before

    def plan(self, endpoint: Endpoint) -> TablePlan:
        """What this run reads of ``endpoint``: decided at its first batch of parents, kept for the rest."""
        if endpoint.table not in self._plans:
            self._plans[endpoint.table] = self._new_plan(endpoint)
        return self._plans[endpoint.table]

    def _new_plan(self, endpoint: Endpoint) -> TablePlan:
        """A state table carries on only if it was read when the list cursors last moved; any other
        table carries on once it has cursors. Otherwise it is read in full and replaced."""
        state = self.state()
        table = state.table(endpoint.table)
        if endpoint.sync is Sync.STATE_CHANGES:
            reload = table.read_in_run is None or table.read_in_run != self._cursors_run_before
            state.lists.moved_in_run = table.read_in_run = self.run_id
        else:
            reload = not table.has_parents()
            if reload:
                table.start_parents()
        return TablePlan(endpoint, reload, table, self)

    @functools.cached_property
    def recent_cutoff(self) -> datetime | None:
        """The oldest send date whose reports are read again: ``report_refresh_days`` before the
        account's "now", a day earlier still because that "now" is the account's zone, not the client's."""
        now = parse_time(f"{self.system_date()}:00")
        return now - timedelta(days=self.report_refresh_days + 1) if now else None

    @functools.cached_property
    def recent_messages_from(self) -> datetime | None:
        """The oldest send time (UTC) whose transactional messages are read again; None when
        ``report_refresh_days`` is 0, when only new messages are read."""
        cutoff = self.recent_cutoff
        return cutoff.replace(tzinfo=timezone.utc) if cutoff is not None and self.report_refresh_days else None


@dataclass
class TablePlan:
    """How one incremental table is read in this run: replaced in full, or carried on from its cursors."""

    endpoint: Endpoint
    reload: bool
    table: TableState
    run: IncrementalRun

    @property
    def hints(self) -> dict[str, Any] | None:
        """dlt hints for this run's items: a reloaded table replaces what was loaded."""
        return {"write_disposition": "replace"} if self.reload else None

    def wanted(self, parent: Mapping[str, Any], parent_id: str) -> bool:
        """Whether a parent's rows are read this run: all of them on a reload, every list and journey
        email; a campaign's reports once ("once"), or while it was sent recently."""
        if self.reload or not self.endpoint.campaign_report:
            return True
        known = self.table.was_read(parent_id)
        if self.endpoint.sync is Sync.ONCE:
            return not known
        return not known or self.recently_sent(parent)

    def recently_sent(self, campaign: Mapping[str, Any]) -> bool:
        sent = campaign.get("SentDate")
        cutoff = self.run.recent_cutoff
        if not isinstance(sent, datetime) or cutoff is None:
            return True
        if sent.tzinfo is not None:
            sent = sent.astimezone(timezone.utc).replace(tzinfo=None)
        return sent >= cutoff

    def loaded(self, parent_id: str) -> None:
        """A parent whose rows were read in full (``once`` and ``recent`` tables)."""
        self.table.mark_read(parent_id)

    def nothing_to_read(self, parent_id: str) -> None:
        """A parent whose count says the table has no rows under it: noted as an empty read would be."""
        if self.endpoint.sync is Sync.NEW_EVENTS:
            self.table.set_event_cursor(parent_id, None, {})
        elif self.endpoint.sync is not Sync.STATE_CHANGES:
            self.loaded(parent_id)


class EventCursor:
    """Where a parent's events were read up to: the latest minute, and the events loaded in it."""

    def __init__(self, minute: str | None, seen: Mapping[str, int], timestamp: str) -> None:
        self.timestamp = timestamp
        self.minute = minute
        self.seen: Counter[str] = Counter(seen)
        self._boundary = Counter(self.seen)  # the events at the old boundary not yet met again

    def params(self) -> dict[str, str]:
        return {"date": self.minute} if self.minute else {}

    def new_rows(self, rows: list[Row]) -> list[Row]:
        """The rows not loaded before, remembering those in the latest minute."""
        fresh = []
        for row in rows:
            minute = str(row.get(self.timestamp) or "")[:16]
            if self.minute and minute < self.minute:
                continue  # before the cursor: loaded by an earlier run
            mark = fingerprint(row) if minute == self.minute else None
            if mark is not None and self._boundary[mark] > 0:
                self._boundary[mark] -= 1
                continue
            fresh.append(row)
            if self.minute is None or minute > self.minute:
                self.minute, self.seen, mark = minute, Counter(), None
            if minute == self.minute:
                self.seen[mark or fingerprint(row)] += 1
        return fresh


@dataclass
class ListRead:
    """What one run saw of one list: the latest ``Date`` and how long the reads of it took."""

    latest: str = ""  # the API's "YYYY-MM-DD HH:MM:SS" sorts as it reads, so no row is parsed
    started: float | None = None
    ended: float | None = None

    def saw(self, rows: Page) -> None:
        """Note the latest ``Date`` of a page (Arrow keeps times as text, as the API sends them)."""
        dates = (str(value or "") for value in values(rows, "Date"))
        self.latest = max(self.latest, max((d for d in dates if len(d) == 19 and d[:4].isdigit()), default=""))

    def next_since(self, previous: str | None) -> str | None:
        """The cursor for the next run: never later than the moment this run began to read the list.
        A latest value that is not a time leaves the cursor as it was."""
        latest = parse_time(self.latest)
        if latest is None:
            return previous
        took = timedelta(seconds=(self.ended or 0.0) - (self.started or 0.0))
        since = (latest - took - CHANGE_MARGIN).strftime(FILTER_TIME)
        return max(since, previous) if previous else since


@dataclass
class ListChanges:
    """Each list's changes since its cursor, in all five states, read once per run for every state table."""

    reads: dict[str, ListRead] = field(default_factory=dict)
    _changes: dict[str, dict[str, list[Row]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _list_locks: dict[str, threading.Lock] = field(default_factory=dict)

    def read_of(self, list_id: str) -> ListRead:
        with self._lock:
            return self.reads.setdefault(list_id, ListRead())

    def changes(
        self, list_id: str, since: str, paths: list[str], fetch: Callable[[str, Mapping[str, str]], list[Row]]
    ) -> dict[str, list[Row]]:
        """Each state's rows changed since ``since`` (by the state's path), every subscriber in the one
        state they are in now; read for the first state table that asks, kept for the others."""
        with self._lock:
            lock = self._list_locks.setdefault(list_id, threading.Lock())
        with lock:
            if list_id not in self._changes:
                read = self.read_of(list_id)
                started = time.monotonic()
                by_state = {path: fetch(path, {"date": since}) for path in paths}
                read.started = min(read.started or started, started)
                read.ended = time.monotonic()
                for rows in by_state.values():
                    read.saw(rows)
                self._changes[list_id] = now_in_one_state(by_state)
            return self._changes[list_id]

    def timed(self, list_id: str) -> Callable[[], None]:
        """Note that a full read of one of the list's states begins; the returned call notes its end."""
        read = self.read_of(list_id)
        started = time.monotonic()
        read.started = min(read.started or started, started)

        def ended() -> None:
            read.ended = max(read.ended or 0.0, time.monotonic())

        return ended


def now_in_one_state(by_state: Mapping[str, list[Row]]) -> dict[str, list[Row]]:
    """A subscriber who shows up in two states (they moved while the states were read) is kept in the
    one with the later ``Date``; ties go to the state read last."""
    where: dict[str, tuple] = {}
    for order, (state, rows) in enumerate(by_state.items()):
        for row in rows:
            email = str(row.get("EmailAddress", "")).lower()
            rank = (str(row.get("Date") or ""), order)
            if email not in where or rank >= where[email][0]:
                where[email] = (rank, state, row)
    result: dict[str, list[Row]] = {state: [] for state in by_state}
    for _, state, row in where.values():
        result[state].append(row)
    return result
