"""Work on a few threads at once: the connector's one building block for it.

Campaign Monitor is 100–300 ms away and answers one page or one address per request, so every part that
sends many requests keeps a few in flight: the pages of a long list read ahead, a table read under
thousands of parents, the reconcile's questions about single addresses, imports converted one ahead, and
the write side's one request per address. Two shapes cover them all:

- ``WorkAhead``: tasks (calls with no arguments) run on up to ``workers`` threads, never more than
  ``ahead`` started and not yet handed back, their results handed back in order or as they finish;
- ``merged_streams``: readers (generators) run on up to ``workers`` threads, their items handed back as
  they come through a bounded queue, so memory stays flat however fast they read.

Both share one rule for failures: the first one stops new work from starting and is raised where the
results are taken, after any result already finished (a write that was sent is always accounted for);
closing early stops new work too.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class WorkAhead(Generic[T]):
    """``tasks`` run on up to ``workers`` threads, at most ``ahead`` (default ``workers``) started and not
    yet handed back, the first of them started as soon as this is made (so a caller can do other work,
    such as handing on a first page, while they run).

    Iterating hands the results back in the tasks' order (``ordered``), or as each finishes; more tasks
    are started each time the caller asks for the next result, so what it learned from the last one
    counts (``tasks`` is asked again each time: an iterator that ran out may give more later, as a
    paged read whose page count grew). A failed task stops new ones from starting; in order, it is
    raised in its place; as they finish, the tasks running are handed back first, then it is raised.
    """

    def __init__(
        self,
        tasks: Iterable[Callable[[], T]],
        workers: int,
        ahead: int | None = None,
        ordered: bool = True,
        name: str = "cm-work",
        finish_on_close: bool = True,
    ) -> None:
        self._tasks = iter(tasks)
        self._finish_on_close = finish_on_close
        self._ahead = max(1, ahead or workers)
        self._ordered = ordered
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix=name)
        self._running: deque[Future[T]] = deque()
        self.started = 0  # tasks started so far (a write's requests sent)
        self._stopped = False
        self._top_up()

    def _top_up(self) -> None:
        while not self._stopped and len(self._running) < self._ahead:
            task = next(self._tasks, None)
            if task is None:
                return
            self._running.append(self._pool.submit(task))
            self.started += 1

    def __enter__(self) -> WorkAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        try:
            yield from self._in_order() if self._ordered else self._as_finished()
        finally:
            self.close()

    def _in_order(self) -> Iterator[T]:
        while True:
            self._top_up()
            if not self._running:
                return
            yield self._running.popleft().result()  # a task's failure is raised here, in its place

    def _as_finished(self) -> Iterator[T]:
        failure: BaseException | None = None
        while True:
            self._top_up()
            if not self._running:
                break
            finished, _ = wait(self._running, return_when=FIRST_COMPLETED)
            for future in finished:
                self._running.remove(future)
                try:
                    result = future.result()
                except BaseException as exc:  # noqa: BLE001 - raised below, once the tasks running are handed back
                    failure, self._stopped = failure or exc, True
                    continue
                yield result
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Start nothing more: what has not started is dropped, and what runs is waited for, so no
        thread is left working on what its caller has let go of; unless ``finish_on_close`` is off,
        for tasks whose results may simply be dropped (pages read ahead, which may be waiting out a
        rate window of minutes)."""
        self._stopped = True
        self._pool.shutdown(wait=self._finish_on_close, cancel_futures=True)


def one_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items`` in order, the next one already being made on a worker thread while the caller holds this
    one. Errors are raised here, after the items made before them."""
    # one thread, so the items are made one after another; two ahead, so one is being made while the
    # caller holds the last one handed back
    made = WorkAhead(itertools.repeat(lambda: next(items, _DONE)), workers=1, ahead=2, name="cm-one-ahead")
    for item in made:
        if item is _DONE:
            return
        yield item  # type: ignore[misc]


def merged_streams(readers: Iterable[Callable[[], Iterator[T]]], workers: int) -> Iterator[T]:
    """Run each reader on one of up to ``workers`` threads and yield their items as they arrive.

    A fan-out over thousands of campaigns is bound by latency, not by this machine, so readers run
    side by side. Readers are taken from ``readers`` only as a thread is free for one, so a fan-out
    holds a reader per thread, not one per parent; the hand-over queue holds two items per worker,
    which keeps memory flat however fast the readers are; the first error stops the other readers and
    is raised here, and so is closing this generator early.
    """
    pending = iter(readers)
    first = list(itertools.islice(pending, 2))
    if workers <= 1 or len(first) <= 1:
        for reader in itertools.chain(first, pending):
            yield from reader()
        return
    crew = _Crew(itertools.chain(first, pending), workers)
    try:
        while crew.running:
            yield from crew.take()
    finally:
        crew.stop.set()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Crew(Generic[T]):
    """The worker threads of one ``merged_streams`` and the bounded queue they hand their items over in."""

    def __init__(self, pending: Iterator[Callable[[], Iterator[T]]], workers: int) -> None:
        self.pending = pending
        self.handed_over: queue.Queue[object] = queue.Queue(maxsize=2 * workers)
        self.stop = threading.Event()
        self._take_lock = threading.Lock()
        threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
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
                with self._take_lock:  # the readers are made as they are taken, one thread at a time
                    reader = next(self.pending, None)
                if reader is None:
                    return
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
