"""How the analytics models are built and rebuilt: by the command, incrementally after an incremental
load, and the one line each mistake gets (no dbt, a destination without SQL, no load yet)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dlt
import duckdb
import pytest

pytest.importorskip("dbt.adapters.duckdb", reason="the dbt extra: pip install -e '.[dbt]'")

from cm_source import campaign_monitor_source  # noqa: E402
from cm_source.analytics import MODELS, build_models  # noqa: E402
from cm_source.errors import CampaignMonitorError  # noqa: E402
from cm_source.sandbox import Account, Sandbox, account_activity, generate_account  # noqa: E402
from cm_source.sandbox.account import CAMPAIGN_REPORTS  # noqa: E402

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

COMMAND = Path(sys.executable).with_name("cm-source")
EVENT_REPORTS = {
    "opens": "open",
    "clicks": "click",
    "bounces": "bounce",
    "unsubscribes": "unsubscribe",
    "spam": "spam_complaint",
}


def events_in_account(account: Account) -> dict[tuple[str, str], int]:
    """Event rows per (campaign, event_type), from the account itself."""
    found: Counter = Counter()
    for campaign_id, reports in account.campaign_reports.items():
        for report in CAMPAIGN_REPORTS:
            if report in EVENT_REPORTS:
                found[(campaign_id, EVENT_REPORTS[report])] += len(reports[report])
    return {key: count for key, count in found.items() if count}


def events_in_model(database: Path, dataset: str) -> dict[tuple[str, str], int]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            f"SELECT campaign_id, event_type, count(*), count(DISTINCT event_key) FROM {dataset}.cm__campaign_events"
            " GROUP BY 1, 2"
        ).fetchall()
    assert all(count == distinct for _, _, count, distinct in rows)  # a key per row, repeats included
    return {(campaign_id, event_type): count for campaign_id, event_type, count, _ in rows}


def test_load_demo_with_models_builds_every_model_into_the_analytics_dataset(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    result = subprocess.run(
        [str(COMMAND), "load", "--demo", "--models", "--quiet"],
        cwd=tmp_path,
        env={**environment, "DLT_DATA_DIR": str(tmp_path / "dlt")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Models built into campaign_monitor_data_analytics: " in result.stdout
    with duckdb.connect(str(tmp_path / "campaign_monitor_demo.duckdb"), read_only=True) as connection:
        built = dict(
            connection.execute(
                "SELECT table_name, estimated_size FROM duckdb_tables()"
                " WHERE schema_name = 'campaign_monitor_data_analytics'"
            ).fetchall()
        )
        campaigns = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE recipients = api_recipients AND unique_opens = api_unique_opened)"
            " FROM campaign_monitor_data_analytics.cm__campaigns"
        ).fetchone()
    assert set(MODELS) <= set(built) and all(built[model] > 0 for model in MODELS)
    assert campaigns[0] == campaigns[1] > 1000  # the demo's every sent campaign, each agreeing with the API


def test_an_incremental_load_rebuilds_the_campaigns_whose_events_changed(tmp_path: Path) -> None:
    account = generate_account(seed=11, subscribers=300, sent_campaigns=3)
    database = tmp_path / "warehouse.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="cm_models_incremental",
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    with Sandbox(account) as sandbox:

        def source():
            return campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url, incremental=True)

        pipeline.run(source())
        build_models(pipeline)
        before = events_in_model(database, "cm_data_analytics")
        assert before == events_in_account(account)
        activity = account_activity(account, minutes=120, people=3)
        assert activity  # the round sent a campaign and added opens, so some campaigns have new events
        pipeline.run(source())
        build_models(pipeline)
    after = events_in_model(database, "cm_data_analytics")
    assert after == events_in_account(account) != before
    with duckdb.connect(str(database), read_only=True) as connection:
        sent = connection.execute("SELECT count(*), sum(total_opens) FROM cm_data_analytics.cm__campaigns").fetchone()
    assert sent == (
        sum(len(rows) for rows in account.campaigns.values()),
        sum(count for (_, kind), count in after.items() if kind == "open"),
    )


def test_without_dbt_the_command_refuses_before_reading_anything(tmp_path: Path) -> None:
    script = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name.split('.')[0] == 'dbt' else real(name, *a)\n"
        "from cm_source.commands import main\n"
        "sys.exit(main(['load', '--demo', '--models']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DLT_DATA_DIR": str(tmp_path / "dlt")},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == 'error: the models need dbt: pip install "cm-source[dbt]"'
    assert "Sandbox running" not in result.stdout and not (tmp_path / "campaign_monitor_demo.duckdb").exists()


def test_models_over_a_dataset_never_loaded_or_a_destination_without_sql_are_one_line(tmp_path: Path) -> None:
    never_loaded = dlt.pipeline(
        pipeline_name="cm_models_nothing",
        destination=dlt.destinations.duckdb(str(tmp_path / "empty.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    with pytest.raises(CampaignMonitorError) as refused:
        build_models(never_loaded)
    assert str(refused.value) == (
        f"dataset cm_data does not exist in duckdb {tmp_path / 'empty.duckdb'}, dataset cm_data:"
        " load it first (pipeline.run(campaign_monitor_source())), then build the models"
    )
    files = dlt.pipeline(
        pipeline_name="cm_models_files",
        destination=dlt.destinations.filesystem(str(tmp_path / "files")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    with pytest.raises(CampaignMonitorError) as no_sql:
        build_models(files)
    assert str(no_sql.value).startswith("the models need a SQL destination, and filesystem is not one")


def test_the_time_zone_seed_is_the_table_the_source_converts_with() -> None:
    import csv

    from cm_source.analytics import PROJECT
    from cm_source.read.time_zones import IANA_ZONES

    with open(PROJECT / "seeds" / "cm_time_zones.csv", newline="", encoding="utf-8") as seed:
        assert {row["place"]: row["iana_zone"] for row in csv.DictReader(seed)} == IANA_ZONES


def test_a_summary_that_disagrees_warns_and_recipients_that_disagree_fail_the_build(tmp_path: Path) -> None:
    account = generate_account(seed=13, subscribers=150, sent_campaigns=2)
    campaign_id = next(iter(account.campaign_summaries))
    summary = account.campaign_summaries[campaign_id]
    account.campaign_summaries[campaign_id] = {**summary, "UniqueOpened": summary["UniqueOpened"] + 1}
    pipeline = dlt.pipeline(
        pipeline_name="cm_models_checks",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    tables = (
        "clients",
        "campaigns",
        "campaign_summaries",
        "campaign_recipients",
        "campaign_opens",
        "campaign_clicks",
        "campaign_bounces",
        "campaign_unsubscribes",
        "campaign_spam_complaints",
    )
    with Sandbox(account) as sandbox:
        source = lambda: campaign_monitor_source(  # noqa: E731
            api_key=sandbox.api_key, base_url=sandbox.base_url
        ).with_resources(*tables)
        pipeline.run(source())
        built = build_models(pipeline)
        assert [warning.split(":")[0] for warning in built.warnings] == [
            "cm_matches_api_cm__campaigns_api_unique_opened__unique_opens"
        ]
        assert set(built.models) == set(MODELS) - {"cm__journey_emails"}  # no journeys loaded: switched off
        account.campaign_summaries[campaign_id] = {**summary, "Recipients": summary["Recipients"] + 1}
        pipeline.run(source())
    with pytest.raises(CampaignMonitorError) as failed:
        build_models(pipeline)
    assert str(failed.value).startswith(
        "building the models into cm_data_analytics failed at cm_matches_api_cm__campaigns_api_recipients__recipients:"
    )


def test_the_project_copy_drops_a_model_the_package_no_longer_ships_and_keeps_dbts_target(tmp_path: Path) -> None:
    from cm_source.analytics import project_copy

    first = project_copy(tmp_path)
    (first / "models" / "cm__gone.sql").write_text("select 1 as gone\n")
    (first / "target").mkdir()
    (first / "target" / "partial_parse.msgpack").write_bytes(b"kept")
    again = project_copy(tmp_path)
    assert not (again / "models" / "cm__gone.sql").exists() and (again / "models" / "cm__campaigns.sql").exists()
    assert (again / "target" / "partial_parse.msgpack").read_bytes() == b"kept"
