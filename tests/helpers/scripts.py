"""Running the pipeline scripts as a user would, and reading what they print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cm_source import TABLES

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
SCRIPT = PIPELINES / "campaign_monitor_pipeline.py"
UPSERT_SCRIPT = PIPELINES / "upsert_subscribers_pipeline.py"


def run_pipeline_script(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``pipelines/campaign_monitor_pipeline.py`` in ``cwd``, with its own dlt folder and no source settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    environment.update({"DLT_DATA_DIR": str(cwd / "dlt"), "RUNTIME__DLTHUB_TELEMETRY": "false", **(env or {})})
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300
    )


def printed_counts(stdout: str) -> dict[str, int]:
    """The script's summary: rows per table, as printed."""
    rows = [line.split()[:2] for line in stdout.splitlines() if line.split()[:1] and line.split()[0] in TABLES]
    return {table: int(count.replace(",", "")) for table, count in rows}
