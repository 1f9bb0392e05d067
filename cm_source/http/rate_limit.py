"""Campaign Monitor's rate limit, shared by every reader thread: one gate, opened again at the reset."""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

import requests

from .retry import seconds_header


def budget_wait(response: requests.Response, others_in_flight: int, max_wait_seconds: float) -> Optional[float]:
    """How long every reader should hold off once the rate-limit budget runs out, if at all.

    Only a spent budget holds requests back, until ``X-RateLimit-Reset``: what is left
    (``X-RateLimit-Remaining``) is spent anyway by the requests already in flight. Slowing down
    earlier leaves allowed requests unused.
    """
    remaining = seconds_header(response, "X-RateLimit-Remaining")
    reset = seconds_header(response, "X-RateLimit-Reset")
    if remaining is not None and reset is not None and remaining <= others_in_flight:
        return min(reset, max_wait_seconds)
    return None


class RateGate:
    """The earliest moment the next request may leave, shared by every reader thread.

    A 429 or an exhausted budget seen by one thread holds back all of them: threads that each
    waited on their own would wake together and trip the limit again, a storm of 429s.
    """

    def __init__(self, sleep: Callable[[float], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._sleep = sleep
        self._clock = clock
        self._opens_at = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._opens_at = max(self._opens_at, self._clock() + seconds)

    def wait(self) -> float:
        """Wait until the gate opens; the seconds waited (0 when it was open)."""
        with self._lock:
            delay = self._opens_at - self._clock()
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0
