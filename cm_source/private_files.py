"""Files that hold personal data or secrets (rejected rows, mirror plans, checkpoints, OAuth tokens),
created readable by their owner only: they hold addresses, names, phone numbers or tokens."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

OWNER_ONLY = 0o600


def open_private(path: Path, mode: str = "w", newline: str | None = None) -> IO[str]:
    """``path`` opened for text (``w`` or ``a``), created owner-only, with its folder; a file an older
    version left readable by others is made owner-only too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    descriptor = os.open(path, flags, OWNER_ONLY)
    os.chmod(path, OWNER_ONLY)
    return os.fdopen(descriptor, mode, encoding="utf-8", newline=newline)
