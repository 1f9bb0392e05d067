"""When to try a request again, and how long to wait first.

dlt's retrying session honours only ``Retry-After``; Campaign Monitor sends ``X-RateLimit-Reset``
(seconds to wait) or nothing at all, so retries are decided here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A reset connection, a timeout and a body cut short all end up as one of these.
RETRY_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def seconds_header(response: requests.Response, name: str) -> float | None:
    """A header that counts seconds (or requests), None when absent or not a number."""
    try:
        return max(float(response.headers[name]), 0.0)
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up; every wait is configurable so tests need not wait for real."""

    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so parallel readers do not retry in step."""
        return min(self.backoff_seconds * 2 ** (attempt - 1), self.max_wait_seconds) * random.uniform(0.5, 1.0)

    def wait_after(self, response: requests.Response | None, attempt: int) -> float:
        """A 429's ``X-RateLimit-Reset`` where it gives one, else the backoff."""
        reset = seconds_header(response, "X-RateLimit-Reset") if response is not None else None
        if response is not None and response.status_code == 429 and reset is not None:
            return min(reset, self.max_wait_seconds)
        return self.backoff(attempt)
