"""Delta and Iceberg tables on the filesystem destination, through the plain call over HTTP, read back with
``deltalake`` and ``pyiceberg`` (helpers.warehouse.lake_query): a full refresh into both; incremental runs
into Delta with account activity between them, the rotating reconcile on, and a change of place; and the
one line that refuses an incremental run into Iceberg tables or plain files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
from helpers.expected import assert_loaded_exactly
from helpers.scripts import printed_counts, run_pipeline_script
from helpers.warehouse import query

from cm_source import campaign_monitor_source
from cm_source.read.lake_tables import table_format as lake_table_format
from cm_source.sandbox import Account, Sandbox, account_activity, generate_account

pytestmark = pytest.mark.slow  # whole loads over HTTP


@pytest.fixture
def account() -> Account:
    return generate_account(seed=17, subscribers=600)


@pytest.fixture
def sandbox(account: Account) -> Iterator[Sandbox]:
    with Sandbox(account) as running:
        yield running


def lake_pipeline(folder: Path, bucket: str = "lake") -> dlt.Pipeline:
    """A pipeline into a local folder, as dlt configures a bucket (``bucket_url``)."""
    return dlt.pipeline(
        pipeline_name="cm_lake",
        destination=dlt.destinations.filesystem(bucket_url=(folder / bucket).as_uri()),
        dataset_name="cm_data",
        pipelines_dir=str(folder / "pipelines"),
    )


def run(pipeline: dlt.Pipeline, sandbox: Sandbox, table_format: str, **settings: Any) -> None:
    source = campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url, **settings)
    pipeline.run(source, table_format=table_format)


@pytest.mark.parametrize("table_format", ["delta", "iceberg"])
def test_a_full_refresh_writes_every_table(
    table_format: str, account: Account, sandbox: Sandbox, tmp_path: Path
) -> None:
    pipeline = lake_pipeline(tmp_path)
    run(pipeline, sandbox, table_format)
    assert_loaded_exactly(pipeline, account)
    tables = pipeline.default_schema.data_table_names(seen_data_only=True)
    assert {lake_table_format(pipeline, table) for table in tables} == {table_format}  # child tables too


def test_incremental_runs_into_delta_keep_every_table_equal_to_the_account(
    account: Account, sandbox: Sandbox, tmp_path: Path
) -> None:
    pipeline = lake_pipeline(tmp_path)
    run(pipeline, sandbox, "delta", incremental=True, reconcile_runs=2)
    assert_loaded_exactly(pipeline, account)
    activity = account_activity(account)  # joins, moves between states, leavers, new events
    assert activity.moved
    run(pipeline, sandbox, "delta", incremental=True, reconcile_runs=2)
    assert_loaded_exactly(pipeline, account)
    left = query(pipeline, "SELECT count(*) FROM active_subscribers WHERE _cm_left")
    assert left == [(0,)]  # the rows that remove a leaver are applied as deletes, not kept

    moved = lake_pipeline(tmp_path, bucket="another_lake")  # a change of place: read in full there
    run(moved, sandbox, "delta", incremental=True, reconcile_runs=2)
    assert_loaded_exactly(moved, account)


@pytest.mark.parametrize(
    ("table_format", "refusal"),
    [
        ("iceberg", "Iceberg tables cannot: dlt's Iceberg upsert keeps a deleted row"),
        (None, "plain files on filesystem cannot"),
    ],
)
def test_an_incremental_run_into_iceberg_or_plain_files_is_refused_in_one_line(
    table_format: str | None, refusal: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    pipeline = lake_pipeline(tmp_path)
    source = campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url, incremental=True)
    with pytest.raises(Exception) as refused:
        pipeline.run(source, table_format=table_format)
    message = str(refused.value)
    assert refusal in message
    assert "Delta tables on filesystem (table_format='delta')" in message


def test_the_command_loads_delta_tables_incrementally_and_counts_their_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--table-format delta`` on the filesystem destination: an incremental run, then another; the
    summary's row counts come from the Delta tables themselves (no DuckDB extension)."""
    tables = "clients,lists,active_subscribers,unsubscribed_subscribers"
    bucket = {"DESTINATION__FILESYSTEM__BUCKET_URL": (tmp_path / "lake").as_uri()}
    flags = ("--demo", "--destination", "filesystem", "--table-format", "delta", "--incremental", "--tables", tables)
    first = run_pipeline_script(*flags, cwd=tmp_path, env=bucket)
    assert first.returncode == 0, first.stderr
    second = run_pipeline_script(*flags, cwd=tmp_path, env=bucket)
    assert second.returncode == 0, second.stderr
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", bucket["DESTINATION__FILESYSTEM__BUCKET_URL"])
    pipeline = dlt.attach("campaign_monitor_demo", pipelines_dir=str(tmp_path / "dlt" / "pipelines"))
    loaded = {table: query(pipeline, f"SELECT count(*) FROM {table}")[0][0] for table in tables.split(",")}
    assert printed_counts(second.stdout) == loaded
    assert loaded["active_subscribers"] > 1000
