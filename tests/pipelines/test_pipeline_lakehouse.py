"""Delta and Iceberg tables on the filesystem destination, through the plain call over HTTP, read back with
``deltalake`` and ``pyiceberg`` (helpers.warehouse.lake_query): a full refresh into both; incremental runs
into Delta with account activity between them, the rotating reconcile on, and a change of place; and the
one line that refuses an incremental run into Iceberg tables or plain files."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import dlt
import pytest
from botocore.exceptions import EndpointConnectionError
from helpers.expected import assert_loaded_exactly
from helpers.scripts import printed_counts, run_pipeline_script
from helpers.warehouse import query

from cm_source import TABLES, campaign_monitor_source
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


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """A local S3 server (moto's) with the bucket ``cm-lake``: its URL. In a process of its own: deltalake
    holds the GIL while it writes, so a server thread in this process would never answer it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", **S3_KEYS)
    try:
        for _ in range(200):  # until it answers
            try:
                s3.create_bucket(Bucket="cm-lake")
                break
            except EndpointConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait()


S3_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def lake_pipeline(folder: Path, bucket: str = "lake", s3_endpoint: str | None = None) -> dlt.Pipeline:
    """A pipeline into a local folder, or into the bucket ``cm-lake`` of an S3 server, as dlt configures
    one (``bucket_url`` and the bucket's credentials)."""
    if s3_endpoint is None:
        destination = dlt.destinations.filesystem(bucket_url=(folder / bucket).as_uri())
    else:
        credentials = {**S3_KEYS, "endpoint_url": s3_endpoint, "region_name": "us-east-1"}
        destination = dlt.destinations.filesystem(bucket_url=f"s3://cm-lake/{bucket}", credentials=credentials)
    return dlt.pipeline(
        pipeline_name="cm_lake",
        destination=destination,
        dataset_name="cm_data",
        pipelines_dir=str(folder / "pipelines"),
    )


def run(
    pipeline: dlt.Pipeline, sandbox: Sandbox, table_format: str, tables: Sequence[str] = TABLES, **settings: Any
) -> None:
    source = campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url, **settings)
    pipeline.run(source.with_resources(*tables), table_format=table_format)


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
    incremental_runs_keep_every_table_exact(pipeline, account, sandbox)

    moved = lake_pipeline(tmp_path, bucket="another_lake")  # a change of place: read in full there
    run(moved, sandbox, "delta", incremental=True, reconcile_runs=2)
    assert_loaded_exactly(moved, account)


def test_incremental_runs_into_delta_tables_in_an_s3_bucket(
    account: Account, sandbox: Sandbox, tmp_path: Path, s3_endpoint: str
) -> None:
    """The same on a bucket: dlt's S3 credentials reach deltalake's own object store for the merges, and
    the reconcile reads the bucket's tables back the same way."""
    incremental_runs_keep_every_table_exact(lake_pipeline(tmp_path, s3_endpoint=s3_endpoint), account, sandbox)


def incremental_runs_keep_every_table_exact(
    pipeline: dlt.Pipeline, account: Account, sandbox: Sandbox, tables: Sequence[str] = TABLES
) -> None:
    """An incremental run, account activity, another: every table equals the account after each."""
    run(pipeline, sandbox, "delta", tables, incremental=True, reconcile_runs=2)
    assert_loaded_exactly(pipeline, account, tables=tables)
    activity = account_activity(account)  # joins, moves between states, leavers, new events
    assert activity.moved
    run(pipeline, sandbox, "delta", tables, incremental=True, reconcile_runs=2)
    assert_loaded_exactly(pipeline, account, tables=tables)
    left = query(pipeline, "SELECT count(*) FROM active_subscribers WHERE _cm_left")
    assert left == [(0,)]  # the rows that remove a leaver are applied as deletes, not kept


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
