"""The rotating reconcile over real HTTP: edits that leave ``Date`` alone reach the tables within
``reconcile_runs`` incremental runs (value for value, names and custom fields), each run reading a slice;
a list deleted from the account leaves the tables; reading one client narrows them; a run cut off
mid-slice loses and repeats nothing."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
from helpers.postgres import new_database
from helpers.warehouse import query

from cm_source import TABLES, campaign_monitor_source
from cm_source.read.catalogue import ENDPOINTS_BY_TABLE, carries_client_id
from cm_source.read.destinations import file_format
from cm_source.read.incremental_state import IncrementalState
from cm_source.read.progress import RunProgress
from cm_source.sandbox import STATES, Account, Sandbox, account_activity, generate_account

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"

RUNS = 3  # reconcile_runs in these tests: every row read again within three runs
STATE_PATH = re.compile(r"^/lists/(\w+)/(active|unconfirmed|unsubscribed|bounced|deleted)\.json$")
STATE_TABLES = [f"{state.lower()}_subscribers" for state in STATES]


@pytest.fixture
def account() -> Account:
    # the first client's first list holds some 2,000 active subscribers: several pages, so slices are real
    return generate_account(seed=23, subscribers=2600, sent_campaigns=2)


@pytest.fixture
def sandbox(account: Account) -> Iterator[Sandbox]:
    with Sandbox(account) as running:
        yield running


@pytest.fixture
def pipeline(tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name="cm_reconcile",
        destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def run(pipeline: dlt.Pipeline, sandbox: Sandbox, tables: list[str] = STATE_TABLES, **settings: Any) -> list[Any]:
    """One incremental run; the requests it sent."""
    sandbox.requests.clear()
    source = campaign_monitor_source(
        api_key=sandbox.api_key, base_url=sandbox.base_url, incremental=True, reconcile_runs=RUNS, **settings
    )
    pipeline.run(source.with_resources(*tables), loader_file_format=file_format(pipeline.destination))
    return list(sandbox.requests)


def fields(value: Any) -> list[tuple[str, str]]:
    entries = json.loads(value) if isinstance(value, str) else list(value or [])
    return sorted((entry.get("key") or entry.get("Key"), entry.get("value") or entry.get("Value")) for entry in entries)


def loaded_values(pipeline: dlt.Pipeline, table: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        (list_id, email): (name or "", fields(custom))
        for list_id, email, name, custom in query(
            pipeline, f"SELECT list_id, email_address, name, custom_fields FROM {table}"
        )
    }


def account_values(account: Account, state: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        (list_id, row["EmailAddress"]): (row["Name"] or "", fields(row["CustomFields"]))
        for list_id, states in account.subscribers.items()
        for row in states[state]
    }


def assert_values_equal(pipeline: dlt.Pipeline, account: Account) -> None:
    """Every state table equals the account value for value: names and custom fields, not only keys."""
    for state, table in zip(STATES, STATE_TABLES, strict=True):
        assert loaded_values(pipeline, table) == account_values(account, state), table


def edit_quietly(account: Account) -> set[tuple[str, str, str]]:
    """A new name and a custom field value for some subscribers in every state of every list, spread over
    the email order; ``Date`` stays as it was, so the ``date`` filter cannot see them."""
    edited = set()
    with account.lock:
        for list_id, states in account.subscribers.items():
            changed = dict(states)
            for state, rows in states.items():
                ordered = sorted(range(len(rows)), key=lambda number: rows[number]["EmailAddress"].casefold())
                picks = (
                    {ordered[i] for i in (0, len(ordered) // 3, len(ordered) // 2, len(ordered) - 1)} if rows else set()
                )
                new_rows = list(rows)
                for number in picks:
                    row = rows[number]
                    custom = [{"Key": "[Quiet]", "Value": f"edited {row['EmailAddress']}"}] + list(row["CustomFields"])
                    new_rows[number] = {**row, "Name": f"Quietly {number}", "CustomFields": custom}
                    edited.add((list_id, state, row["EmailAddress"]))
                changed[state] = new_rows
            account.subscribers[list_id] = changed
    return edited


def reached(pipeline: dlt.Pipeline, edited: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    found = set()
    for state, table in zip(STATES, STATE_TABLES, strict=True):
        for (list_id, email), (name, _) in loaded_values(pipeline, table).items():
            if (list_id, state, email) in edited and name.startswith("Quietly"):
                found.add((list_id, state, email))
    return found


def slice_pages(requests: list[Any]) -> int:
    """State reads without ``date``: the slices' pages."""
    return sum(1 for r in requests if STATE_PATH.match(r.path) and "date" not in r.query)


def test_invisible_edits_reach_the_tables_within_reconcile_runs_runs_a_slice_at_a_time(
    account: Account, sandbox: Sandbox, pipeline: dlt.Pipeline
) -> None:
    full = run(pipeline, sandbox)
    full_pages = slice_pages(full)
    edited = edit_quietly(account)
    seen_per_run, pages_per_run = [], []
    for _ in range(RUNS):
        pages_per_run.append(slice_pages(run(pipeline, sandbox)))
        seen_per_run.append(len(reached(pipeline, edited)))
    assert 0 < seen_per_run[0] < len(edited)  # the first run after the edits reaches some, not all
    assert seen_per_run == sorted(seen_per_run) and seen_per_run[-1] == len(edited)
    assert_values_equal(pipeline, account)
    # each run reads about a third of the pages, and the three together at least all of them
    assert sum(pages_per_run) >= full_pages and max(pages_per_run) < full_pages * 0.6
    state = IncrementalState.of_pipeline(pipeline)
    assert all(
        rotation.read_since is not None and state.runs - rotation.read_since + 1 <= RUNS
        for rotation in state.rotations()
    )


def test_a_subscriber_gone_without_a_state_change_is_removed_when_the_slice_reaches_it(
    account: Account, sandbox: Sandbox, pipeline: dlt.Pipeline
) -> None:
    run(pipeline, sandbox)
    list_id = account.lists[account.clients[0]["ClientID"]][0]["ListID"]
    with account.lock:
        states = dict(account.subscribers[list_id])
        vanished = states["Unsubscribed"][0]["EmailAddress"]
        states["Unsubscribed"] = states["Unsubscribed"][1:]
        account.subscribers[list_id] = states
    asked: list[str] = []
    for _ in range(RUNS):
        asked += [r.query.get("email") for r in run(pipeline, sandbox) if r.path == f"/subscribers/{list_id}.json"]
    assert vanished in asked  # confirmed with the API before it was removed
    assert_values_equal(pipeline, account)


def test_a_list_deleted_from_the_account_leaves_every_state_table(
    account: Account, sandbox: Sandbox, pipeline: dlt.Pipeline
) -> None:
    run(pipeline, sandbox)
    client_id = account.clients[1]["ClientID"]
    deleted = account.lists[client_id][0]["ListID"]
    assert query(pipeline, f"SELECT count(*) FROM active_subscribers WHERE list_id = '{deleted}'")[0][0] > 0
    with account.lock:
        account.lists[client_id] = account.lists[client_id][1:]
        account.subscribers = {lid: states for lid, states in account.subscribers.items() if lid != deleted}
    progress = RunProgress()
    run(pipeline, sandbox, progress=progress)
    for table in STATE_TABLES:
        assert query(pipeline, f"SELECT count(*) FROM {table} WHERE list_id = '{deleted}'")[0][0] == 0, table
    assert [line for line in progress.notes if deleted in line] == [
        f"Incremental: list {deleted} of client {client_id} is no longer in the account:"
        " its subscribers are removed from the subscriber tables in this run"
    ]
    assert_values_equal(pipeline, account)


def test_reading_one_client_narrows_every_table_to_it(
    account: Account, sandbox: Sandbox, pipeline: dlt.Pipeline
) -> None:
    everything = [table for table in TABLES if not table.startswith("transactional")]
    run(pipeline, sandbox, tables=everything)
    first = account.clients[0]["ClientID"]
    progress = RunProgress()
    run(pipeline, sandbox, tables=everything, client_id=first, progress=progress)
    for table in (table for table in everything if carries_client_id(ENDPOINTS_BY_TABLE[table])):
        clients = {row[0] for row in query(pipeline, f"SELECT DISTINCT client_id FROM {table}")}
        assert clients <= {first}, table
    assert sum("this run reads client" in line for line in progress.notes) == 1
    narrowed = {
        lid: states
        for lid, states in account.subscribers.items()
        if lid in {row["ListID"] for row in account.lists[first]}
    }
    for state, table in zip(STATES, STATE_TABLES, strict=True):
        assert set(loaded_values(pipeline, table)) == {
            (lid, row["EmailAddress"]) for lid, states in narrowed.items() for row in states[state]
        }


def test_a_run_cut_off_mid_slice_loses_and_repeats_nothing(
    account: Account, sandbox: Sandbox, pipeline: dlt.Pipeline
) -> None:
    run(pipeline, sandbox)
    edited = edit_quietly(account)

    def memory() -> str:
        rotations = IncrementalState.of_pipeline(pipeline).rotations()
        return json.dumps([vars(rotation) for rotation in rotations], sort_keys=True, default=str)

    before = memory()
    sandbox.faults.refuse_key(10_000, only=r"^/lists/\w+/(unsubscribed|bounced)\.json$")  # refused mid-run
    with pytest.raises(Exception, match="Invalid API key"):
        run(pipeline, sandbox)
    sandbox.faults.clear()
    assert memory() == before and not reached(pipeline, edited)  # nothing of the cut-off run was kept
    for _ in range(RUNS):
        run(pipeline, sandbox)
    assert reached(pipeline, edited) == edited
    assert_values_equal(pipeline, account)


def table_rows(pipeline: dlt.Pipeline, table: str) -> Counter:
    """Every row of a table, every column but dlt's own and the hard-delete flag, as comparable text."""
    with pipeline.sql_client() as client:
        columns = [
            name
            for (name,) in client.execute_sql(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
                " ORDER BY column_name",
                pipeline.dataset_name,
                table,
            )
            if not name.startswith(("_dlt", "_cm"))
        ]
    quoted = ", ".join(f'"{name}"' for name in columns)
    return Counter(
        tuple(
            json.dumps(value, sort_keys=True, default=str) if isinstance(value, (list, dict)) else str(value)
            for value in row
        )
        for row in query(pipeline, f"SELECT {quoted} FROM {table}")
    )


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_after_activity_every_table_equals_a_full_refresh_value_for_value_within_reconcile_runs_runs(
    kind: str, account: Account, sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    def destination(name: str) -> Any:
        if kind == "duckdb":
            return dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb"))
        return dlt.destinations.postgres(new_database(request.getfixturevalue("postgres_server")))

    incremental = dlt.pipeline(
        pipeline_name=f"cm_rec_{kind}",
        destination=destination("incremental"),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    run(incremental, sandbox, tables=list(TABLES))
    activity = account_activity(account)
    assert {
        state
        for list_id, email in activity.edited
        for state in STATES
        if any(row["EmailAddress"] == email for row in account.subscribers[list_id][state])
    } == set(STATES)
    for _ in range(RUNS):
        run(incremental, sandbox, tables=list(TABLES))
    full = dlt.pipeline(
        pipeline_name=f"cm_full_{kind}",
        destination=destination("full"),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    full.run(
        campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url),
        loader_file_format=file_format(full.destination),
    )
    for table in TABLES:
        if table in full.default_schema.data_table_names(seen_data_only=True):
            assert table_rows(incremental, table) == table_rows(full, table), table
