"""What an incremental run keeps for the next one, as typed objects over dlt's source state.

dlt keeps a source's state as a JSON-like dict and commits it with the load, so the stored form stays a
dict; this module is the only code that reads or writes it. Each class below is a view of one part of
that dict: reading and writing go through names, a part missing (a state an older version wrote, or the
first run) reads as empty, and the dict stays what dlt saves.

The stored layout, under the source state's ``incremental`` key::

    runs        incremental runs so far            reconciled  rows the rotating reconcile read this run
    place       where the tables were loaded       clients     the one client read, or None for all
    lists       run: the run that last moved the list cursors; cursors: list → "YYYY-MM-DD HH:MM";
                owners: list → its client; split: list → run → the cursor that run's reads give, for a
                list whose states a piece left partly read (folded into cursors when the pass ends)
    tables      table → run (a state table: the run that last read it) or parents (parent → its cursor)
    reconcile   list → table → where the rotating reconcile stands (``RotationState``)
    pass        the pass of pieces under way (``PassState``): read: table → parent → 1 for every parent
                the table read in it; cut: whether the last piece stopped before the pass was whole;
                pieces: the pieces of the pass loaded so far; counts: answer path → the counts a
                summary gave that a table not yet through it needs (see ``report_counts``)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import dlt

from .load_place import Place

STATE_KEY = "incremental"
SOURCE_NAME = "campaign_monitor"

# The stored keys, named once.
_RUNS, _RECONCILED, _PLACE, _CLIENTS = "runs", "reconciled", "place", "clients"
_LISTS, _TABLES, _RECONCILE, _PASS = "lists", "tables", "reconcile", "pass"
_READ, _CUT, _PIECES, _COUNTS = "read", "cut", "pieces", "counts"
_RUN, _CURSORS, _OWNERS, _PARENTS, _SPLIT = "run", "cursors", "owners", "parents", "split"
_MINUTE, _SEEN, _MESSAGE_ID, _SENT = "minute", "seen", "id", "sent"
_AFTER, _PAGE, _PAGES, _CYCLE_FROM, _READ_SINCE, _CREDIT = (
    "after",
    "page",
    "pages",
    "cycle_from",
    "read_since",
    "credit",
)
_EVERY_CLIENT_UNKNOWN = ""  # ``clients`` before any table was loaded: neither one client nor all


class IncrementalState:
    """The source's incremental state: counts, where the tables were loaded, and each part below."""

    def __init__(self, stored: dict[str, Any]) -> None:
        self._stored = stored

    @classmethod
    def of_running_source(cls) -> IncrementalState:
        """The state of the source being extracted (dlt's ``source_state``, on the extract thread)."""
        return cls(dlt.current.source_state().setdefault(STATE_KEY, {}))

    @classmethod
    def of_pipeline(cls, pipeline: Any) -> IncrementalState:
        """The state as the pipeline's last run left it (empty before the first), to read, not to change."""
        sources = pipeline.state.get("sources", {})
        return cls(dict(sources.get(SOURCE_NAME, {}).get(STATE_KEY, {})))

    @property
    def runs(self) -> int:
        return int(self._stored.get(_RUNS, 0))

    def begin_run(self) -> None:
        """Count this run, with no rows read again yet."""
        self._stored[_RUNS] = self.runs + 1
        self._stored[_RECONCILED] = 0

    @property
    def reconciled(self) -> int:
        """Rows the rotating reconcile read again in the last run."""
        return int(self._stored.get(_RECONCILED, 0))

    def add_reconciled(self, rows: int) -> None:
        self._stored[_RECONCILED] = self.reconciled + rows

    @property
    def place(self) -> Place | None:
        return self._stored.get(_PLACE)

    @place.setter
    def place(self, here: Place) -> None:
        self._stored[_PLACE] = here

    @property
    def clients(self) -> str | None:
        """The one client the tables hold, or None for every client; ``""`` when an older version did not say."""
        return self._stored.get(_CLIENTS, _EVERY_CLIENT_UNKNOWN)

    @clients.setter
    def clients(self, client_id: str | None) -> None:
        self._stored[_CLIENTS] = client_id

    def has_tables(self) -> bool:
        """Whether any incremental table has cursors here."""
        return bool(self._stored.get(_LISTS)) or bool(self._stored.get(_TABLES))

    def had_tables(self) -> bool:
        """Whether any incremental table was begun here, even with no cursors yet."""
        return _LISTS in self._stored or _TABLES in self._stored

    def forget_tables(self, keep_place: bool) -> None:
        """Forget every cursor and rotation (the tables are read in full and replaced); the run count
        stays, and the place unless it is what changed."""
        kept = (_RUNS, _PLACE) if keep_place else (_RUNS,)
        for key in [key for key in self._stored if key not in kept]:
            del self._stored[key]

    @property
    def lists(self) -> ListsState:
        return ListsState(self._stored.setdefault(_LISTS, {}))

    def table(self, name: str) -> TableState:
        return TableState(self._stored.setdefault(_TABLES, {}).setdefault(name, {}))

    def rotation(self, list_id: str, table: str) -> RotationState:
        """Where the list's state ``table`` stands in the rotating reconcile."""
        return RotationState(self._stored.setdefault(_RECONCILE, {}).setdefault(list_id, {}).setdefault(table, {}))

    def rotations(self) -> Iterator[RotationState]:
        for tables in self._stored.get(_RECONCILE, {}).values():
            for stored in tables.values():
                yield RotationState(stored)

    @property
    def pass_(self) -> PassState:
        """The pass of pieces under way (see ``read.pieces``)."""
        return PassState(self._stored.setdefault(_PASS, {}))

    def forget_list(self, list_id: str) -> None:
        """A list the account no longer has: its owner, cursor and rotations."""
        lists = self.lists
        lists.owners.pop(list_id, None)
        lists.cursors.pop(list_id, None)
        lists.split.pop(list_id, None)
        self._stored.get(_RECONCILE, {}).pop(list_id, None)


class ListsState:
    """The list cursors, shared by the five state tables, and each list's client."""

    def __init__(self, stored: dict[str, Any]) -> None:
        self._stored = stored

    @property
    def moved_in_run(self) -> str | None:
        """The run that last moved the cursors: a state table read then can go on from them."""
        return self._stored.get(_RUN)

    @moved_in_run.setter
    def moved_in_run(self, run_id: str) -> None:
        self._stored[_RUN] = run_id

    @property
    def cursors(self) -> dict[str, str]:
        """List → the ``date`` its next read starts from."""
        cursors: dict[str, str] = self._stored.setdefault(_CURSORS, {})
        return cursors

    @property
    def owners(self) -> dict[str, str]:
        """List → its client, to tell when the account no longer has the list."""
        owners: dict[str, str] = self._stored.setdefault(_OWNERS, {})
        return owners

    @property
    def split(self) -> dict[str, dict[str, str]]:
        """List → run → the cursor its reads give, for a list whose five states were not all read in one
        piece: its cursor stays where the pass began until every state was read (see ``read.pieces``)."""
        split: dict[str, dict[str, str]] = self._stored.setdefault(_SPLIT, {})
        return split

    def fold_split(self) -> None:
        """A pass is whole: each split list's cursor becomes the earliest its runs give, so no state
        misses a change made between two pieces."""
        for list_id, by_run in self._stored.pop(_SPLIT, {}).items():
            if by_run:
                self.cursors[list_id] = min(by_run.values())


class TableState:
    """One incremental table: the run that last read it (state tables), or a cursor per parent."""

    def __init__(self, stored: dict[str, Any]) -> None:
        self._stored = stored

    @property
    def read_in_run(self) -> str | None:
        return self._stored.get(_RUN)

    @read_in_run.setter
    def read_in_run(self, run_id: str) -> None:
        self._stored[_RUN] = run_id

    def has_parents(self) -> bool:
        return _PARENTS in self._stored

    def start_parents(self) -> None:
        """No parent read yet (a table read in full and replaced)."""
        self._stored[_PARENTS] = {}

    def _parents(self) -> dict[str, Any]:
        parents: dict[str, Any] = self._stored.setdefault(_PARENTS, {})
        return parents

    def was_read(self, parent_id: str) -> bool:
        return parent_id in self._parents()

    def mark_read(self, parent_id: str) -> None:
        """A parent whose rows were read in full (a campaign's report)."""
        self._parents()[parent_id] = True

    def event_cursor(self, parent_id: str) -> tuple[str | None, dict[str, int]]:
        """The latest minute of the parent's events loaded, and how many of each event were in it."""
        stored = self._parents().get(parent_id)
        if not isinstance(stored, Mapping):
            return None, {}
        return stored.get(_MINUTE), dict(stored.get(_SEEN, {}))

    def set_event_cursor(self, parent_id: str, minute: str | None, seen: Mapping[str, int]) -> None:
        self._parents()[parent_id] = {_MINUTE: minute, _SEEN: dict(seen)}

    def newest_message(self, client_id: str) -> tuple[str, Any] | None:
        """The newest transactional message loaded for the client: its ID and send time."""
        stored = self._parents().get(client_id)
        return (stored[_MESSAGE_ID], stored[_SENT]) if isinstance(stored, Mapping) else None

    def set_newest_message(self, client_id: str, message_id: str, sent: Any) -> None:
        self._parents()[client_id] = {_MESSAGE_ID: message_id, _SENT: sent}


class RotationState:
    """Where one list's state stands in the rotating reconcile (see ``reconcile``)."""

    def __init__(self, stored: dict[str, Any]) -> None:
        self._stored = stored

    def is_new(self) -> bool:
        return not self._stored

    def start(self, pages: int, run: int, read_since: int | None, credit: float) -> None:
        """A round from the first page, beginning with the run after ``run``."""
        self._stored.clear()
        self._stored.update(
            {_AFTER: None, _PAGE: 1, _PAGES: pages, _CYCLE_FROM: run + 1, _READ_SINCE: read_since, _CREDIT: credit}
        )

    @property
    def after(self) -> str | None:
        """The last address the last slice read (in the API's email order), or None at the start."""
        return self._stored.get(_AFTER)

    @property
    def page(self) -> int:
        """The page that held ``after``."""
        return max(1, int(self._stored.get(_PAGE) or 1))

    @property
    def pages(self) -> int:
        return int(self._stored.get(_PAGES, 1))

    @pages.setter
    def pages(self, pages: int) -> None:
        self._stored[_PAGES] = pages

    @property
    def credit(self) -> float:
        """Pages earned and not yet read."""
        return float(self._stored.get(_CREDIT, 0.0))

    @credit.setter
    def credit(self, pages: float) -> None:
        self._stored[_CREDIT] = pages

    @property
    def read_since(self) -> int | None:
        """The run from which every row of the state was read again, once a round completed."""
        return self._stored.get(_READ_SINCE)

    def went_on_to(self, after: str, page: int) -> None:
        self._stored.update({_AFTER: after, _PAGE: page})

    def round_completed(self, run: int) -> None:
        """Back to the start: every row since the round's first run was read again."""
        self._stored.update(
            {_AFTER: None, _PAGE: 1, _READ_SINCE: self._stored.get(_CYCLE_FROM, run), _CYCLE_FROM: run + 1}
        )


class PassState:
    """A pass: the pieces (runs, each ending in a load) that together read every parent once.

    A piece that stops at ``checkpoint_minutes`` before every parent was read is ``cut``; the next piece
    goes on with the same pass, leaving alone the parents it already read. A piece that is not cut ends
    the pass, and the next run begins a new one.
    """

    def __init__(self, stored: dict[str, Any]) -> None:
        self._stored = stored

    @property
    def cut(self) -> bool:
        """Whether the last piece stopped before every parent was read (the tables are not yet whole)."""
        return bool(self._stored.get(_CUT, False))

    @cut.setter
    def cut(self, cut: bool) -> None:
        self._stored[_CUT] = cut

    @property
    def pieces(self) -> int:
        return int(self._stored.get(_PIECES, 0))

    def begin_piece(self) -> bool:
        """Count a piece: the next of the pass a cut piece left, else the first of a new pass. True when
        it goes on with a pass."""
        goes_on = self.cut
        if not goes_on:
            self._stored[_READ] = {}
            self._stored[_COUNTS] = {}
            self._stored[_PIECES] = 0
        self._stored[_PIECES] = self.pieces + 1
        self._stored[_CUT] = False
        return goes_on

    def _read(self) -> dict[str, dict[str, int]]:
        read: dict[str, dict[str, int]] = self._stored.setdefault(_READ, {})
        return read

    def was_read(self, table: str, parent_id: str) -> bool:
        return parent_id in self._stored.get(_READ, {}).get(table, {})

    def mark_read(self, table: str, parent_id: str) -> None:
        self._read().setdefault(table, {})[parent_id] = 1

    def counts_of(self, path: str) -> dict[str, Any] | None:
        """The counts a summary read earlier in the pass gave (None if none is kept)."""
        counts: dict[str, Any] | None = self._stored.get(_COUNTS, {}).get(path)
        return counts

    def keep_counts(self, path: str, counts: dict[str, Any]) -> None:
        self._stored.setdefault(_COUNTS, {})[path] = counts

    def drop_counts(self, path: str) -> None:
        self._stored.get(_COUNTS, {}).pop(path, None)

    def read_counts(self) -> dict[str, int]:
        """Table → how many parents it read in the pass."""
        return {table: len(ids) for table, ids in self._stored.get(_READ, {}).items()}
