"""Incremental cursors belong to the place whose tables they describe: a pipeline that loaded incrementally
into one dataset, DuckDB file or server, then pointed at another, reads every incremental table in full
there, says so once, and goes on incrementally from then on.

dlt itself wipes a pipeline's local state when the dataset it is pointed at does not exist yet, which
would hide the fault; a dataset that exists already (made by the command before its run, by another
pipeline, or by a DBA) does not. Each new place here exists before the run, as it does for the command.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import dlt
import pytest
from helpers.expected import assert_loaded_exactly

from cm_source import campaign_monitor_source
from cm_source.read.destinations import file_format
from cm_source.read.incremental_state import IncrementalState
from cm_source.read.load_place import place_of, without_user
from cm_source.read.progress import RunProgress
from cm_source.sandbox import Account, Sandbox, account_activity, generate_account

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"

PIPELINE = "cm_places"
STATE_PATH = re.compile(r"^/lists/(\w+)/(active|unconfirmed|unsubscribed|bounced|deleted)\.json$")
FULL_READ = "every incremental table is read in full and replaced in this run"


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(seed=17, subscribers=400, sent_campaigns=12)


def pipeline_at(folder: Path, destination: Any, dataset: str) -> dlt.Pipeline:
    """The same pipeline (name and working folder, so the same state) pointed at a place."""
    return dlt.pipeline(
        pipeline_name=PIPELINE, destination=destination, dataset_name=dataset, pipelines_dir=str(folder / "pipelines")
    )


def incremental_run(pipeline: dlt.Pipeline, sandbox: Sandbox) -> tuple[RunProgress, list[Any]]:
    """One incremental run of every table, without the rotating reconcile (its slices would hide which
    reads are full ones): what it noted, and the requests it sent."""
    sandbox.requests.clear()
    progress = RunProgress()
    source = campaign_monitor_source(
        api_key=sandbox.api_key, base_url=sandbox.base_url, incremental=True, reconcile_runs=0, progress=progress
    )
    pipeline.run(source, loader_file_format=file_format(pipeline.destination))
    return progress, list(sandbox.requests)


def state_reads(requests: list[Any]) -> list[tuple[str, bool]]:
    """Each read of a list's subscriber state: the list, and whether it asked only for changes (``date``)."""
    return [(m.group(1), "date" in r.query) for r in requests if (m := STATE_PATH.match(r.path))]


def other_place(kind: str, folder: Path, request: pytest.FixtureRequest) -> tuple[Any, str]:
    if kind == "dataset":
        return dlt.destinations.duckdb(str(folder / "warehouse.duckdb")), "cm_second"
    if kind == "duckdb_file":
        return dlt.destinations.duckdb(str(folder / "other.duckdb")), "cm_data"
    return dlt.destinations.postgres(request.getfixturevalue("postgres_url")), "cm_data"


@pytest.mark.parametrize("kind", ["dataset", "duckdb_file", "postgres"])
def test_an_incremental_run_into_another_place_reads_every_table_in_full(
    kind: str, account: Account, sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    first = pipeline_at(tmp_path, dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")), "cm_data")
    noted, full_read = incremental_run(first, sandbox)
    assert noted.notes == []  # a first run reads in full anyway: nothing to explain
    account_activity(account)

    destination, dataset = other_place(kind, tmp_path, request)
    moved = pipeline_at(tmp_path, destination, dataset)
    with moved.destination_client() as client:
        client.initialize_storage()  # the place exists already, so dlt keeps the local state
    noted, requests = incremental_run(moved, sandbox)
    assert_loaded_exactly(moved, account)
    assert len(noted.notes) == 1 and FULL_READ in noted.notes[0]
    assert f"dataset {first.dataset_name}" in noted.notes[0] and f"dataset {dataset}" in noted.notes[0]
    assert len(requests) >= len(full_read)  # every list, campaign and journey email read again
    assert state_reads(requests) and not any(changes_only for _, changes_only in state_reads(requests))
    place = IncrementalState.of_pipeline(moved).place or {}
    assert place["dataset"] == dataset and place["destination"] == ("postgres" if kind == "postgres" else "duckdb")

    account_activity(account)  # and at the same place again: only the changes, nothing to explain
    noted, changes = incremental_run(moved, sandbox)
    assert_loaded_exactly(moved, account)
    assert noted.notes == [] and len(changes) < len(requests)
    reads = state_reads(changes)  # every list with subscribers from its cursor, as before the move
    assert len(reads) == len(state_reads(full_read))
    assert all(changes_only == any(account.subscribers[list_id].values()) for list_id, changes_only in reads)


def test_a_place_is_named_without_credentials(tmp_path: Path) -> None:
    secret = "s3cr3t-password"
    pipeline = dlt.pipeline(
        pipeline_name="cm_named",
        pipelines_dir=str(tmp_path / "pipelines"),
        dataset_name="cm_data",
        destination=dlt.destinations.postgres(f"postgresql://loader:{secret}@db.example:5433/warehouse"),
    )
    assert place_of(pipeline) == {
        "destination": "postgres",
        "dataset": "cm_data",
        "database": "postgresql://db.example:5433/warehouse",
    }
    files = dlt.pipeline(
        pipeline_name="cm_files",
        pipelines_dir=str(tmp_path / "pipelines"),
        dataset_name="cm_data",
        destination=dlt.destinations.filesystem((tmp_path / "files").as_uri()),
    )
    assert place_of(files)["database"] == (tmp_path / "files").as_uri()
    assert without_user(f"sftp://loader:{secret}@files.example:2222/exports") == "sftp://files.example:2222/exports"
