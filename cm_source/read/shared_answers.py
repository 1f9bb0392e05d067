"""Answers that several tables read under one parent: a campaign's summary (its own table, and the counts
that say which of its reports are empty) and its lists and segments (two tables). Each is asked once per
parent, handed to every table that reads it, and let go when the last has taken it, so what is held does
not grow with the campaigns read."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .catalogue import TABLES, answer_readers


@dataclass
class _Answer:
    taken: int = 0
    value: Any = None
    error: BaseException | None = None
    ready: threading.Event = field(default_factory=threading.Event)


class SharedAnswers:
    """One answer per path for the tables that share it, on whichever reader thread asks first."""

    def __init__(self, get: Callable[[str], Any]) -> None:
        self._get = get
        self._lock = threading.Lock()
        self._answers: dict[str, _Answer] = {}
        self.selected: tuple[str, ...] = TABLES  # the tables the run loads, once the extract began
        self.own_takes = 0  # answers taken by a table whose own rows they are (it asked for them before)
        self.fetches = 0  # answers asked for

    def take(self, template: str, path: str, own: bool) -> Any:
        """The answer at ``path`` (read under ``template``), asked for by the first table that takes it;
        ``own`` when it is the taking table's own rows."""
        readers = answer_readers(template, self.selected)
        with self._lock:
            self.own_takes += own
            answer = self._answers.get(path) if readers > 1 else None
            ask = answer is None
            if answer is None:
                answer = _Answer()
                if readers > 1:
                    self._answers[path] = answer
                self.fetches += 1
            answer.taken += 1
            if answer.taken >= readers:
                self._answers.pop(path, None)
        if ask:
            try:
                answer.value = self._get(path)
            except BaseException as error:  # each table that takes it fails as it would have on its own
                answer.error = error
            finally:
                answer.ready.set()
        answer.ready.wait()
        if answer.error is not None:
            raise answer.error
        return answer.value

    @property
    def saved(self) -> int:
        """Requests the tables would have sent for their own rows, less those sent."""
        return self.own_takes - self.fetches
