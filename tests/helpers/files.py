"""What the tests check of files the connector writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def owner_only(path: Path) -> bool:
    """Whether only the file's owner may read or write it (mode 0600): it holds personal data."""
    return stat.S_IMODE(os.stat(path).st_mode) == 0o600
