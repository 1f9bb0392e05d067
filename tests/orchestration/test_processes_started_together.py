"""Processes started at the same instant that make the same dlt pipelines in one fresh pipelines folder, as
every Dagster run worker does when it loads the code location and a backfill launches its partitions
together; and two runs of the command at once in one folder. None fails because of another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"

pytest.importorskip("dagster", reason="the dagster extra: pip install -e '.[dagster]'")

PROCESSES, ROUNDS = 8, 3

# A run worker: everything imported first, then, at the signal, the definitions loaded (they make the
# pipeline `campaign_monitor`), a partition's pipeline and the models' pipeline made.
WORKER = """
import json, os, sys
from pathlib import Path
from cm_source.dagster import Warehouse, campaign_monitor_assets
spec = json.loads(sys.argv[1])
go = Path(spec["go"])
Path(spec["go"] + f".ready.{os.getpid()}").touch()
while not go.exists():
    pass
warehouse = Warehouse(pipelines_dir=spec["pipelines"], duckdb_path=spec["duckdb"])
campaign_monitor_assets(api_key="key", base_url="http://127.0.0.1:9/api/v3.3", client_ids=["a", "b"],
                        warehouse=warehouse)
for name in ("campaign_monitor_a", "campaign_monitor_models"):
    pipeline = warehouse.pipeline(name)
    assert pipeline.default_schema_name is None and pipeline.state["pipeline_name"] == name
print("made")
"""


def environment() -> dict[str, str]:
    found = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    return {**found, "RUNTIME__DLTHUB_TELEMETRY": "false"}


def start_together(folder: Path) -> list[subprocess.CompletedProcess]:
    """``PROCESSES`` workers, released at one instant once every one has imported what it needs."""
    go = folder / "go"
    spec = json.dumps({"go": str(go), "pipelines": str(folder / "pipelines"), "duckdb": str(folder / "w.duckdb")})
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, spec],
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    deadline = time.monotonic() + 120
    while len(list(folder.glob("go.ready.*"))) < PROCESSES and time.monotonic() < deadline:
        time.sleep(0.05)  # every worker has imported Dagster and dlt, and spins on the signal
    go.touch()
    return [subprocess.CompletedProcess(w.args, w.wait(timeout=300), *w.communicate()) for w in workers]


def test_eight_processes_make_the_same_pipelines_in_one_fresh_folder_and_none_fails(tmp_path: Path) -> None:
    failures = []
    for round_ in range(ROUNDS):
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        for result in start_together(folder):
            if result.returncode != 0 or "made" not in result.stdout:
                failures.append(result.stderr.strip().splitlines()[-1:])
    assert failures == [], f"{len(failures)} of {PROCESSES * ROUNDS} processes failed: {failures}"


def test_two_runs_of_the_command_at_once_in_one_folder_take_turns_and_both_load(tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("cm-source")
    env = {**environment(), "DLT_DATA_DIR": str(tmp_path / "dlt")}
    runs = [
        subprocess.Popen(
            [str(command), "load", "--demo", "--tables", "clients,lists", "--quiet"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    assert sum("another run of pipeline campaign_monitor_demo" in err for _, _, err in results) == 1
    for _, out, _ in results:
        assert "clients" in out and "Loaded into duckdb" in out
