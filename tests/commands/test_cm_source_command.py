"""The ``cm-source`` command as installed by ``pip install .``: its help, its subcommands, its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cm_source.sandbox import Sandbox, generate_account

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"

COMMAND = Path(sys.executable).with_name("cm-source")


def cm_source(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    environment.update({"DLT_DATA_DIR": str(cwd / "dlt"), **(env or {})})
    return subprocess.run([str(COMMAND), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = cm_source("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert all(f"  {name} " in result.stdout for name in ("load", "plan", "push", "sandbox"))
    for name, option in (
        ("load", "--incremental"),
        ("plan", "--client-id"),
        ("push", "--mode"),
        ("sandbox", "--subscribers"),
    ):
        help_text = cm_source(name, "--help", cwd=tmp_path)
        assert (
            help_text.returncode == 0 and f"usage: cm-source {name}" in help_text.stdout and option in help_text.stdout
        )


@pytest.mark.parametrize("args, problem", [((), "a command is needed"), (("lod",), "unknown command 'lod'")])
def test_no_or_an_unknown_command_exits_2_with_the_usage(tmp_path: Path, args: tuple, problem: str) -> None:
    result = cm_source(*args, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().endswith(f"cm-source: error: {problem}")


def test_load_demo_and_push_work_through_the_command(tmp_path: Path) -> None:
    loaded = cm_source("load", "--demo", "--tables", "lists", "--quiet", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert any(line.split()[:1] == ["lists"] for line in loaded.stdout.splitlines())
    with Sandbox(generate_account(subscribers=50)) as sandbox:
        people = tmp_path / "people.csv"
        people.write_text("email_address\nvia.command@example.com\n", encoding="utf-8")
        list_id = sandbox.account.lists[sandbox.account.clients[0]["ClientID"]][0]["ListID"]
        pushed = cm_source(
            "push",
            "--list-id",
            list_id,
            "--input",
            str(people),
            cwd=tmp_path,
            env={
                "SOURCES__CAMPAIGN_MONITOR__API_KEY": sandbox.api_key,
                "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url,
            },
        )
        assert pushed.returncode == 0, pushed.stderr
        emails = {row["EmailAddress"] for row in sandbox.account.subscribers[list_id]["Active"]}
        assert "via.command@example.com" in emails


def test_load_into_a_running_postgres(tmp_path: Path, postgres_url: str) -> None:
    import contextlib

    import psycopg2

    result = cm_source(
        "load",
        "--demo",
        "--destination",
        "postgres",
        "--tables",
        "clients,active_subscribers",
        "--quiet",
        cwd=tmp_path,
        env={"DESTINATION__POSTGRES__CREDENTIALS": postgres_url},
    )
    assert result.returncode == 0, result.stderr
    printed = {
        line.split()[0]: int(line.split()[1].replace(",", ""))
        for line in result.stdout.splitlines()
        if line.split()[:1] in (["clients"], ["active_subscribers"])
    }
    with contextlib.closing(psycopg2.connect(postgres_url)) as connection, connection.cursor() as cursor:
        for table, rows in printed.items():
            cursor.execute(f"SELECT count(*) FROM campaign_monitor_data.{table}")
            assert cursor.fetchone()[0] == rows > 0


def test_incremental_loads_into_another_dataset_or_destination_hold_exactly_the_account(
    tmp_path: Path, postgres_url: str
) -> None:
    """The command creates its dataset before it runs, so dlt keeps the pipeline's state: the cursors
    of the first place must not be used for the next."""
    import dlt
    from helpers.expected import assert_loaded_exactly

    from cm_source.sandbox import account_activity

    # every kind of incremental table (state changes, new events, once, recent, timeline), and a replaced one
    tables = (
        "lists",
        "active_subscribers",
        "unsubscribed_subscribers",
        "campaign_opens",
        "campaign_recipients",
        "campaign_summaries",
        "transactional_messages",
    )
    duckdb_file = dlt.destinations.duckdb(str(tmp_path / "campaign_monitor_demo.duckdb"))
    places = [
        (("--dataset", "first"), duckdb_file, "first"),
        (("--dataset", "second"), duckdb_file, "second"),
        (("--destination", "postgres"), dlt.destinations.postgres(postgres_url), "campaign_monitor_data"),
    ]
    for rounds, (args, destination, dataset) in enumerate(places):
        result = cm_source(
            "load",
            "--demo",
            "--incremental",
            "--quiet",
            "--tables",
            ",".join(tables),
            *args,
            cwd=tmp_path,
            env={"DESTINATION__POSTGRES__CREDENTIALS": postgres_url},
        )
        assert result.returncode == 0, result.stderr
        account = generate_account()  # the demo's account, after one round of activity per earlier run
        for _ in range(rounds):
            account_activity(account)
        loaded = dlt.pipeline(
            pipeline_name="reader",
            pipelines_dir=str(tmp_path / "reader"),
            destination=destination,
            dataset_name=dataset,
        )
        assert_loaded_exactly(loaded, account, tables=tables)
        said = [line for line in result.stdout.splitlines() if "read in full and replaced" in line]
        assert len(said) == (1 if rounds else 0), result.stdout
