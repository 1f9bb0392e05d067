"""What a run has done so far: requests, pages per table, 429s waited out, and each table's wall time.

Shown while the run goes through the running pipeline's dlt progress collector (``dlt.pipeline(progress=…)``:
a live bar on a terminal, a log line every few seconds otherwise), beside dlt's own rows per table, and
kept for the closing summary. Readers on many threads report here, so every update takes one lock.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

from dlt.common.pipeline import current_pipeline
from dlt.common.runtime.collector import LogCollector

from ..http.rate_limit import RequestPacer
from .catalogue import ENDPOINTS
from .outlook import Outlook, duration, share_and_seconds_left
from .shared_answers import SharedAnswers

logger = logging.getLogger(__name__)
T = TypeVar("T")
TABLE_NAMES = frozenset(endpoint.table for endpoint in ENDPOINTS)


@dataclass
class TableFigures:
    pages: int = 0
    first_request: float | None = None
    last_page: float | None = None
    readers: int = 0  # reads of the table under way now

    @property
    def wall_s(self) -> float:
        """First request to last page: tables are read side by side, so these overlap."""
        if self.first_request is None or self.last_page is None:
            return 0.0
        return self.last_page - self.first_request


@dataclass
class RunProgress:
    requests: int = 0
    rate_limited: int = 0  # 429s answered, each waited out (or the run gave up)
    waited_s: float = 0.0  # time requests spent held at the shared rate gate
    tables: dict[str, TableFigures] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the run decided that changes what it reads
    collector: Any = None  # the running pipeline's, found by attach()
    gate: RequestPacer | None = None  # the client's rate gate: whether the API's rate window holds the run
    outlook: Outlook = field(default_factory=Outlook)  # parents listed and read: the share done, the time left
    empty_reports: int = 0  # reports not asked for: their count said they were empty
    answers: SharedAnswers | None = None  # the answers tables share: the requests that saved
    # Re-entrant: an update it shows may make the collector write a line, which reads these figures again.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def lock(self) -> threading.RLock:
        """The one lock of the figures, and of the progress line that shows them."""
        return self._lock

    def attach(self) -> None:
        """Find the running pipeline's collector; called where dlt runs the source's code, because the
        reader threads, which report, do not see dlt's current pipeline."""
        pipeline = current_pipeline()
        if pipeline is not None and self.collector is None:
            self.collector = pipeline.collector

    def _show(self, name: str, inc: int, label: str = "", message: str | None = None) -> None:
        if self.collector is not None:
            self.collector.update(name, inc=inc, label=label or None, message=message)

    def answered(self, status: int, waited_s: float) -> None:
        """One answer (``CampaignMonitorAPI.observer``)."""
        with self._lock:
            self.requests += 1
            self.waited_s += waited_s
            self.rate_limited += status == 429
            self._show("Requests", 1)
            if status == 429:
                self._show("429s waited out", 1, message=f"{self.waited_s:.0f} s held at the rate gate")

    def held(self) -> str | None:
        """What holds the run now, if the API's rate window does: ``held by the API's rate window: 50
        per 5 s``."""
        if self.gate is None or not self.gate.holding():
            return None
        window = self.gate.rate_window()
        if window is None:
            return "held by the API's rate limit"
        return f"held by the API's rate window: {window[0]:,} per {window[1]:.0f} s"

    @property
    def held_s(self) -> float:
        """Wall time the run was held by the API's rate window or its 429s."""
        return self.gate.held_s if self.gate is not None else 0.0

    def note(self, line: str) -> None:
        """A decision the user must hear of (a full read instead of an incremental one): logged as a
        warning now, for the Python call, and kept for the command's closing summary."""
        logger.warning(line)
        with self._lock:
            self.notes.append(line)

    def started(self, table: str) -> None:
        """A read of ``table`` is about to send its first request."""
        with self._lock:
            figures = self.tables.setdefault(table, TableFigures())
            figures.first_request = figures.first_request or time.monotonic()

    @contextlib.contextmanager
    def reading(self, table: str) -> Iterator[None]:
        """While a read of ``table`` (one batch of its parents) is under way."""
        with self._lock:
            self.tables.setdefault(table, TableFigures()).readers += 1
        try:
            yield
        finally:
            with self._lock:
                self.tables[table].readers -= 1

    def tables_read(self, among: Collection[str] | None = None) -> int:
        """Tables (``among`` these) whose reads began and none of which is under way now."""
        with self._lock:
            return sum(
                figures.first_request is not None and not figures.readers and (among is None or table in among)
                for table, figures in self.tables.items()
            )

    def longest_reading(self) -> tuple[str, float] | None:
        """The table still being read that began first, and for how long it has been read."""
        with self._lock:
            under_way = [
                (figures.first_request, table)
                for table, figures in self.tables.items()
                if figures.readers and figures.first_request is not None
            ]
        if not under_way:
            return None
        began, table = min(under_way)
        return table, time.monotonic() - began

    def empty_report(self, table: str) -> None:
        with self._lock:
            self.empty_reports += 1
            self.outlook.empty[table] += 1

    def summary_counts(self, counts: dict[str, bool]) -> None:
        """A summary's counts: table → whether it counts rows for the table (the share of reports read)."""
        with self._lock:
            for table, some in counts.items():
                self.outlook.counted[table] += 1
                self.outlook.nonempty[table] += some

    @property
    def saved(self) -> int:
        """Requests the run did not send: reports their counts said were empty, answers shared by tables."""
        return self.empty_reports + (self.answers.saved if self.answers is not None else 0)

    def listed(self, table: str, rows: int) -> None:
        """Rows of a table others are read under (clients, campaigns, lists, …): their parents."""
        with self._lock:
            self.outlook.listed[table] += rows

    def parents_done(self, table: str, parents: int = 1) -> None:
        """Parents under which ``table`` is read (or left out) in full."""
        with self._lock:
            self.outlook.done[table] += parents

    def counted(self, table: str, reader: Callable[[], Iterator[T]]) -> Callable[[], Iterator[T]]:
        """``reader`` (one parent's part of ``table``), counted among the table's parents once it ends."""

        def read() -> Iterator[T]:
            yield from reader()
            self.parents_done(table)

        return read

    def share_done(self) -> str | None:
        """``34% done, about 12 min left``, once every parent is known; the time at the API's rate window
        when one was announced, else at the pace so far."""
        with self._lock:
            pages = {table: figures.pages for table, figures in self.tables.items()}
            began = min((f.first_request for f in self.tables.values() if f.first_request), default=None)
            window = self.gate.rate_window() if self.gate is not None else None
            if window is not None:
                pace: float | None = window[0] / window[1]
            else:
                pace = self.requests / (time.monotonic() - began) if began and self.requests else None
            ahead = self.answers.ahead if self.answers is not None else 0
            outlook = share_and_seconds_left(self.outlook, pages, self.requests, pace, ahead)
        if outlook is None:
            return None
        share, seconds = outlook
        left = f", about {duration(seconds)} left" if seconds is not None else ""
        return f"{share:.0%} done{left}"

    def page(self, table: str) -> None:
        with self._lock:
            figures = self.tables.setdefault(table, TableFigures())
            figures.pages += 1
            figures.last_page = time.monotonic()
            self._show("Pages", 1, label=table)


class ProgressLine(LogCollector):
    """dlt's progress collector as one line per interval, for a run that lasts minutes to hours.

    Extracting: elapsed time, requests, 429s waited out, tables read (of ``tables``, where given), rows
    so far and the table still being read the longest. Normalizing and loading: the step's own counters
    (files, jobs) on one line. Written to a log line by line; on a terminal (``live``) the one line is
    rewritten in place. Give it to ``dlt.pipeline(progress=...)`` and the same ``RunProgress`` to the source.
    """

    def __init__(
        self,
        progress: RunProgress,
        tables: Collection[str] | None = None,
        log_period: float = 5.0,
        live: bool = False,
        stream: TextIO = sys.stdout,
    ) -> None:
        super().__init__(log_period=1.0 if live else log_period, logger=stream, dump_system_stats=False)
        self.progress = progress
        self.tables = tables
        self.rows = 0  # over the whole run: dlt starts its counters afresh for each part of a step
        self.last_line = ""
        self.live = live
        self.stream = stream
        self.began = time.monotonic()
        # A line is due every period even when nothing is reported (every reader held by the API's
        # rate window for minutes): a ticker asks for it. Updates come from the reader threads too, under
        # the figures' own lock, so the line takes that one lock: two would be taken in both orders.
        self._lock = progress.lock
        self._ticking: threading.Event | None = None

    def _start(self, step: str) -> None:
        with self._lock:
            super()._start(step)
        self._ticking = ticking = threading.Event()

        def tick() -> None:
            while not ticking.wait(max(self.log_period, 0.1)):
                with self._lock:
                    if self.counters is not None:
                        self.maybe_log()

        threading.Thread(target=tick, name="cm-progress", daemon=True).start()

    def update(
        self,
        name: str,
        inc: int = 1,
        total: int | None = None,
        inc_total: int | None = None,
        message: str | None = None,
        label: str | None = None,
    ) -> None:
        with self._lock:
            if str(self.step or "").startswith("Extract") and name.split("__")[0] in TABLE_NAMES:
                self.rows += inc
            super().update(name, inc, total, inc_total, message, label)  # type: ignore[arg-type]  # dlt's own None defaults

    def dump_counters(self) -> None:
        line = self.line()
        if line == self.last_line:
            return  # dlt ends and begins parts of a step at once: the same line again says nothing
        self.last_line = line
        if self.live:
            self.stream.write("\r" + line[:159].ljust(159))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _stop(self) -> None:
        if self._ticking is not None:
            self._ticking.set()
        with self._lock:
            super()._stop()
            if self.live:
                self.stream.write("\n")

    def line(self) -> str:
        elapsed = int(time.monotonic() - self.began)
        head = (
            f"{elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d} {str(self.step or '').split()[0].lower()}"
        )
        counters: dict[str, int] = self.counters or {}
        if not str(self.step or "").startswith("Extract"):
            steps = [
                f"{info.description.lower()} {counters[key]:,}" + (f"/{info.total:,}" if info.total else "")
                for key, info in (self.counter_info or {}).items()
                if key in ("Files", "Jobs")
            ]
            return " | ".join([head, *steps])
        read = self.progress.tables_read(self.tables)
        tables = f"tables {read}/{len(self.tables)}" if self.tables else f"tables {read} read"
        parts = [
            head,
            f"requests {self.progress.requests:,}",
            f"429s {self.progress.rate_limited:,}",
            tables,
            f"rows {self.rows:,}",
        ]
        held = self.progress.held()
        longest = self.progress.longest_reading()
        share = self.progress.share_done()
        if share is not None:
            parts.append(share)
        if held is not None:
            parts.append(held)
        elif longest is not None:
            parts.append(f"reading {longest[0]} for {longest[1]:.0f} s")
        return " | ".join(parts)
