"""Answers that several tables read under one parent: a campaign's summary (its own table, and the counts
that say which of its reports are empty) and its lists and segments (two tables). Each is asked once per
parent, handed to every table that reads it, and let go when the last has taken it, so what is held does
not grow with the campaigns read."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from .catalogue import TABLES, answer_readers, count_fields, counted_tables, read_as_rows

_ASKED = object()  # an answer being asked for by the table that took it first


class SharedAnswers:
    """One answer per path for the tables that share it, on whichever reader thread asks first. An answer
    is held from its first taker to its last: the tables read the same parents in the same order, so
    what is held is the few answers between the fastest of them and the slowest."""

    def __init__(self, get: Callable[[str], Any]) -> None:
        self._get = get
        self._changed = threading.Condition()
        self._answers: dict[str, Any] = {}  # path → the answer, _ASKED, or the error it raised
        self._taken: dict[str, int] = {}
        self.selected: tuple[str, ...] = TABLES  # the tables the run loads, once the extract began
        self.own_takes = 0  # answers taken by a table whose own rows they are (it asked for them before)
        self.fetches = 0  # answers asked for
        self._ahead: set[str] = set()  # answers asked for their counts that their own table has not yet read
        self.kept: KeptCounts | None = None  # an incremental run's counts kept across its pieces
        self.on_counts: Callable[[dict[str, bool]], None] | None = None  # told which tables a summary counts

    def take(self, template: str, path: str, own: bool) -> Any:
        """The answer at ``path`` (read under ``template``), asked for by the first table that takes it;
        ``own`` when it is the taking table's own rows."""
        readers = answer_readers(template, self.selected)
        with self._changed:
            if not own and path not in self._answers and self.kept is not None:
                counts = self.kept.counts_of(path)
                if counts is not None:  # a summary an earlier piece read: its counts, with no request
                    return counts
            self.own_takes += own
            ask = path not in self._answers
            if ask:
                self.fetches += 1
                self._answers[path] = _ASKED
                if not own and read_as_rows(template, self.selected):
                    self._ahead.add(path)
            elif own:
                self._ahead.discard(path)
        if ask:
            try:
                answer: Any = self._get(path)
            except BaseException as error:  # each table that takes it fails as it would have on its own
                answer = _Failed(error)
            if isinstance(answer, dict) and count_fields(template):
                if self.kept is not None:
                    self.kept.keep_counts(path, {name: answer.get(name) for name in count_fields(template)})
                if self.on_counts is not None:
                    self.on_counts(counted_tables(template, answer, self.selected))
            with self._changed:
                self._answers[path] = answer
                self._changed.notify_all()
        with self._changed:
            self._changed.wait_for(lambda: self._answers[path] is not _ASKED)
            answer = self._answers[path]
            self._taken[path] = taken = self._taken.get(path, 0) + 1
            if taken >= readers:  # the last taker lets it go, and its counts are needed no more
                del self._answers[path], self._taken[path]
                if self.kept is not None:
                    self.kept.drop_counts(path)
        if isinstance(answer, _Failed):
            raise answer.error
        return answer

    def held(self, path: str) -> bool:
        """Whether the answer at ``path`` is held now (another table asked for it): taking it costs nothing."""
        with self._changed:
            return path in self._answers

    @property
    def ahead(self) -> int:
        """Requests sent for a table's pages before that table read them (a summary asked for its counts):
        sent already, so not among the pages the run has still to read."""
        with self._changed:
            return len(self._ahead)

    @property
    def saved(self) -> int:
        """Requests the tables would have sent for their own rows, less those sent."""
        return self.own_takes - self.fetches


class KeptCounts(Protocol):
    """Where an incremental run keeps the counts a summary gave, for the tables a later piece reads
    (``incremental_state.PassState``): the summary's own table reads it once a pass, the tables that
    count by it may read the campaign pieces later."""

    def counts_of(self, path: str) -> dict[str, Any] | None: ...
    def keep_counts(self, path: str, counts: dict[str, Any]) -> None: ...
    def drop_counts(self, path: str) -> None: ...


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error
