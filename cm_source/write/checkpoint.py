"""Imports already finished, so a re-run after an interruption does not send them again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Optional


class Checkpoint:
    """Results of imports already finished, so a re-run after an interruption does not send them again.

    Batches are recognised by a hash of their exact body: changed input is simply sent.
    """

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.done: Dict[str, Dict[str, Any]] = {}
        if path is not None and path.exists():
            self.done = json.loads(path.read_text(encoding="utf-8"))

    def key(self, list_id: str, body: bytes) -> Optional[str]:
        """None without a checkpoint file: there is nothing to resume, so no body is hashed."""
        if self.path is None:
            return None
        return hashlib.sha256(list_id.encode("utf-8") + b"\n" + body).hexdigest()

    def record(self, key: Optional[str], result: Dict[str, Any]) -> None:
        if key is not None:
            self.done[key] = result
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.done), encoding="utf-8")
            temporary.replace(self.path)  # atomic: a kill mid-write never corrupts the checkpoint

    def clear(self) -> None:
        if self.path is not None and self.path.exists():
            self.path.unlink()
