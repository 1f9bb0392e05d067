"""How far a run has got and how long the rest takes, once every parent the run reads under is known.

A run cannot know its work up front without asking for it (``plan`` does, at a few requests per client),
but it learns the counts early: the clients first, then each client's campaigns, lists, segments and
journeys, then each journey's emails; these listings are a few requests each. Once every listing the
selected tables are read under is done, each table's work is its parents, and a parent's cost is what the
table's finished parents cost so far (its pages per parent; a table not begun costs what its siblings
under the same parent cost, or a page). What is left, at the pace the API's rate window allows (or, with
no window, the pace so far), is the time left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from .catalogue import ENDPOINTS, ENDPOINTS_BY_TABLE, shares_an_earlier_answer

COUNT_SAMPLES = 5  # summaries seen before the share of a report table's empty reports is trusted


@dataclass
class Outlook:
    """Per table: parents listed (for a parent table, the rows it read) and parents whose reads ended."""

    selected: tuple[str, ...] = ()  # the tables the run loads, once the extract began
    listed: Counter[str] = field(default_factory=Counter)  # parent table → rows read so far
    done: Counter[str] = field(default_factory=Counter)  # table → parents whose reads ended (or were left out)
    empty: Counter[str] = field(default_factory=Counter)  # table → parents its count said were empty (no request)
    counted: Counter[str] = field(default_factory=Counter)  # table → summaries seen that count its rows
    nonempty: Counter[str] = field(default_factory=Counter)  # table → of those, the ones counting some

    def expected(self) -> dict[str, int] | None:
        """Table → the parents it is read under, for every selected table and every table above one;
        None until every listing they hang from is done."""
        needed = set(self.selected)
        for table in list(needed):
            parent = ENDPOINTS_BY_TABLE[table].parent
            while parent is not None:
                needed.add(parent)
                parent = ENDPOINTS_BY_TABLE[parent].parent
        expected: dict[str, int] = {}
        for endpoint in ENDPOINTS:  # parents before their children
            if endpoint.table not in needed:
                continue
            if endpoint.parent is None:
                expected[endpoint.table] = 1
                if not self.done[endpoint.table]:
                    return None
                continue
            if self.done[endpoint.parent] < expected[endpoint.parent]:
                return None  # the parent's listing is still being read: its rows are not all known
            expected[endpoint.table] = self.listed[endpoint.parent]
            counted = endpoint.counted_by
            if endpoint.table in self.selected and counted is not None and counted.answer:
                if self.counted[endpoint.table] < min(COUNT_SAMPLES, expected[endpoint.table]):
                    return None  # too few summaries yet to say how many of its reports are empty
        return expected

    def pages_left(self, pages: Mapping[str, int]) -> float | None:
        """The pages the selected tables have still to read: a parent's pages as the table's parents read
        so far cost (or its siblings', or one), times the share of parents it reads at all (the summaries
        seen say which reports are empty, else the parents done so far)."""
        expected = self.expected()
        if expected is None or not self.selected:
            return None
        per_read = {t: pages.get(t, 0) / self.read(t) for t in self.selected if self.read(t) and pages.get(t)}
        left = 0.0
        for table in self.selected:
            if shares_an_earlier_answer(ENDPOINTS_BY_TABLE[table]):
                continue  # one request for the tables that share an answer (a campaign's lists and segments)
            cost = per_read.get(table) or sibling_cost(table, per_read)
            left += max(expected[table] - self.done[table], 0) * self.share_read(table) * cost
        return left

    def read(self, table: str) -> int:
        """Parents the table sent requests for: those done, less those its count said were empty."""
        return self.done[table] - self.empty[table]

    def share_read(self, table: str) -> float:
        if self.counted[table]:
            return self.nonempty[table] / self.counted[table]
        return self.read(table) / self.done[table] if self.done[table] else 1.0


def sibling_cost(table: str, per_read: Mapping[str, float]) -> float:
    """A parent's pages for a table not begun: what the tables under the same parent cost, or one page."""
    parent = ENDPOINTS_BY_TABLE[table].parent
    costs = [cost for other, cost in per_read.items() if ENDPOINTS_BY_TABLE[other].parent == parent]
    return sum(costs) / len(costs) if costs else 1.0


def share_and_seconds_left(
    outlook: Outlook, pages: Mapping[str, int], requests: int, pace: float | None, ahead: int = 0
) -> tuple[float, float | None] | None:
    """The share of the run's requests sent and the seconds left at ``pace`` (requests a second); None
    until the parents are known. ``ahead``: requests already sent for pages not yet read (a summary asked
    for its counts before its own table reads it). The pages left are turned into requests at the run's
    own ratio of requests to pages that took one (details add requests; a second table reading the same
    answer adds none), so the share and the time left come from one count of the requests to go."""
    left = outlook.pages_left(pages)
    if left is None or requests <= 0:
        return None
    asked = ahead + sum(n for table, n in pages.items() if not shares_an_earlier_answer(ENDPOINTS_BY_TABLE[table]))
    requests_left = max(left - ahead, 0.0) * requests / max(asked, 1)
    share = requests / (requests + requests_left)
    seconds = requests_left / pace if pace else None
    return share, seconds


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 20 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
