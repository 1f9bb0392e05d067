"""Load the sandbox over real HTTP into DuckDB and compare every table with what the sandbox holds."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dlt
import pytest
from helpers.expected import KEY_SQL, STATES, assert_loaded_exactly, assert_table_holds, expected_rows
from helpers.scripts import printed_counts
from helpers.scripts import run_pipeline_script as run_script
from helpers.warehouse import CUSTOM_FIELDS, query, table_names

from cm_source import TABLES, campaign_monitor_source
from cm_source.api_facts import TIMELINE_COUNT
from cm_source.read.progress import RunProgress
from cm_source.sandbox import Account, Sandbox, generate_account

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"


@pytest.fixture(scope="module")
def loaded(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dlt.Pipeline:
    """One full load of the sandbox, shared by the assertions below: the plain Python call, as users run it."""
    folder = tmp_path_factory.mktemp("e2e")
    pipeline = dlt.pipeline(
        pipeline_name="cm_e2e",
        destination=dlt.destinations.duckdb(str(folder / "warehouse.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(folder / "pipelines"),
    )
    sandbox.requests.clear()
    pipeline.run(campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url))
    return pipeline


def loaded_file_formats(pipeline: dlt.Pipeline) -> dict[str, str]:
    """The file format each data table's rows went to the destination in, in the pipeline's last load
    (not dlt's own tables, nor the SQL jobs that follow a load)."""
    jobs = pipeline.get_load_package_info(pipeline.list_completed_load_packages()[-1]).jobs["completed_jobs"]
    return {
        job.job_file_info.table_name: job.job_file_info.file_format
        for job in jobs
        if not job.job_file_info.table_name.startswith("_dlt") and job.job_file_info.file_format != "sql"
    }


def test_the_plain_python_call_loads_duckdb_from_parquet(loaded: dlt.Pipeline) -> None:
    """Not the insert_values dlt gives DuckDB when a run names no format: the source's hints choose."""
    formats = loaded_file_formats(loaded)
    assert {"active_subscribers", "campaign_opens", "clients", "lists"} <= set(formats)
    assert set(formats.values()) == {"parquet"}


def test_a_file_format_the_run_names_wins(pipeline: dlt.Pipeline) -> None:
    with Sandbox(generate_account(subscribers=50, sent_campaigns=2)) as small:  # the module's counts its requests
        source = campaign_monitor_source(api_key=small.api_key, base_url=small.base_url)
        pipeline.run(source.with_resources("clients", "lists"), loader_file_format="jsonl")
    assert set(loaded_file_formats(pipeline).values()) == {"jsonl"}


def test_sandbox_account_is_big_enough_to_prove_something(account: Account) -> None:
    assert len(account.clients) >= 2
    assert max(len(states["Active"]) for states in account.subscribers.values()) > 2000
    assert any(all(not rows for rows in states.values()) for states in account.subscribers.values())


@pytest.mark.parametrize("table", TABLES)
def test_every_table_holds_exactly_the_sandbox_rows(loaded: dlt.Pipeline, account: Account, table: str) -> None:
    assert_table_holds(Counter(query(loaded, f"SELECT {KEY_SQL[table]} FROM {table}")), account, table)


def test_parent_ids_match_the_sandbox(loaded: dlt.Pipeline, account: Account) -> None:
    list_owner = {lst["ListID"]: cid for cid, lists in account.lists.items() for lst in lists}
    for table in STATES:
        for list_id, client_id in query(loaded, f"SELECT DISTINCT list_id, client_id FROM {table}"):
            assert list_owner[list_id] == client_id
    campaign_owner = {c["CampaignID"]: cid for cid, rows in account.campaigns.items() for c in rows}
    assert dict(query(loaded, "SELECT campaign_id, client_id FROM campaigns")) == campaign_owner


def test_custom_field_values_are_complete(loaded: dlt.Pipeline, account: Account) -> None:
    for table, state in STATES.items():
        loaded_values = Counter(
            query(
                loaded,
                f"""
            SELECT list_id, email_address, unnest({CUSTOM_FIELDS}, recursive := true) FROM {table}""",
            )
        )
        expected = Counter(
            (lid, s["EmailAddress"], f["Key"], f["Value"])
            for lid, states in account.subscribers.items()
            for s in states[state]
            for f in s["CustomFields"]
        )
        assert loaded_values == expected, table
    multi = query(
        loaded,
        f"""SELECT count(*) FROM (SELECT email_address, f.key FROM active_subscribers,
                              unnest({CUSTOM_FIELDS}) AS t(f) GROUP BY 1, 2 HAVING count(*) > 1)""",
    )
    assert multi[0][0] > 0, "a multi-select field must land as repeated keys"
    assert not [t for t in table_names(loaded) if t.endswith("__custom_fields")], (
        "no child tables: one row per subscriber"
    )


def test_consent_and_non_ascii_names_survive(loaded: dlt.Pipeline, account: Account) -> None:
    loaded_rows = {
        (list_id, e): (n, c)
        for list_id, e, n, c in query(
            loaded, "SELECT list_id, email_address, name, consent_to_track FROM active_subscribers"
        )
    }
    expected = {
        (lid, s["EmailAddress"]): (s["Name"], s["ConsentToTrack"])
        for lid, st in account.subscribers.items()
        for s in st["Active"]
    }
    assert loaded_rows == expected
    assert any(not name.isascii() for name, _ in loaded_rows.values())


def test_the_load_sends_the_minimum_number_of_requests(
    loaded: dlt.Pipeline, sandbox: Sandbox, account: Account
) -> None:
    pages = lambda rows: max(1, math.ceil(len(rows) / 1000))  # noqa: E731
    campaign_sent = {row["CampaignID"]: row["SentDate"] for rows in account.campaigns.values() for row in rows}
    per_client = sum(
        # details, 5 bare arrays, tags, journeys, people, and the two paged collections
        1 + 5 + 3 + pages(account.campaigns[cid]) + pages(account.suppression_list[cid])
        for cid in account.lists
    )
    subscriber_reads = [states[state] for states in account.subscribers.values() for state in STATES.values()]
    # details, stats, custom fields, webhooks, and the five paged states
    per_list = 4 * len(account.subscribers) + sum(pages(rows) for rows in subscriber_reads)
    members = [account.segment_members(sid) for sid in account.segment_details]
    per_segment = sum(1 + pages(rows) for rows in members)
    # summary and lists-and-segments (once for its two tables); the six paged reports and client usage where
    # the summary counts rows, and also where it counts none for a campaign too fresh to trust its zeros
    # (sent within two days of the account's "now"; a day either side is left open for the zones)
    now = dt.datetime.fromisoformat(account.system_date)
    fewest = most = 0
    for campaign_id, reports in account.campaign_reports.items():
        sent = dt.datetime.fromisoformat(campaign_sent[campaign_id])
        read = 2 + sum(pages(rows) for rows in reports.values() if rows) + bool(account.email_client_usage[campaign_id])
        empty = sum(not rows for rows in reports.values()) + (not account.email_client_usage[campaign_id])
        fewest += read + (empty if sent > now - dt.timedelta(days=1) else 0)
        most += read + (empty if sent > now - dt.timedelta(days=3) else 0)
    per_journey = len(account.journey_details) + sum(  # a journey email's empty reports are not asked
        pages(rows) for reports in account.journey_email_reports.values() for rows in reports.values() if rows
    )
    # the account's date once, and one catch-up request per subscriber read of several pages
    catch_up = 1 + sum(len(rows) > 1000 for rows in subscriber_reads + members)
    # smart emails and groups listed for their tables and for statistics, each smart email's details, the
    # timeline 200 at a time to a short call, statistics per smart email and group
    per_transactional = sum(
        4 + 2 * len(found.smart_emails) + len(found.messages) // TIMELINE_COUNT + 1 + len(found.groups)
        for found in account.transactional.values()
    )
    # the client listing and the account's administrators, once each
    expected = 2 + per_client + per_list + per_segment + per_journey + catch_up + per_transactional
    asked = ("page", "date", "clientID", "sentBeforeID", "smartEmailID", "group")
    paths = [(r.path, *(r.query.get(name) for name in asked)) for r in sandbox.requests]
    twice = 2 * len(account.transactional)
    assert len(paths) - len(set(paths)) == twice, "only the transactional listings are read twice"
    assert expected + fewest <= len(sandbox.requests) <= expected + most
    assert {r.query.get("pagesize") for r in sandbox.requests if "page" in r.query} == {"1000"}


@pytest.fixture(scope="module")
def one_client() -> Iterator[Sandbox]:
    """An account of one client, every table with rows, for a run with that client's own key."""
    with Sandbox(generate_account(clients=1, subscribers=400, sent_campaigns=10)) as running:
        yield running


def test_a_clients_own_key_loads_every_table_but_the_administrators_with_one_note(
    one_client: Sandbox, pipeline: dlt.Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    """The account's administrators are refused to a client's key (401): that table is left out, one
    line says so (a warning, kept in the run's notes), and every other table holds what the sandbox does."""
    account = one_client.account
    client_id = account.clients[0]["ClientID"]
    progress = RunProgress()
    key = account.client_details[client_id]["ApiKey"]
    with caplog.at_level(logging.WARNING):
        pipeline.run(
            campaign_monitor_source(api_key=key, base_url=one_client.base_url, client_id=client_id, progress=progress)
        )
    said = [record.getMessage() for record in caplog.records if "refused" in record.getMessage()]
    assert said == progress.notes and len(said) == 1
    assert "refused the account's administrators to this key (401 Code 100)" in said[0]
    assert "administrators" not in pipeline.default_schema.data_table_names(seen_data_only=True)
    assert_loaded_exactly(pipeline, account, tables=[table for table in TABLES if table != "administrators"])


def test_the_command_with_a_clients_own_key_notes_the_administrators_once(one_client: Sandbox, tmp_path: Path) -> None:
    account = one_client.account
    client_id = account.clients[0]["ClientID"]
    env = {
        "SOURCES__CAMPAIGN_MONITOR__API_KEY": account.client_details[client_id]["ApiKey"],
        "SOURCES__CAMPAIGN_MONITOR__BASE_URL": one_client.base_url,
    }
    result = run_script("--client-id", client_id, "--quiet", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    truth = expected_rows(account)
    assert printed_counts(result.stdout) == {t: sum(truth[t].values()) if t != "administrators" else 0 for t in TABLES}
    noted = [line for line in result.stdout.splitlines() if "refused the account's administrators" in line]
    assert len(noted) == 1


def test_demo_script_fills_every_table(tmp_path: Path, account: Account) -> None:
    result = run_script("--demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    truth = expected_rows(account)
    assert printed_counts(result.stdout) == {t: sum(truth[t].values()) for t in TABLES}
    assert (tmp_path / "campaign_monitor_demo.duckdb").exists()


PROGRESS_LINE = re.compile(r"^\d+:\d\d:\d\d \w+ \| ", re.M)


def test_a_run_outside_a_terminal_logs_its_progress_and_sums_up_requests(tmp_path: Path, account: Account) -> None:
    result = run_script("--demo", "--tables", "lists,active_subscribers", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stdout.splitlines() if PROGRESS_LINE.match(line)]
    extract = [line for line in progress if " extract | " in line]
    assert extract and " | Time: " not in result.stdout and "Resources" not in result.stdout  # no dlt counter block
    last = dict(part.split(" ", 1) for part in extract[-1].split(" | ")[1:5])
    assert (
        last["tables"] == "2/2"
        and int(last["rows"].replace(",", "")) > 0
        and int(last["requests"].replace(",", "")) > 0
    )
    assert any(" load | jobs " in line for line in progress)
    pages = expected_pages(account)
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("active_subscribers "))
    assert row[1:3] == [f"{sum(expected_rows(account)['active_subscribers'].values()):,}", str(pages)]
    summary = next(line for line in result.stdout.splitlines() if " requests, " in line).split()
    assert int(summary[0].replace(",", "")) > pages and summary[2:5] == ["0", "429s", "waited"]
    quiet = run_script("--demo", "--tables", "lists", "--quiet", cwd=tmp_path)
    assert (
        quiet.returncode == 0
        and not PROGRESS_LINE.search(quiet.stdout)
        and " requests, 0 429s waited out" in quiet.stdout
    )


def expected_pages(account: Account) -> int:
    """Pages of active_subscribers read: one per 1000 rows of each list (at least one), and the catch-up
    read after a list of more than one page (its answer is a page too)."""
    pages = [max(1, -(-len(states["Active"]) // 1000)) for states in account.subscribers.values()]
    return sum(pages) + sum(count > 1 for count in pages)


def one_line_failure(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("chosen, expected", [(None, "system"), ("jemalloc", "jemalloc")])
def test_the_source_takes_arrow_memory_from_malloc_unless_told_otherwise(chosen: str, expected: str) -> None:
    """The plain Python call gets it: making the source is enough, no command and no environment."""
    environment = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        environment["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    code = (
        "import pyarrow; from cm_source import campaign_monitor_source;"
        " campaign_monitor_source(api_key='k', base_url='http://127.0.0.1:9/api/v3.3');"
        " print(pyarrow.default_memory_pool().backend_name)"
    )
    printed = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    assert printed.stdout.split()[-1] == expected


def test_script_refuses_an_unknown_table_listing_the_valid_ones(tmp_path: Path) -> None:
    line = one_line_failure(run_script("--demo", "--tables", "lists,campains", cwd=tmp_path))
    assert "unknown table campains" in line and "active_subscribers" in line


def test_script_without_a_key_says_where_to_put_one(tmp_path: Path) -> None:
    assert "SOURCES__CAMPAIGN_MONITOR__API_KEY" in one_line_failure(run_script(cwd=tmp_path))


def test_script_with_a_rejected_key_fails_in_one_line(tmp_path: Path, sandbox: Sandbox, account: Account) -> None:
    env = {"SOURCES__CAMPAIGN_MONITOR__API_KEY": "wrong", "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url}
    line = one_line_failure(run_script("--client-id", account.clients[0]["ClientID"], cwd=tmp_path, env=env))
    assert "rejected the API key" in line and "wrong" not in line.split("(")[0]


def test_script_names_an_unknown_client(tmp_path: Path, sandbox: Sandbox) -> None:
    env = {
        "SOURCES__CAMPAIGN_MONITOR__API_KEY": sandbox.api_key,
        "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url,
    }
    line = one_line_failure(run_script("--client-id", "c0ffee", cwd=tmp_path, env=env))
    assert "client c0ffee does not exist" in line


def test_local_times_load_as_utc_in_both_hemispheres(loaded: dlt.Pipeline) -> None:
    """Joined at 12:00 local time: London is BST (+1) on 1 July, Sydney AEDT (+11) on 15 January."""
    utc = dt.timezone.utc
    joined = dict(
        query(
            loaded,
            """SELECT email_address, list_joined_date FROM active_subscribers
        WHERE email_address IN ('summer.joiner@example.com', 'winter.joiner@example.com',
                                'sydney.summer@example.com', 'sydney.winter@example.com')""",
        )
    )
    assert joined == {
        "summer.joiner@example.com": dt.datetime(2024, 7, 1, 11, 0, tzinfo=utc),
        "winter.joiner@example.com": dt.datetime(2024, 1, 15, 12, 0, tzinfo=utc),
        "sydney.summer@example.com": dt.datetime(2024, 1, 15, 1, 0, tzinfo=utc),
        "sydney.winter@example.com": dt.datetime(2024, 7, 1, 2, 0, tzinfo=utc),
    }
