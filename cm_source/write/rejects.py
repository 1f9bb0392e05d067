"""Rows that were not written, with the code the API answered (or would have), and where they are kept."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..private_files import open_private


@dataclass
class Rejection:
    """A row that was not written, with the API's code (or the code it would have answered)."""

    row: dict[str, Any]
    code: int
    message: str


def write_rejects(path: Path, rejections: Sequence[Rejection], append: bool = False) -> None:
    """The original rows plus ``code`` and ``message``: CSV for a ``.csv`` path, else JSON Lines.

    ``append`` serves the destination, which sees one batch at a time.
    """
    records = [{**rejection.row, "code": rejection.code, "message": rejection.message} for rejection in rejections]
    if append and not records:
        return
    is_new = not (append and path.exists() and path.stat().st_size)
    with open_private(path, "a" if append else "w", newline="") as out:
        if path.suffix.lower() != ".csv":
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            return
        columns = list(dict.fromkeys(column for record in records for column in record)) or [
            "email_address",
            "code",
            "message",
        ]
        writer = csv.DictWriter(out, fieldnames=columns)
        if is_new:
            writer.writeheader()
        for record in records:
            writer.writerow(
                {k: json.dumps(v, default=str) if isinstance(v, (list, dict)) else v for k, v in record.items()}
            )
