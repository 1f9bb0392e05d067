"""Writes already finished, so a re-run after an interruption does not send them again."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..private_files import open_private
from ..process_locks import held

logger = logging.getLogger(__name__)


class Checkpoint:
    """Results of writes already finished (imports, removals), so a re-run after an interruption does not
    send them again.

    A write is recognised by a hash of what it sends (an import's exact body, a removal's action and
    address): changed input is simply sent. The file is a log with one line per finished write, appended
    as each finishes, so recording the ten-thousandth removal costs what recording the first did; a line
    cut short by a kill is ignored (that write is sent again, which an upsert or a removal allows).

    Used as ``with Checkpoint(path) as checkpoint``: one process at a time writes with one log (two
    pushes to one list started together), so neither reads the other's half-written lines nor clears
    the log under the other. The second waits, saying so once.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.done: dict[str, dict[str, Any]] = {}
        self._lock = contextlib.ExitStack()

    def __enter__(self) -> Checkpoint:
        if self.path is None:
            return self
        waiting = f"another run is writing with the checkpoint {self.path}: waiting for it to finish"
        self._lock.enter_context(held(Path(f"{self.path}.lock"), waiting, logger.warning))
        self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.close()

    def _read(self) -> None:
        """The writes finished by earlier runs, from the log."""
        path = self.path
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.done[entry["key"]] = entry["result"]
                except (ValueError, KeyError, TypeError):
                    continue

    def key(self, list_id: str, body: bytes) -> str | None:
        """None without a checkpoint file: there is nothing to resume, so nothing is hashed."""
        if self.path is None:
            return None
        return hashlib.sha256(list_id.encode("utf-8") + b"\n" + body).hexdigest()

    def once(self, list_id: str, body: bytes, send: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """The answer to the write ``body`` to ``list_id``: the one recorded by an earlier run (and True),
        or ``send``'s, recorded now (and False)."""
        key = self.key(list_id, body)
        if key in self.done:
            return self.done[key], True
        result = send()
        self.record(key, result)
        return result, False

    def record(self, key: str | None, result: dict[str, Any]) -> None:
        if key is None or self.path is None:
            return
        self.done[key] = result
        with open_private(self.path, "a") as log:
            log.write(json.dumps({"key": key, "result": result}) + "\n")

    def clear(self) -> None:
        if self.path is not None and self.path.exists():
            self.path.unlink()
