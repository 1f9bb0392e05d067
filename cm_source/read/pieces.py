"""An incremental run in pieces: each run reads for ``checkpoint_minutes``, then loads what it read.

dlt commits a source's state only when a load completes, with no checkpoint inside an extract (dlt issue
215), so a run cut off (a timeout, a deploy, a lost worker) keeps nothing it read. A long incremental run
(the first, which reads every list and every campaign's reports in full) is therefore read in pieces,
each a run that ends in a load:

- The unit is one table's part under one parent: a list's subscribers in one state, a sent campaign's
  opens, a journey email's clicks, a client's transactional messages. Each table takes new parents until
  ``checkpoint_minutes`` have passed (at least one, so every piece gets somewhere), reads them to the
  end, and the piece loads. A read that costs no request (a campaign's summary another table asked
  for) is taken after that too, so no answer is asked again in a later piece. Deciding per table, not
  per parent, ends every table's reads near the deadline: a parent taken by the fastest table would
  otherwise hold the piece until the slowest read it. The state records what each table read in the
  pass (``PassState``), whether the piece was cut, and the counts a summary gave that a table not yet
  through it will need.
- The five state tables share one cursor per list. A list some of whose states a piece left unread is
  split: its cursor stays where the pass began (so a state read later still reads every change since),
  each run's cursor is kept beside it, and the earliest of them becomes the list's cursor when the pass
  is whole (``ListsState.split``).
- The next run goes on with the pass: it reads only the parents not read yet, and leaves out the tables
  read in full every run that nothing is read under (templates, list details, …), which the pass's first
  piece loaded. Parent listings (clients, campaigns, lists, segments, journeys) are read in every piece:
  they are what a piece is planned from, and they are few requests.
- A piece read twice (cut after its load began, or killed before) writes nothing twice: merge tables
  take rows by key, and an event table's rows come with the cursor that leaves them out next time, both
  in the one load package.

A full refresh is not read in pieces: its tables are replaced whole, or not at all.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

from .catalogue import ENDPOINTS_BY_TABLE, PARENT_TABLES, Endpoint, Sync
from .incremental_state import PassState

T = TypeVar("T")

# How the parts of a pass under each parent table are named to the user.
PARENT_WORDS = {
    "lists": "list states",
    "campaigns": "campaign reports",
    "journey_emails": "journey email reports",
    "clients": "clients' transactional messages",
}


class Piece:
    """One run's piece of a pass: which parents each table reads, decided as the table reaches each, and
    whether it stopped short of the pass's end."""

    def __init__(
        self,
        minutes: float,
        notice: Callable[[str], None],
        on_left: Callable[[str, str], None] = lambda table, parent_id: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.minutes = minutes  # 0: no limit, the run reads every parent
        self.notice = notice
        self.on_left = on_left  # told of each table's parent left for the next piece
        self.clock = clock
        self.goes_on = False  # whether this piece goes on with a pass a cut piece left
        self._pass: PassState | None = None
        self._deadline: float | None = None  # when the piece stops taking new parents
        self._began: set[str] = set()  # tables that took a parent in this piece
        self._lock = threading.Lock()  # readers on many threads ask at once

    def begin(self, pass_: PassState) -> None:
        """Start the piece on the source state's pass, from now (the extract's first incremental read)."""
        self._pass = pass_
        self.goes_on = pass_.begin_piece()
        self._deadline = self.clock() + self.minutes * 60 if self.minutes else None
        if self.goes_on:
            self.notice(
                f"Incremental: piece {pass_.pieces} of a pass the last run left unfinished: reading the parents it"
                f" has not read yet ({self.describe_read()} read so far)"
            )

    def admits(self, table: str, parent_id: str, free: bool = False) -> bool:
        """Whether ``table`` reads the parent in this piece: not if it did in an earlier piece of the pass;
        else yes until ``checkpoint_minutes`` have passed, for each table's first parent of the piece in
        any case, and for a read that costs no request (``free``: an answer another table asked for)."""
        pass_ = self._pass
        if pass_ is None:
            return True
        with self._lock:
            if pass_.was_read(table, parent_id):
                return False
            late = self._deadline is not None and self.clock() >= self._deadline
            if late and table in self._began and not free:
                self._leave(table, parent_id)
                return False
            self._began.add(table)
            pass_.mark_read(table, parent_id)
            return True

    def gated(
        self,
        table: str,
        parent_id: str,
        reader: Callable[[], Iterator[T]],
        free: Callable[[], bool] = lambda: False,
    ) -> Callable[[], Iterator[T]]:
        """``reader``, asking at the moment it starts (not when it is queued) whether the piece reads it;
        ``free`` says then whether the read would cost no request."""

        def read() -> Iterator[T]:
            if self.admits(table, parent_id, free()):
                yield from reader()

        return read

    def _leave(self, table: str, parent_id: str) -> None:
        """A parent left for the next piece; the first one cuts the piece, which says so once."""
        assert self._pass is not None
        self.on_left(table, parent_id)
        if not self._pass.cut:
            self._pass.cut = True
            self.notice(
                f"Incremental: this run reached checkpoint_minutes ({self.minutes:g}) and stops taking new parents:"
                f" it loads what it read ({self.describe_read()} so far in this pass, piece {self._pass.pieces})"
                " and the tables stay incomplete until a later run reads the rest. The next run continues from"
                " here; cm-source load --incremental and cm_source.run_in_pieces run every piece until done"
            )

    def describe_read(self) -> str:
        return parents_read(self._pass) if self._pass is not None else "nothing"


def read_by_first_piece(endpoint: Endpoint) -> bool:
    """A table read in full that nothing is read under (templates, list details, …): a pass's first piece
    loads it, and a later piece leaves it as loaded (merge hints, no rows), so it is neither read again
    nor emptied."""
    return endpoint.sync is Sync.IN_FULL and endpoint.table not in PARENT_TABLES


def parents_read(pass_: PassState) -> str:
    """What a pass has read, by parent, in the user's words: "30 list states, 1,560 campaign reports"."""
    by_parent: Counter[str] = Counter()
    for table, count in pass_.read_counts().items():
        endpoint = ENDPOINTS_BY_TABLE.get(table)
        by_parent[endpoint.parent if endpoint is not None and endpoint.parent else table] += count
    words = (f"{count:,} {PARENT_WORDS.get(parent, parent)}" for parent, count in by_parent.items())
    return ", ".join(words) or "nothing"


def pass_summary(pass_: PassState) -> str:
    """One line on a pass after a piece is loaded: how far it got, and whether the next run goes on with it."""
    where = "unfinished: the next run continues it" if pass_.cut else "complete"
    return f"Incremental: {pass_.pieces} piece(s) so far read {parents_read(pass_)}; the pass is {where}"
