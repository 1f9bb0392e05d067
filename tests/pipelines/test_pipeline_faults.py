"""Under each fault the sandbox can throw, every table still loads exactly what the sandbox holds."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from helpers.expected import assert_loaded_exactly, expected_rows
from helpers.scripts import SCRIPT
from helpers.warehouse import query

from cm_source import TABLES, campaign_monitor_source
from cm_source.sandbox import Sandbox, generate_account

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate_account(subscribers=3000)) as running:
        yield running


def big_list(sandbox: Sandbox) -> str:
    return max(sandbox.account.subscribers, key=lambda lid: len(sandbox.account.subscribers[lid]["Active"]))


# Reports for the last few weeks only: the fan-out over all 1,055 campaigns is proven once, in
# test_end_to_end; here it would add ~10,000 requests to every load.
REPORTS_FROM = dt.date(2024, 6, 1)


def load(sandbox: Sandbox, tmp_path: Path) -> dlt.Pipeline:
    """A full load that retries without waiting for real (backoff 0, X-RateLimit-Reset 0)."""
    pipeline = dlt.pipeline(
        "cm_faults",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    source = campaign_monitor_source(
        api_key=sandbox.api_key,
        base_url=sandbox.base_url,
        backoff_seconds=0,
        max_attempts=6,
        reports_sent_after=REPORTS_FROM.isoformat(),
    )
    pipeline.run(source, loader_file_format="parquet")
    return pipeline


FAULTS: dict[str, Callable[[Sandbox], Any]] = {
    "429 with X-RateLimit-Reset": lambda s: s.faults.rate_limit(4, reset_seconds=0),
    "429 without headers": lambda s: s.faults.rate_limit(4, reset_seconds=None),
    "500s": lambda s: s.faults.server_error(3),
    "503 on subscriber pages": lambda s: s.faults.server_error(3, status=503, only="/active.json"),
    "truncated bodies": lambda s: s.faults.truncate(3, only="/(active|campaigns).json"),
    "HTML instead of JSON": lambda s: s.faults.garbage(2),
    "connection resets": lambda s: s.faults.reset_connection(3),
    "subscribers join while a list is paged": lambda s: s.faults.insert_while_paging(
        big_list(s), after_page=1, count=3
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_every_table_loads_exactly_under(fault: str, sandbox: Sandbox, tmp_path: Path) -> None:
    FAULTS[fault](sandbox)
    pipeline = load(sandbox, tmp_path)
    # joiners also join a segment, which may have been read before or after they joined
    moved = ("segment_subscribers",) if sandbox.faults.inserted else ()
    assert_loaded_exactly(pipeline, sandbox.account, REPORTS_FROM, moved)
    faulted = [r for r in sandbox.requests if r.fault]
    assert faulted or sandbox.faults.inserted, "the fault never fired"


def test_a_subscriber_who_leaves_mid_read_is_not_duplicated_and_nobody_is_lost(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.faults.insert_while_paging(big_list(sandbox), after_page=1, count=2, remove=2)
    pipeline = load(sandbox, tmp_path)
    rows = query(pipeline, "SELECT list_id, email_address FROM active_subscribers")
    assert len(rows) == len(set(rows))
    truth = set(expected_rows(sandbox.account)["active_subscribers"])
    left = {(big_list(sandbox), email) for email in sandbox.faults.removed}
    assert truth <= set(rows), "a subscriber who joined mid-read is missing"
    assert set(rows) - truth <= left  # only those who left mid-read may linger


def run_script(sandbox: Sandbox, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    environment = {
        **os.environ,
        "SOURCES__CAMPAIGN_MONITOR__API_KEY": sandbox.api_key,
        "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url,
        "DLT_DATA_DIR": str(cwd / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "SOURCES__CAMPAIGN_MONITOR__REPORTS_SENT_AFTER": REPORTS_FROM.isoformat(),
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args], cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def duckdb_counts(database: Path) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {t: connection.execute(f"SELECT count(*) FROM campaign_monitor_data.{t}").fetchone()[0] for t in TABLES}


def postgres_counts(url: str, dataset: str = "campaign_monitor_data", tables: Sequence[str] = TABLES) -> dict[str, int]:
    import psycopg2

    with contextlib.closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        found = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {dataset}.{table}")
            found[table] = cursor.fetchone()[0]
        return found


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[tuple[str, ...], dict[str, str], Callable[[], dict[str, int]]]:
    """The script's arguments and environment for one destination, and how to count its tables."""
    if request.param == "duckdb":
        return (), {}, lambda: duckdb_counts(tmp_path / "campaign_monitor.duckdb")
    url = request.getfixturevalue("postgres_url")
    return ("--destination", "postgres"), {"DESTINATION__POSTGRES__CREDENTIALS": url}, lambda: postgres_counts(url)


def test_a_killed_run_leaves_the_earlier_load_intact_and_the_next_run_completes(
    sandbox: Sandbox, tmp_path: Path, warehouse: tuple[tuple[str, ...], dict[str, str], Callable[[], dict[str, int]]]
) -> None:
    args, env, counts = warehouse
    first = run_script(sandbox, tmp_path, *args, env=env)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    before = counts()
    truth = expected_rows(sandbox.account, REPORTS_FROM)
    assert before == {t: sum(truth[t].values()) for t in TABLES}

    sandbox.faults.insert_while_paging(big_list(sandbox), after_page=1, count=5)  # the data changes meanwhile
    sandbox.faults.latency(60, only="/bounced.json")  # hold the second run in the middle of its reads
    sandbox.requests.clear()
    second = run_script(sandbox, tmp_path, *args, env=env)
    deadline = time.monotonic() + 60
    while not any(r.path.endswith("/bounced.json") for r in sandbox.requests):
        assert time.monotonic() < deadline and second.poll() is None, "the run never reached the bounced lists"
        time.sleep(0.02)
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    assert counts() == before  # nothing half-replaced

    sandbox.faults.clear()
    third = run_script(sandbox, tmp_path, *args, env=env)
    assert third.wait(timeout=120) == 0, third.stderr.read()
    assert counts() == {t: sum(n for n in expected_rows(sandbox.account, REPORTS_FROM)[t].values()) for t in TABLES}


def test_a_run_killed_while_postgres_swaps_a_table_in_leaves_that_table_as_it_was(
    sandbox: Sandbox, tmp_path: Path, postgres_url: str
) -> None:
    """Killed in the load step itself: the new rows are all in staging, the swap is waiting for a lock."""
    import psycopg2

    args, env = ("--destination", "postgres"), {"DESTINATION__POSTGRES__CREDENTIALS": postgres_url}
    assert run_script(sandbox, tmp_path, *args, env=env).wait(timeout=120) == 0
    before = postgres_counts(postgres_url)
    sandbox.faults.insert_while_paging(big_list(sandbox), after_page=1, count=5)

    blocker = psycopg2.connect(postgres_url)
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLE campaign_monitor_data.active_subscribers IN ACCESS EXCLUSIVE MODE")
        second = run_script(sandbox, tmp_path, *args, env=env)
        deadline = time.monotonic() + 120
        waiting: list = []
        while not waiting:
            assert time.monotonic() < deadline and second.poll() is None, "the swap never waited for the table"
            time.sleep(0.05)
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the view stays as it was at the first look
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            waiting = [pid for (pid,) in cursor.fetchall()]
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=30)
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", (waiting,)
        )  # the run's session ends with it
    blocker.rollback()
    blocker.close()

    staged = postgres_counts(postgres_url, "campaign_monitor_data_staging", ["active_subscribers"])
    assert staged["active_subscribers"] == before["active_subscribers"] + 5  # the new rows were all loaded
    after = postgres_counts(postgres_url)
    assert after["active_subscribers"] == before["active_subscribers"]
    new = {t: sum(n for n in expected_rows(sandbox.account, REPORTS_FROM)[t].values()) for t in TABLES}
    assert all(after[t] in (before[t], new[t]) for t in TABLES), "a table holds neither load"
