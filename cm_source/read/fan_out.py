"""The fan-out: one table read under thousands of parent rows, several readers at once."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_concurrently(readers: Iterable[Callable[[], Iterator[T]]], workers: int) -> Iterator[T]:
    """Run each reader on one of up to ``workers`` threads and yield their items as they arrive.

    A fan-out over thousands of campaigns is bound by latency, not by this machine, so readers run
    side by side. The hand-over queue holds two items per worker, which keeps memory flat however
    fast the readers are; the first error stops the other readers and is raised here, and so is
    closing this generator early.
    """
    pending: deque[Callable[[], Iterator[T]]] = deque(readers)
    if workers <= 1 or len(pending) <= 1:
        for reader in pending:
            yield from reader()
        return
    crew = _Crew(pending, workers)
    try:
        while crew.running:
            yield from crew.take()
    finally:
        crew.stop.set()


class _Crew:
    """The worker threads of one fan-out and the bounded queue they hand their items over in."""

    def __init__(self, pending: deque[Callable[[], Iterator[T]]], workers: int) -> None:
        self.pending = pending
        self.handed_over: queue.Queue[object] = queue.Queue(maxsize=2 * workers)
        self.stop = threading.Event()
        self._take_lock = threading.Lock()
        threads = [threading.Thread(target=self._work, daemon=True) for _ in range(min(workers, len(pending)))]
        for thread in threads:
            thread.start()
        self.running = len(threads)

    def _hand_over(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.handed_over.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            while not self.stop.is_set():
                with self._take_lock:
                    if not self.pending:
                        return
                    reader = self.pending.popleft()
                for item in reader():
                    if not self._hand_over(item):
                        return
        except BaseException as error:  # handed to the consumer, who raises it
            self._hand_over(_Failure(error))
        finally:
            self._hand_over(_DONE)

    def take(self) -> list[T]:
        """The next item (waiting for it), none when a reader finished; raises a reader's error."""
        item = self.handed_over.get()
        if item is _DONE:
            self.running -= 1
            return []
        if isinstance(item, _Failure):
            raise item.error
        return [item]  # type: ignore[list-item]
