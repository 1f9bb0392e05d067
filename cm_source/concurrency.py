"""Work on other threads, handed back in order: many endpoints read at once, the next import prepared early."""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Deque, Iterable, Iterator, List, Optional, TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_concurrently(
    readers: Iterable[Callable[[], Iterator[T]]],
    workers: int,
    combine: Optional[Callable[[List[T]], Iterable[T]]] = None,
) -> Iterator[T]:
    """Run each reader on one of up to ``workers`` threads and yield their items as they arrive.

    A fan-out over thousands of campaigns is bound by latency, not by this machine, so readers run
    side by side. The hand-over queue holds two items per worker, which keeps memory flat however
    fast the readers are; the first error stops the other readers and is raised here, and so is
    closing this generator early. Items that are waiting together when the caller comes back for
    more go through ``combine`` as one list: the slower the caller, the fewer and larger its items.
    """
    pending: Deque[Callable[[], Iterator[T]]] = deque(readers)
    if workers <= 1 or len(pending) <= 1:
        for reader in pending:
            yield from reader()
        return
    handed_over: "queue.Queue[object]" = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()
    take_lock = threading.Lock()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                handed_over.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                with take_lock:
                    if not pending:
                        return
                    reader = pending.popleft()
                for item in reader():
                    if not hand_over(item):
                        return
        except BaseException as error:  # handed to the consumer, who raises it
            hand_over(_Failure(error))
        finally:
            hand_over(_DONE)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(workers, len(pending)))]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            arrived: List[T] = []
            item = handed_over.get()
            while True:
                if item is _DONE:
                    running -= 1
                elif isinstance(item, _Failure):
                    raise item.error
                else:
                    arrived.append(item)  # type: ignore[arg-type]
                if combine is None or not running:
                    break
                try:
                    item = handed_over.get_nowait()
                except queue.Empty:
                    break
            if arrived:
                yield from combine(arrived) if combine is not None else arrived
    finally:
        stop.set()


def one_ahead(items: Iterator[T]) -> Iterator[T]:
    """Yield ``items`` in order while the next one is already being made on a worker thread.

    The write side converts rows (E.164 above all) at about the pace the sandbox answers an import,
    so converting the next import while this one is in flight takes that work off the wall time.
    Errors are raised here; closing early waits for at most the one item under way.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cm-one-ahead") as worker:
        upcoming = worker.submit(next, items, _DONE)
        while True:
            item = upcoming.result()
            if item is _DONE:
                return
            upcoming = worker.submit(next, items, _DONE)
            yield item  # type: ignore[misc]
