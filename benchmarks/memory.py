"""What a benchmark process measures about itself: peak and current RSS, CPU time, RSS over time.

The workers import this, so it imports nothing of the connector or the sandbox: a worker's peak RSS
is then the work's, not the benchmark's.
"""

from __future__ import annotations

import os
import resource
import threading
import time


def peak_rss_mb(pid: str = "self") -> float:
    """This process's (or process ``pid``'s) peak resident set size so far: VmHWM, the high-water mark of
    its own address space; 0 once that process is gone.

    Not getrusage's ru_maxrss: Linux carries that over from the parent across fork+exec, so every worker
    would report at least the benchmark process's RSS at the moment it was started.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        if pid != "self":
            return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """This process's resident set size now."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def process_cpu_s() -> float:
    """CPU seconds this process has used, every thread counted."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RssSampler(threading.Thread):
    """Samples this process's RSS ten times a second, so peaks can be put down to dlt's steps."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.time(), current_rss_mb()))
            self.stop.wait(0.1)

    def finish(self) -> None:
        self.stop.set()
        self.join()

    def peak_between(self, start: float, end: float) -> float | None:
        inside = [rss for moment, rss in self.samples if start <= moment <= end]
        return max(inside) if inside else None
