"""The one building block for work on threads (``cm_source.concurrency``): how far ahead it starts work,
in what order it hands results back, and what a failure does."""

from __future__ import annotations

import threading

import pytest

from cm_source.concurrency import WorkAhead


def test_results_come_back_in_order_with_never_more_than_ahead_started_and_not_handed_back() -> None:
    counts = {"begun": 0, "handed": 0, "most": 0}
    lock = threading.Lock()

    def task(n: int) -> int:
        with lock:
            counts["begun"] += 1
            counts["most"] = max(counts["most"], counts["begun"] - counts["handed"])
        return n * n

    handed = []
    for result in WorkAhead((lambda n=n: task(n) for n in range(50)), workers=4, ahead=5):
        with lock:
            counts["handed"] += 1
        handed.append(result)
    assert handed == [n * n for n in range(50)] and counts["begun"] == 50 and counts["most"] <= 5


def test_in_order_a_failure_is_raised_in_its_place_and_later_tasks_stop_starting() -> None:
    def task(n: int) -> int:
        if n == 3:
            raise ValueError("task 3")
        return n

    work = WorkAhead((lambda n=n: task(n) for n in range(100)), workers=2, ahead=2)
    handed = []
    with pytest.raises(ValueError, match="task 3"):
        for result in work:
            handed.append(result)
    assert handed == [0, 1, 2] and work.started < 10


def test_as_they_finish_every_task_that_ran_is_handed_back_before_the_failure() -> None:
    together = threading.Barrier(4)  # the first four tasks all run when the failure happens

    def task(n: int) -> int:
        if n < 4:
            together.wait()
        if n == 0:
            raise RuntimeError("refused for good")
        return n

    work = WorkAhead((lambda n=n: task(n) for n in range(40)), workers=4, ahead=4, ordered=False)
    handed = []
    with pytest.raises(RuntimeError, match="refused for good"):
        for result in work:
            handed.append(result)
    assert {1, 2, 3} <= set(handed) and len(handed) == work.started - 1  # a write sent is a write recorded


def test_as_they_finish_nothing_starts_once_a_failure_is_seen() -> None:
    def task(n: int) -> int:
        if n == 0:
            raise RuntimeError("refused for good")
        return n

    work = WorkAhead((lambda n=n: task(n) for n in range(40)), workers=1, ahead=1, ordered=False)
    with pytest.raises(RuntimeError, match="refused for good"):
        list(work)
    assert work.started == 1


def test_a_task_source_that_grows_after_running_out_is_asked_again() -> None:
    class Pages:
        def __init__(self) -> None:
            self.page, self.last = 1, 2

        def __iter__(self) -> Pages:
            return self

        def __next__(self):  # type: ignore[no-untyped-def]
            if self.page > self.last:
                raise StopIteration
            self.page += 1
            return lambda page=self.page - 1: page

    pages = Pages()
    work = iter(WorkAhead(pages, workers=2, ahead=3))
    got = [next(work), next(work)]
    pages.last = 4  # an answer said there are more pages
    got += list(work)
    assert got == [1, 2, 3, 4]


def test_work_whose_results_may_be_dropped_is_not_waited_for_on_close() -> None:
    """Pages read ahead may be held by a rate window of minutes: a read that stops early (its data moved)
    must not wait for them."""
    release = threading.Event()

    def task(n: int) -> int:
        if n > 0:
            release.wait(60)  # a page held by the rate window
        return n

    work = WorkAhead((lambda n=n: task(n) for n in range(3)), workers=3, finish_on_close=False)
    first = next(iter(work))
    closing = threading.Thread(target=work.close)
    closing.start()
    closing.join(timeout=10)
    stuck = closing.is_alive()
    release.set()
    assert first == 0 and not stuck
