"""Locks that hold across processes, for files that processes started together share: a pipeline's folder,
a DuckDB file, the OAuth token file, a write's checkpoint log.

``filelock`` takes the operating system's lock on a file beside the shared one (``flock`` on Unix), which
the system lets go when the process holding it dies: a killed run never leaves the others waiting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout


@contextlib.contextmanager
def held(lock_file: Path, waiting: str, say: Callable[[str], None], timeout: float | None = None) -> Iterator[None]:
    """The lock ``lock_file`` held for the block. When another process holds it first, ``waiting`` is
    said once and this one waits: for ever, or ``timeout`` seconds before raising filelock's ``Timeout``."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        say(waiting)
        lock.acquire(timeout=-1 if timeout is None else timeout)
    try:
        yield
    finally:
        lock.release()
