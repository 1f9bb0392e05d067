"""A first sync under the API's rate window, killed (SIGKILL, as an orchestrator's timeout or a lost worker
does) part-way and run again: through the command (``--incremental``) and through the Python call
(``run_in_pieces``), with the pipeline's folder kept or gone. The run that finishes sends at most what was
left, two pieces' worth, and the parent listings each of its pieces reads again; every table then equals
the one a whole sync loads. The sandbox counts every request."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import dlt
import duckdb
import pytest

from cm_source import campaign_monitor_source, run_in_pieces
from cm_source.read.incremental_state import IncrementalState
from cm_source.sandbox import Sandbox, generate_account

pytestmark = pytest.mark.slow  # subprocesses killed mid-run under a rate window

WINDOW = (200, 1.0)  # requests per second the sandbox announces and enforces
MINUTES = 0.01  # a piece: 0.6 s, some 120 requests at the window's pace, and the reads under way then
PIPELINE, DATASET, DUCKDB = "campaign_monitor", "campaign_monitor_data", "campaign_monitor.duckdb"

COMMAND = [sys.executable, "-c", "import sys; from cm_source.commands import main; sys.exit(main())"]
COMMAND_ARGS = ["load", "--incremental", "--quiet"]
PYTHON_CALL = f"""
import dlt
from cm_source import run_in_pieces
pipeline = dlt.pipeline("{PIPELINE}", destination=dlt.destinations.duckdb("{DUCKDB}"), dataset_name="{DATASET}")
run_in_pieces(pipeline)
"""
HOW = {"command": [*COMMAND, *COMMAND_ARGS], "python call": [sys.executable, "-c", PYTHON_CALL]}


@dataclass
class Whole:
    """A whole first sync: its requests in one piece, a piece's worth, the listings a piece reads again,
    and the tables it loads."""

    requests: int
    piece: int
    restart: int
    tables: dict[str, Counter]


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    with Sandbox(generate_account(sent_campaigns=300)) as running:
        running.faults.rate_limit_window(*WINDOW)
        yield running


@pytest.fixture(scope="module")
def whole(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Whole:
    """The same sync uncut, in this process: once in one piece, once in pieces of ``MINUTES``."""
    counted = []
    for minutes in (0, MINUTES):
        folder = tmp_path_factory.mktemp(f"whole_{minutes}")
        pipeline = pipeline_in(folder)
        marks = [len(sandbox.requests)]

        def piece(source: object, pipeline: dlt.Pipeline = pipeline, marks: list[int] = marks) -> None:
            pipeline.run(source)
            marks.append(len(sandbox.requests))

        settings = {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "checkpoint_minutes": minutes}
        run_in_pieces(
            pipeline, lambda settings=settings: campaign_monitor_source(incremental=True, **settings), run=piece
        )
        counted.append((marks, folder / DUCKDB))
    (one, one_file), (pieces, _) = counted
    assert len(one) == 2 and len(pieces) > 4  # in one piece; in many
    requests = one[1] - one[0]
    per_piece = [after - before for before, after in zip(pieces, pieces[1:], strict=False)]
    restart = math.ceil((pieces[-1] - pieces[0] - requests) / (len(per_piece) - 1))
    return Whole(requests, max(per_piece), restart, tables_in(one_file))


def pipeline_in(folder: Path) -> dlt.Pipeline:
    """The plain call's pipeline, its DuckDB file and its working folder in ``folder``."""
    return dlt.pipeline(
        PIPELINE,
        destination=dlt.destinations.duckdb(str(folder / DUCKDB)),
        dataset_name=DATASET,
        pipelines_dir=str(folder / "pipelines"),
    )


def tables_in(path: Path) -> dict[str, Counter]:
    """Every table's rows without dlt's own columns (and, for nested tables, only how many)."""
    tables: dict[str, Counter] = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = ? AND table_name NOT LIKE '_dlt%'",
                [DATASET],
            ).fetchall()
        ]
        for name in names:
            cursor = connection.execute(f'SELECT * FROM {DATASET}."{name}"')
            columns = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
            if "__" in name:
                tables[name] = Counter({"rows": len(rows)})
                continue
            tables[name] = Counter(
                tuple(
                    sorted(
                        (c, str(v))
                        for c, v in zip(columns, row, strict=True)
                        if v is not None and not c.startswith("_dlt")
                    )
                )
                for row in rows
            )
    return tables


def environment(sandbox: Sandbox, folder: Path) -> dict[str, str]:
    found = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    return {
        **found,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(folder / "dlt"),
        "SOURCES__CAMPAIGN_MONITOR__API_KEY": sandbox.api_key,
        "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url,
        "SOURCES__CAMPAIGN_MONITOR__CHECKPOINT_MINUTES": str(MINUTES),
    }


@dataclass
class Run:
    requests: int
    pieces: int  # the pieces this run loaded (0 when killed)


def run(how: str, sandbox: Sandbox, folder: Path, kill_after: int | None = None) -> Run:
    """One run of the sync in ``folder``; killed once it has sent ``kill_after`` requests, if given."""
    before = len(sandbox.requests)
    process = subprocess.Popen(
        HOW[how],
        cwd=folder,
        env=environment(sandbox, folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if kill_after is not None:
        while process.poll() is None and len(sandbox.requests) - before < kill_after:
            time.sleep(0.002)
        assert process.poll() is None, "the run ended before it could be cut"
        process.kill()
    out, err = process.communicate(timeout=600)
    if kill_after is None:
        assert process.returncode == 0, err[-3000:]
    done = [int(n) for n in re.findall(r"Incremental: (\d+) piece\(s\) so far", out + err)]
    return Run(len(sandbox.requests) - before, len(done))


def bound(whole: Whole, sent_before: int, last: Run) -> int:
    """What the run that finishes may send: what was left, two pieces' worth, and each of its pieces'
    listings; below a whole sync, so a run that reads everything again fails."""
    allowed = max(whole.requests - sent_before, 0) + 2 * whole.piece + last.pieces * whole.restart
    assert allowed < whole.requests, "the account is too small for the pieces to tell"
    return allowed


@pytest.mark.parametrize("how", ["command", "python call"])
def test_a_sync_cut_at_70_percent_goes_on_from_its_last_piece(
    how: str, sandbox: Sandbox, whole: Whole, tmp_path: Path
) -> None:
    cut = run(how, sandbox, tmp_path, kill_after=int(0.7 * whole.requests))
    last = run(how, sandbox, tmp_path)
    assert last.requests <= bound(whole, cut.requests, last), (cut, last, whole.requests, whole.piece)
    assert last.requests < 0.6 * whole.requests  # far from reading everything again
    assert tables_in(tmp_path / DUCKDB) == whole.tables


def test_a_sync_cut_twice_goes_on_from_its_last_piece(sandbox: Sandbox, whole: Whole, tmp_path: Path) -> None:
    first = run("command", sandbox, tmp_path, kill_after=int(0.3 * whole.requests))
    second = run("command", sandbox, tmp_path, kill_after=int(0.4 * whole.requests))
    last = run("command", sandbox, tmp_path)
    assert last.requests <= bound(whole, first.requests + second.requests, last), (first, second, last, whole)
    assert tables_in(tmp_path / DUCKDB) == whole.tables


def test_a_sync_cut_on_one_machine_goes_on_on_another_from_the_state_in_the_destination(
    sandbox: Sandbox, whole: Whole, tmp_path: Path
) -> None:
    cut = run("python call", sandbox, tmp_path, kill_after=int(0.7 * whole.requests))
    shutil.rmtree(tmp_path / "dlt")  # a new container: the pipeline's working folder is gone
    last = run("python call", sandbox, tmp_path)
    assert last.requests <= bound(whole, cut.requests, last), (cut, last, whole)
    assert tables_in(tmp_path / DUCKDB) == whole.tables


def test_the_demo_account_still_loads_in_one_piece_with_no_more_requests_than_without_pieces(tmp_path: Path) -> None:
    with Sandbox(generate_account()) as demo:
        settings = {"api_key": demo.api_key, "base_url": demo.base_url, "incremental": True}
        sent = []
        for minutes in (0, None):  # no pieces; the default pieces (30 minutes)
            pipeline = pipeline_in(tmp_path / str(minutes))
            before = len(demo.requests)
            chosen = {} if minutes is None else {"checkpoint_minutes": minutes}
            pieces = run_in_pieces(pipeline, lambda chosen=chosen: campaign_monitor_source(**settings, **chosen))
            sent.append(len(demo.requests) - before)
        assert len(pieces) == 1 and IncrementalState.of_pipeline(pipeline).pass_.pieces == 1
    assert sent[1] == sent[0]


def test_the_plain_call_cut_by_checkpoint_minutes_says_so_loudly_and_the_next_run_continues(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = pipeline_in(tmp_path)
    settings = {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "incremental": True}
    tables = ("clients", "campaigns", "campaign_summaries")
    campaigns = sum(len(sent) for sent in sandbox.account.campaigns.values())
    summaries = []
    sandbox.faults.rate_limit_window(100, 1.0)  # the 300 summaries take 3 s, a piece 0.3 s
    try:
        for _ in range(2):
            pipeline.run(campaign_monitor_source(**settings, checkpoint_minutes=0.005).with_resources(*tables))
            summaries.append(pipeline.dataset().row_counts(table_names=["campaign_summaries"]).fetchall()[0][1])
    finally:
        sandbox.faults.rate_limit_window(*WINDOW)
    warnings = [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "checkpoint_minutes" in r.getMessage()
    ]
    assert (
        warnings and "the tables stay incomplete" in warnings[0] and "The next run continues from here" in warnings[0]
    )
    assert re.search(r"\d+ campaign reports so far in this pass, piece 1", warnings[0])
    assert 0 < summaries[0] < summaries[1]  # the second run went on from the first
    assert summaries[1] <= campaigns


def test_a_piece_read_and_not_loaded_is_loaded_first_and_the_pass_goes_on_from_it(
    sandbox: Sandbox, whole: Whole, tmp_path: Path
) -> None:
    """Cut between its read and its load (dlt keeps the piece as a pending package): the next run loads
    it, with the state it carries, before reading on."""
    pipeline = pipeline_in(tmp_path)
    settings = {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "checkpoint_minutes": MINUTES}

    def make() -> object:
        return campaign_monitor_source(incremental=True, **settings)

    pipeline.extract(make())
    before = len(sandbox.requests)
    assert pipeline.has_pending_data and IncrementalState.of_pipeline(pipeline).pass_.cut
    said: list[str] = []
    run_in_pieces(pipeline, make, say=said.append)
    assert said[0].startswith("Incremental: loading what an earlier run read and did not load")
    assert IncrementalState.of_pipeline(pipeline).pass_.pieces > 2
    assert len(sandbox.requests) - before < whole.requests - whole.piece / 2  # the first piece was not read again
    assert tables_in(tmp_path / DUCKDB) == whole.tables
