"""The Dagster assets materialised in-process against the sandbox: one asset per table, a partition per
client, rows equal to a plain pipeline run, and partitions that leave each other's rows and state alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import dlt
import duckdb
import pytest

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"

dagster = pytest.importorskip("dagster", reason="the dagster extra: pip install -e '.[dagster]'")

from cm_source import TABLES, campaign_monitor_source  # noqa: E402
from cm_source.dagster import (  # noqa: E402
    DagsterDltResource,
    Warehouse,
    campaign_monitor_assets,
    campaign_monitor_models,
)
from cm_source.read.incremental_state import IncrementalState  # noqa: E402
from cm_source.sandbox import Sandbox, generate_account  # noqa: E402

SMALL_TABLES = ["clients", "lists", "active_subscribers", "unsubscribed_subscribers", "campaigns", "campaign_opens"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate_account(subscribers=400, clients=2)) as running:
        yield running


def counts(database: Path, dataset: str) -> dict[str, dict[str, int]]:
    """Rows per table and client."""
    found: dict[str, dict[str, int]] = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        for table in SMALL_TABLES:
            rows = connection.execute(f"SELECT client_id, count(*) FROM {dataset}.{table} GROUP BY 1").fetchall()
            found[table] = dict(rows)
    return found


def test_every_table_is_an_asset_keyed_in_one_group(sandbox: Sandbox, tmp_path: Path) -> None:
    assets = campaign_monitor_assets(
        api_key=sandbox.api_key,
        base_url=sandbox.base_url,
        partitioned=False,
        warehouse=Warehouse(duckdb_path=str(tmp_path / "w.duckdb"), pipelines_dir=str(tmp_path / "p")),
    )
    assert {key.path[1] for key in assets.keys} == set(TABLES)
    assert {key.path[0] for key in assets.keys} == {"campaign_monitor"}
    spec = next(spec for spec in assets.specs if spec.key.path[1] == "active_subscribers")
    assert spec.metadata["primary_key"] == ["list_id", "email_address"] and spec.group_name == "campaign_monitor"


def test_two_client_partitions_load_one_warehouse_as_a_plain_run_does(sandbox: Sandbox, tmp_path: Path) -> None:
    clients = [row["ClientID"] for row in sandbox.account.clients]
    warehouse = tmp_path / "warehouse.duckdb"
    assets = campaign_monitor_assets(
        api_key=sandbox.api_key,
        base_url=sandbox.base_url,
        tables=SMALL_TABLES,
        warehouse=Warehouse(duckdb_path=str(warehouse), pipelines_dir=str(tmp_path / "pipelines")),
    )
    assert sorted(assets.partitions_def.get_partition_keys()) == sorted(clients)  # discovered from clients.json

    instance = dagster.DagsterInstance.ephemeral()
    for client_id in clients:
        result = dagster.materialize(
            [assets], partition_key=client_id, resources={"dlt": DagsterDltResource()}, instance=instance
        )
        assert result.success
        materialized = {event.asset_key.path[1] for event in result.get_asset_materialization_events()}
        assert materialized == set(SMALL_TABLES)
    # the first client again: its rows are replaced, the second client's stay
    assert dagster.materialize(
        [assets], partition_key=clients[0], resources={"dlt": DagsterDltResource()}, instance=instance
    ).success

    plain = dlt.pipeline(
        pipeline_name="plain",
        destination=dlt.destinations.duckdb(str(tmp_path / "plain.duckdb")),
        dataset_name="plain_data",
        pipelines_dir=str(tmp_path / "plain"),
    )
    plain.run(
        campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url).with_resources(*SMALL_TABLES),
        loader_file_format="parquet",
    )
    expected = counts(tmp_path / "plain.duckdb", "plain_data")
    assert counts(warehouse, "campaign_monitor_data") == expected
    assert all(len(by_client) == 2 for table, by_client in expected.items() if table != "campaign_opens")
    for client_id in clients:  # a pipeline (and its state) each, loading that client only
        pipeline = dlt.attach(f"campaign_monitor_{client_id}", pipelines_dir=str(tmp_path / "pipelines"))
        assert pipeline.last_trace.last_normalize_info.row_counts["clients"] == 1


def test_every_partition_replaces_the_accounts_administrators_whole_beside_its_clients_people(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The account's own table has no client_id to merge partitions on: each partition replaces it whole,
    while each client's people stay beside the other client's."""
    account = sandbox.account
    warehouse = tmp_path / "warehouse.duckdb"
    assets = campaign_monitor_assets(
        api_key=sandbox.api_key,
        base_url=sandbox.base_url,
        client_ids=[row["ClientID"] for row in account.clients],
        tables=["administrators", "people"],
        warehouse=Warehouse(duckdb_path=str(warehouse), pipelines_dir=str(tmp_path / "pipelines")),
    )
    instance = dagster.DagsterInstance.ephemeral()
    for client_id in [*account.people, next(iter(account.people))]:  # the first client twice
        assert dagster.materialize(
            [assets], partition_key=client_id, resources={"dlt": DagsterDltResource()}, instance=instance
        ).success
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        administrators = connection.execute("SELECT email_address FROM campaign_monitor_data.administrators").fetchall()
        people = connection.execute("SELECT client_id, email_address FROM campaign_monitor_data.people").fetchall()
    assert sorted(administrators) == sorted((a["EmailAddress"],) for a in account.administrators)
    assert sorted(people) == sorted((cid, p["EmailAddress"]) for cid, found in account.people.items() for p in found)


def test_the_models_are_assets_downstream_of_the_tables_and_build_over_every_partition(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    pytest.importorskip("dbt.adapters.duckdb", reason="the dbt extra: pip install -e '.[dbt]'")
    clients = [row["ClientID"] for row in sandbox.account.clients]
    warehouse = Warehouse(duckdb_path=str(tmp_path / "warehouse.duckdb"), pipelines_dir=str(tmp_path / "pipelines"))
    tables = campaign_monitor_assets(
        api_key=sandbox.api_key,
        base_url=sandbox.base_url,
        client_ids=clients,
        tables=["clients", "lists", "campaigns", "campaign_opens", "active_subscribers"],
        warehouse=warehouse,
    )
    models = campaign_monitor_models(warehouse=warehouse)
    campaigns = next(spec for spec in models.specs if spec.key.path[1] == "cm__campaigns")
    assert dagster.AssetKey(["campaign_monitor", "campaign_opens"]) in {dep.asset_key for dep in campaigns.deps}

    instance = dagster.DagsterInstance.ephemeral()
    for client_id in clients:
        assert dagster.materialize(
            [tables], partition_key=client_id, resources={"dlt": DagsterDltResource()}, instance=instance
        ).success
    result = dagster.materialize([models], instance=instance)
    assert result.success
    assert {event.asset_key.path[1] for event in result.get_asset_materialization_events()} == set(
        key.path[1] for key in models.keys
    )
    with duckdb.connect(warehouse.duckdb_path, read_only=True) as connection:
        built = dict(
            connection.execute(
                "SELECT client_id, count(*) FROM campaign_monitor_data_analytics.cm__campaigns GROUP BY 1"
            ).fetchall()
        )
    assert built == {cid: len(sandbox.account.campaigns[cid]) for cid in clients}


def test_the_readme_schedule_asks_for_one_run_per_client(sandbox: Sandbox, tmp_path: Path) -> None:
    from dagster import Definitions, RunRequest, build_schedule_context, define_asset_job, schedule

    campaign_monitor = campaign_monitor_assets(
        api_key=sandbox.api_key,
        base_url=sandbox.base_url,
        incremental=True,
        warehouse=Warehouse(duckdb_path=str(tmp_path / "w.duckdb"), pipelines_dir=str(tmp_path / "p")),
    )
    job = define_asset_job(
        "campaign_monitor_job", selection=[campaign_monitor], partitions_def=campaign_monitor.partitions_def
    )

    @schedule(job=job, cron_schedule="0 3 * * *")
    def nightly(context):  # type: ignore[no-untyped-def]
        for client_id in campaign_monitor.partitions_def.get_partition_keys():
            yield RunRequest(
                run_key=f"{client_id}-{context.scheduled_execution_time:%Y-%m-%d}", partition_key=client_id
            )

    defs = Definitions(
        assets=[campaign_monitor], jobs=[job], schedules=[nightly], resources={"dlt": DagsterDltResource()}
    )
    when = datetime(2026, 12, 2, 3, tzinfo=timezone.utc)
    requests = list(nightly(build_schedule_context(scheduled_execution_time=when)))
    assert {r.run_key.split("-", 1)[1] for r in requests} == {"2026-12-02"}
    assert sorted(r.partition_key for r in requests) == sorted(row["ClientID"] for row in sandbox.account.clients)
    assert defs.resolve_job_def("campaign_monitor_job").partitions_def == campaign_monitor.partitions_def


def test_an_incremental_partition_loads_piece_after_piece_until_its_pass_is_whole(tmp_path: Path) -> None:
    """Pieces of 0.6 s: the partition loads many, each ending in a load, and its assets are
    materialised once, by the last; its tables then hold what a plain incremental run loads."""
    with Sandbox(generate_account(subscribers=400, clients=1, sent_campaigns=40)) as running:
        running.faults.rate_limit_window(20, 1.0)  # some 50 campaign and list reads: 2 s or more
        client_id = running.account.clients[0]["ClientID"]
        settings = {"api_key": running.api_key, "base_url": running.base_url, "incremental": True}
        warehouse = tmp_path / "warehouse.duckdb"
        assets = campaign_monitor_assets(
            **settings,
            checkpoint_minutes=0.01,
            client_ids=[client_id],
            tables=SMALL_TABLES,
            warehouse=Warehouse(duckdb_path=str(warehouse), pipelines_dir=str(tmp_path / "pipelines")),
        )
        result = dagster.materialize([assets], partition_key=client_id, resources={"dlt": DagsterDltResource()})
        assert result.success
        assert sorted(event.asset_key.path[1] for event in result.get_asset_materialization_events()) == sorted(
            SMALL_TABLES
        )
        partition = dlt.attach(f"campaign_monitor_{client_id}", pipelines_dir=str(tmp_path / "pipelines"))
        pass_ = IncrementalState.of_pipeline(partition).pass_
        assert pass_.pieces > 2 and not pass_.cut

        plain = dlt.pipeline(
            pipeline_name="plain",
            destination=dlt.destinations.duckdb(str(tmp_path / "plain.duckdb")),
            dataset_name="plain_data",
            pipelines_dir=str(tmp_path / "plain"),
        )
        plain.run(campaign_monitor_source(**settings, checkpoint_minutes=0).with_resources(*SMALL_TABLES))
    assert counts(warehouse, "campaign_monitor_data") == counts(tmp_path / "plain.duckdb", "plain_data")
