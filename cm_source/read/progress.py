"""What a run has done so far: requests, pages per table, 429s waited out, and each table's wall time.

Shown while the run goes through the running pipeline's dlt progress collector (``dlt.pipeline(progress=…)``:
a live bar on a terminal, a log line every few seconds otherwise), beside dlt's own rows per table, and
kept for the closing summary. Readers on many threads report here, so every update takes one lock.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from dlt.common.pipeline import current_pipeline

logger = logging.getLogger(__name__)


@dataclass
class TableFigures:
    pages: int = 0
    first_request: Optional[float] = None
    last_page: Optional[float] = None

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
    tables: Dict[str, TableFigures] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)  # what the run decided that changes what it reads
    collector: Any = None  # the running pipeline's, found by attach()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self) -> None:
        """Find the running pipeline's collector; called where dlt runs the source's code, because the
        reader threads, which report, do not see dlt's current pipeline."""
        pipeline = current_pipeline()
        if pipeline is not None and self.collector is None:
            self.collector = pipeline.collector

    def _show(self, name: str, inc: int, label: str = "", message: Optional[str] = None) -> None:
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

    def page(self, table: str) -> None:
        with self._lock:
            figures = self.tables.setdefault(table, TableFigures())
            figures.pages += 1
            figures.last_page = time.monotonic()
            self._show("Pages", 1, label=table)
