"""Reading a load back the dlt way, ``pipeline.dataset()``, on every destination the project is proven on:
a table as Arrow, a table's rows, and a SQL query."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pytest

from cm_source import campaign_monitor_source
from cm_source.sandbox import Account, Sandbox, generate_account

TABLES = ("clients", "lists", "active_subscribers")


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(seed=3, subscribers=300, sent_campaigns=2)


def destination(kind: str, folder: Path, request: pytest.FixtureRequest) -> Any:
    if kind == "duckdb":
        return dlt.destinations.duckdb(str(folder / "warehouse.duckdb"))
    if kind.startswith("filesystem"):
        return dlt.destinations.filesystem(str(folder / "files"))
    if kind == "sqlite":
        return dlt.destinations.sqlalchemy(f"sqlite:///{folder / 'warehouse.sqlite'}")
    return dlt.destinations.postgres(request.getfixturevalue("postgres_url"))


@pytest.mark.parametrize("kind", ["duckdb", "filesystem-parquet", "filesystem-jsonl", "postgres", "sqlite"])
def test_pipeline_dataset_reads_back_what_was_loaded(
    kind: str, account: Account, sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"cm_read_back_{kind.replace('-', '_')}",
        dataset_name="cm_data",
        destination=destination(kind, tmp_path, request),
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    source = campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url).with_resources(*TABLES)
    pipeline.run(source, loader_file_format="jsonl" if kind == "filesystem-jsonl" else None)
    dataset = pipeline.dataset()
    clients = dataset.table("clients").arrow()
    assert sorted(clients.column("client_id").to_pylist()) == sorted(c["ClientID"] for c in account.clients)
    lists = dataset.table("lists").fetchall()
    assert len(lists) == sum(len(rows) for rows in account.lists.values())
    active = {lid: len(states["Active"]) for lid, states in account.subscribers.items() if states["Active"]}
    counted = dataset("SELECT list_id, count(*) FROM active_subscribers GROUP BY list_id").fetchall()
    assert dict(counted) == active
