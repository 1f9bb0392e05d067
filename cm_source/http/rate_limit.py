"""Campaign Monitor's rate limit, shared by every reader thread: each request is admitted by one pacer.

The API announces its budget on every answer (``X-RateLimit-Limit``, ``-Remaining``, and ``-Reset``,
whole seconds to the end of the window). A client that waits for 429s spends its budget, is refused,
and waits out the reset; one that reads the headers can stop just before the budget runs out and
start again as the next window opens, so nothing is refused. Two processes on one key see the same
headers, so they share the budget without a coordinator; a 429 the headers did not predict means
someone else spends it, and from then on a margin of requests is left for them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from .retry import seconds_header

# Answers without a refusal that raise the number in flight by one again, per request now allowed in flight.
SUCCESSES_TO_GROW = 10
# The most other clients on the key that this client makes room for (a share of the slots each).
MOST_OTHERS = 4
# 429s closer together than this are one burst, answered with one cut of the number in flight.
CUT_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class Ticket:
    """One admitted request: its place in the order of sending, and how long it was held back."""

    number: int
    sent_at: float
    waited_s: float


@dataclass(frozen=True)
class Announced:
    """What an answer says of the budget: requests left in the window, seconds to its end, and the
    window's size where it is given."""

    remaining: int
    reset_s: float
    limit: int | None

    @classmethod
    def read(cls, response: requests.Response) -> Announced | None:
        remaining = seconds_header(response, "X-RateLimit-Remaining")
        reset = seconds_header(response, "X-RateLimit-Reset")
        if remaining is None or reset is None:
            return None
        limit = seconds_header(response, "X-RateLimit-Limit")
        return cls(int(remaining), reset, None if limit is None else int(limit))


class RequestPacer:
    """Admits every request of one account: a slot among those in flight, within the announced budget.

    - **The budget.** ``left`` is what the latest answers announced, less the requests this client sent
      after them (those the server had not counted yet). When nothing is left, every reader waits until
      the window has surely ended: the earliest "answer received + Reset" seen in it, as Reset is rounded
      up to whole seconds. Answers to requests sent before that window began are stale and ignored.
    - **Other clients on the key** show in the headers: more of the window used than this client
      sent in it. From then on this client keeps its share of the slots in flight (``max_in_flight``
      split among itself and the others, reckoned from how much more they used than it did, up to
      ``MOST_OTHERS``), so that together they have about one full set in flight, and a margin of what
      the others may have in flight is left unspent, until a whole window goes by without a sign of
      them. A 429 with headers holds every reader for its Reset; if the budget said there was room,
      the margin grows by another set.
    - **429s without headers** (some accounts get no rate headers at all): the reset is waited out
      as before, and the number in flight is halved, then raised by one every ``SUCCESSES_TO_GROW``
      answers per slot, up to ``max_in_flight``.
    """

    def __init__(
        self, max_in_flight: int, sleep: Callable[[float], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_in_flight = max_in_flight
        self.allowed_in_flight = max_in_flight
        self.margin = 0
        self.shared_in_flight = max_in_flight  # this client's share of the slots while others spend the budget
        self._sleep = sleep
        self._clock = clock
        self._changed = threading.Condition()
        self._in_flight: set[int] = set()
        self._sent = 0
        self._held_until = 0.0
        self._left: int | None = None  # None: no answer of the current window yet
        self._window_ends = 0.0
        self._window_began = -math.inf
        self._sent_in_window = 0
        self._others_seen = False  # another client seen spending in this window
        self._successes = 0
        self._last_cut = -math.inf
        self._window_size: tuple[int, float] | None = None  # the largest Limit and Reset announced
        self._hold_ends = -math.inf
        self.held_s = 0.0  # wall time during which requests were held for the budget or a 429

    def rate_window(self) -> tuple[int, float] | None:
        """The window the API announces: its requests and (the longest Reset seen) its seconds."""
        return self._window_size

    def holding(self) -> bool:
        """Whether requests are being held for the budget or a 429 now."""
        return self._clock() < self._hold_ends

    def _note_hold(self, now: float, delay: float) -> None:
        """Count a hold in ``held_s`` once, however many readers wait through it together."""
        ends = now + delay
        if ends > self._hold_ends:
            self.held_s += ends - max(now, self._hold_ends)
            self._hold_ends = ends

    def admit(self) -> Ticket:
        """Wait for a slot and for the budget; the waits are slept, so tests can pass a recording sleep."""
        waited, slept_until = 0.0, -math.inf
        while True:
            with self._changed:
                while len(self._in_flight) >= min(self.allowed_in_flight, self.shared_in_flight):
                    self._changed.wait()
                now = max(self._clock(), slept_until)
                delay = self._wait_at(now)
                if delay <= 0:
                    self._sent += 1
                    self._sent_in_window += 1
                    self._in_flight.add(self._sent)
                    if self._left is not None:
                        self._left -= 1
                    return Ticket(self._sent, now, waited)
                self._note_hold(now, delay)
            self._sleep(delay)
            waited += delay
            slept_until = now + delay

    def _wait_at(self, now: float) -> float:
        """Seconds until a request may leave at ``now``: a 429's hold, or the end of a spent window."""
        delay = self._held_until - now
        if self._left is not None:
            if now >= self._window_ends:
                self._new_window(now)
            elif self._left <= self.margin:
                delay = max(delay, self._window_ends - now)
        return delay

    def _new_window(self, now: float) -> None:
        """The window is over: the next answer tells the new one's budget; a margin kept for another
        client lapses if the window went by without a sign of it."""
        self._left, self._window_began, self._sent_in_window = None, now, 0
        if not self._others_seen:
            self.margin, self.shared_in_flight = 0, self.max_in_flight
        self._others_seen = False

    def answered(self, ticket: Ticket, response: requests.Response | None, hold_s: float | None = None) -> None:
        """Note an answer (None: no answer came): free its slot, and learn the budget it announces.
        ``hold_s`` holds every reader that long after a 429 that will be retried."""
        with self._changed:
            self._in_flight.discard(ticket.number)
            now = self._clock()
            announced = Announced.read(response) if response is not None else None
            if response is not None and response.status_code == 429:
                self._refused(now, announced, hold_s)
            elif response is not None:
                self._grow()
            if announced is not None and ticket.sent_at >= self._window_began:
                self._learn(ticket, announced, now)
            self._changed.notify_all()

    def _learn(self, ticket: Ticket, announced: Announced, now: float) -> None:
        if announced.limit:
            seconds = max(announced.reset_s, self._window_size[1] if self._window_size else 0.0)
            self._window_size = (announced.limit, seconds)
        not_counted = sum(number > ticket.number for number in self._in_flight)
        left = announced.remaining - not_counted
        ends = now + announced.reset_s
        others_used = announced.limit - announced.remaining - self._sent_in_window if announced.limit else 0
        if others_used > 0:  # more of the window is used than this client sent in it
            self._others_seen = True
            # each other client spending about as much as this one may have a full set in flight
            others = min(MOST_OTHERS, max(1, math.ceil(others_used / max(1, self._sent_in_window))))
            self.shared_in_flight = max(1, min(self.shared_in_flight, self.max_in_flight // (others + 1)))
            # what the others may have in flight, not yet counted by the server (this client's own
            # uncounted requests are already taken off ``left``)
            self.margin = max(self.margin, others * self.shared_in_flight)
        if self._left is None:
            self._left, self._window_ends = left, ends
        else:
            self._left, self._window_ends = min(self._left, left), min(self._window_ends, ends)

    def _refused(self, now: float, announced: Announced | None, hold_s: float | None) -> None:
        if announced is None:
            if now - self._last_cut >= CUT_INTERVAL_SECONDS:
                self.allowed_in_flight = max(1, self.allowed_in_flight // 2)
                self._successes, self._last_cut = 0, now
        elif self._left is None or self._left > self.margin:
            self.margin = min(self.margin + self.max_in_flight, 10 * self.max_in_flight)
        if hold_s:
            self._held_until = max(self._held_until, now + hold_s)

    def _grow(self) -> None:
        if self.allowed_in_flight >= self.max_in_flight:
            return
        self._successes += 1
        if self._successes >= SUCCESSES_TO_GROW * self.allowed_in_flight:
            self.allowed_in_flight += 1
            self._successes = 0
