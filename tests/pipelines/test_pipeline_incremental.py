"""Incremental runs over real HTTP: run, activity, run, a run cut off, run, full refresh; after every run
that succeeds each table equals the account (events as multisets), and each incremental run's requests
are only those it needs."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
from helpers.expected import KEY_SQL, assert_loaded_exactly
from helpers.scripts import printed_counts, run_pipeline_script
from helpers.warehouse import query

from cm_source import TABLES, campaign_monitor_source
from cm_source.read.destinations import file_format
from cm_source.read.incremental_state import IncrementalState
from cm_source.sandbox import Account, Sandbox, account_activity, generate_account

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"

STATE_PATH = re.compile(r"^/lists/(\w+)/(active|unconfirmed|unsubscribed|bounced|deleted)\.json$")
EVENT_PATH = re.compile(r"^/campaigns/(\w+)/opens\.json$")


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(seed=11, subscribers=1500)


@pytest.fixture(scope="module")
def sandbox(account: Account) -> Iterator[Sandbox]:
    with Sandbox(account) as running:
        yield running


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dlt.Pipeline:
    folder = tmp_path_factory.mktemp("incremental")
    return dlt.pipeline(
        pipeline_name="cm_incremental",
        destination=dlt.destinations.duckdb(str(folder / "warehouse.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(folder / "pipelines"),
    )


def run(pipeline: dlt.Pipeline, sandbox: Sandbox, **settings: Any) -> list[Any]:
    """One incremental run of every table, without the rotating reconcile (test_pipeline_reconcile.py),
    so that its requests are exactly those the cursors call for; the requests it sent."""
    sandbox.requests.clear()
    source = campaign_monitor_source(
        api_key=sandbox.api_key, base_url=sandbox.base_url, incremental=True, reconcile_runs=0
    )
    pipeline.run(source, loader_file_format="parquet", **settings)
    return list(sandbox.requests)


def snapshot(pipeline: dlt.Pipeline) -> dict[str, Counter]:
    return {table: Counter(query(pipeline, f"SELECT {KEY_SQL[table]} FROM {table}")) for table in TABLES}


def list_cursors(pipeline: dlt.Pipeline) -> dict[str, str]:
    return IncrementalState.of_pipeline(pipeline).lists.cursors


def recent_campaigns(account: Account) -> set[str]:
    """Campaigns sent within report_refresh_days (30) of the account's now, with the day's margin."""
    now = dt.datetime.fromisoformat(account.system_date)
    cutoff = now - dt.timedelta(days=31)
    return {
        row["CampaignID"]
        for rows in account.campaigns.values()
        for row in rows
        if dt.datetime.fromisoformat(row["SentDate"]) >= cutoff - dt.timedelta(hours=14)
    }


def custom_fields_of(pipeline: dlt.Pipeline, list_id: str, email: str) -> Any:
    return query(
        pipeline,
        f"SELECT custom_fields FROM active_subscribers WHERE list_id = '{list_id}' AND email_address = '{email}'",
    )


def test_each_incremental_run_reads_what_changed_and_its_tables_equal_the_account(
    account: Account, sandbox: Sandbox, pipeline: dlt.Pipeline
) -> None:
    first = run(pipeline, sandbox)
    assert_loaded_exactly(pipeline, account)
    assert list_cursors(pipeline)  # a cursor for every list with subscribers

    activity = account_activity(account)
    second = run(pipeline, sandbox)
    assert_loaded_exactly(pipeline, account)  # joiners in, movers in their new state and out of the old
    assert len(second) < len(first) / 5

    lists = {row["ListID"] for rows in account.lists.values() for row in rows}
    empty = {list_id for list_id in lists if not any(account.subscribers[list_id].values())}
    state_reads = [(STATE_PATH.match(r.path), r.query) for r in second if STATE_PATH.match(r.path)]
    assert Counter(match.group(1) for match, _ in state_reads) == Counter({lid: 5 for lid in lists})
    assert all(("date" in q) == (match.group(1) not in empty) for match, q in state_reads)
    opened = {EVENT_PATH.match(r.path).group(1) for r in second if EVENT_PATH.match(r.path)}
    assert activity.sent_campaign in opened and set(activity.new_events) <= opened
    assert opened <= recent_campaigns(account) | {activity.sent_campaign}
    recipients = [r.path for r in second if r.path.endswith("/recipients.json") and r.path.startswith("/campaigns/")]
    assert recipients == [f"/campaigns/{activity.sent_campaign}/recipients.json"]  # read once per campaign


def test_a_run_cut_off_half_way_changes_nothing_and_the_next_run_catches_up(
    account: Account, sandbox: Sandbox, pipeline: dlt.Pipeline
) -> None:
    account_activity(account)
    before, cursors = snapshot(pipeline), dict(list_cursors(pipeline))
    sandbox.faults.refuse_key(10_000, only=r"^/journeys/email/")  # the key starts being refused
    with pytest.raises(Exception, match="Invalid API key"):
        run(pipeline, sandbox)
    sandbox.faults.clear()
    assert snapshot(pipeline) == before and list_cursors(pipeline) == cursors
    account_activity(account)  # and more happens before the next run
    run(pipeline, sandbox)
    assert_loaded_exactly(pipeline, account)


def test_without_the_reconcile_a_field_edit_that_leaves_date_alone_waits_for_a_full_refresh(
    account: Account, sandbox: Sandbox, pipeline: dlt.Pipeline
) -> None:
    activity = account_activity(account)
    list_id, email = activity.edited[0]
    loaded_before = custom_fields_of(pipeline, list_id, email)
    run(pipeline, sandbox)
    assert_loaded_exactly(pipeline, account)
    assert custom_fields_of(pipeline, list_id, email) == loaded_before  # not seen: Date did not move
    edited = next(row for row in account.subscribers[list_id]["Active"] if row["EmailAddress"] == email)
    run(pipeline, sandbox, refresh="drop_sources")
    assert_loaded_exactly(pipeline, account)
    loaded = json.loads(custom_fields_of(pipeline, list_id, email)[0][0])
    assert {(entry["key"], entry["value"]) for entry in loaded} == {
        (entry["Key"], entry["Value"]) for entry in edited["CustomFields"]
    }


def test_the_script_runs_incrementally_and_says_how_fresh_the_tables_are(tmp_path: Path) -> None:
    first = run_pipeline_script("--demo", "--incremental", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = run_pipeline_script("--demo", "--incremental", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Incremental: every subscriber row re-read within the last 2 runs" in second.stdout
    assert printed_counts(second.stdout)["active_subscribers"] > printed_counts(first.stdout)["active_subscribers"] - 10
    refused = run_pipeline_script(
        "--demo",
        "--incremental",
        "--destination",
        "filesystem",
        cwd=tmp_path,
        env={"DESTINATION__FILESYSTEM__BUCKET_URL": str(tmp_path / "files")},
    )
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    refusal = "--incremental needs tables that can update and delete rows by key, and plain files on filesystem"
    assert refusal in refused.stderr


STATE_TABLES = [table for table in TABLES if table.endswith("_subscribers") and table != "segment_subscribers"]


@pytest.mark.parametrize("destination", ["postgres", "sqlalchemy"])
def test_movers_leave_their_old_state_on_postgres_and_sqlite_too(
    destination: str, tmp_path: Path, postgres_url: str
) -> None:
    """Merge with hard deletes, as Postgres (CSV files) and SQLAlchemy (SQLite) run it."""
    account = generate_account(seed=13, subscribers=400)
    if destination == "postgres":
        target = dlt.destinations.postgres(postgres_url)
    else:
        target = dlt.destinations.sqlalchemy(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    pipeline = dlt.pipeline(
        pipeline_name=f"cm_inc_{destination}",
        destination=target,
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    with Sandbox(account) as server:
        for _ in range(2):
            source = campaign_monitor_source(api_key=server.api_key, base_url=server.base_url, incremental=True)
            pipeline.run(source.with_resources(*STATE_TABLES), loader_file_format=file_format(target))
            with pipeline.sql_client() as client:
                for table in STATE_TABLES:
                    state = table.removesuffix("_subscribers").capitalize()
                    loaded = set(client.execute_sql(f"SELECT list_id, email_address FROM {table}"))
                    assert loaded == {
                        (lid, row["EmailAddress"])
                        for lid, states in account.subscribers.items()
                        for row in states[state]
                    }, table
            assert account_activity(account).moved
