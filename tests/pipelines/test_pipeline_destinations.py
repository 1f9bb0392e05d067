"""The sandbox loaded into every tested destination: the same rows and keys as the sandbox holds.

PostgreSQL is a real server (see ``postgres_server`` in conftest); the filesystem is a local bucket
in Parquet and in JSONL; SQLite is reached through dlt's ``sqlalchemy`` destination. DuckDB has the
same checks in test_end_to_end.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dlt
import pytest
from helpers.expected import KEY_SQL, STATES, assert_table_holds, expected_rows
from helpers.postgres import new_database
from helpers.scripts import printed_counts, run_pipeline_script

from cm_source import TABLES, campaign_monitor_source
from cm_source.read.destinations import destination_for, destination_type, file_format, has_atomic_replace
from cm_source.sandbox import Account, Sandbox

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"

DESTINATIONS = ("postgres", "filesystem-parquet", "filesystem-jsonl", "sqlite")


def make_destination(name: str, folder: Path, postgres: str | None) -> tuple[Any, str | None]:
    """The destination under test and the file format the script would load it with."""
    if name == "postgres":
        destination = destination_for("postgres", "", credentials=postgres)
    elif name == "sqlite":
        destination = destination_for("sqlalchemy", "", credentials=f"sqlite:///{folder / 'warehouse.sqlite'}")
    else:
        destination = destination_for("filesystem", "", bucket_url=(folder / "bucket").as_uri())
    return destination, name.split("-")[1] if name.startswith("filesystem-") else file_format(destination)


@pytest.fixture(scope="module", params=DESTINATIONS)
def loaded(request: pytest.FixtureRequest, sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dlt.Pipeline:
    """One full load of the sandbox into the destination, with ``pipeline.run(campaign_monitor_source())``."""
    folder = tmp_path_factory.mktemp(request.param)
    postgres = new_database(request.getfixturevalue("postgres_server")) if request.param == "postgres" else None
    destination, loader_format = make_destination(request.param, folder, postgres)
    pipeline = dlt.pipeline(
        pipeline_name=f"cm_{request.param.replace('-', '_')}",
        destination=destination,
        dataset_name="cm_data",
        pipelines_dir=str(folder / "pipelines"),
    )
    pipeline.run(
        campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url), loader_file_format=loader_format
    )
    return pipeline


def rows(pipeline: dlt.Pipeline, sql: str, raw: bool = False) -> list[tuple]:
    return [tuple(row) for row in pipeline.dataset()(sql, _execute_raw_query=raw).fetchall()]


def entries(value: Any) -> list[dict]:
    """A custom_fields value as the destination gives it back: nested, or JSON text."""
    return json.loads(value) if isinstance(value, str) else list(value or [])


@pytest.mark.parametrize("table", TABLES)
def test_every_table_holds_exactly_the_sandbox_rows(loaded: dlt.Pipeline, account: Account, table: str) -> None:
    assert_table_holds(Counter(rows(loaded, f"SELECT {KEY_SQL[table]} FROM {table}")), account, table)


@pytest.fixture(scope="module")
def duckdb_child_counts(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Rows of every child table (``campaigns__tags``, …) in a DuckDB load of the same sandbox."""
    folder = tmp_path_factory.mktemp("duckdb")
    pipeline = dlt.pipeline(
        pipeline_name="cm_duckdb",
        destination=destination_for("duckdb", str(folder / "w.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(folder / "pipelines"),
    )
    pipeline.run(
        campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url), loader_file_format="parquet"
    )
    return child_counts(pipeline)


def child_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    children = [t for t in pipeline.default_schema.data_table_names(seen_data_only=True) if "__" in t]
    return dict(pipeline.dataset().row_counts(table_names=children).fetchall())


def test_child_tables_hold_the_same_rows_as_in_duckdb(
    loaded: dlt.Pipeline, duckdb_child_counts: dict[str, int]
) -> None:
    assert len(duckdb_child_counts) >= 5 and all(duckdb_child_counts.values())
    assert child_counts(loaded) == duckdb_child_counts


def test_custom_field_values_are_complete(loaded: dlt.Pipeline, account: Account) -> None:
    for table, state in STATES.items():
        found = Counter(
            (lid, email, entry["key"], entry["value"])
            for lid, email, fields in rows(loaded, f"SELECT list_id, email_address, custom_fields FROM {table}")
            for entry in entries(fields)
        )
        expected = Counter(
            (lid, s["EmailAddress"], f["Key"], f["Value"])
            for lid, states in account.subscribers.items()
            for s in states[state]
            for f in s["CustomFields"]
        )
        assert found == expected, table


def test_no_child_table_for_custom_fields(loaded: dlt.Pipeline) -> None:
    tables = loaded.default_schema.data_table_names(seen_data_only=True)
    assert "active_subscribers" in tables and not [t for t in tables if t.endswith("__custom_fields")]


def test_local_times_land_as_the_same_utc_instants(loaded: dlt.Pipeline) -> None:
    """London (+1 in July) and Sydney (+11 in January) joiners at 12:00 local, as in test_end_to_end."""
    found = dict(
        rows(
            loaded,
            """SELECT email_address, list_joined_date FROM active_subscribers
        WHERE email_address IN ('summer.joiner@example.com', 'sydney.summer@example.com')""",
        )
    )
    as_utc = {
        email: (value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value)))
        for email, value in found.items()
    }
    as_utc = {
        e: (v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v.astimezone(dt.timezone.utc))
        for e, v in as_utc.items()
    }
    assert as_utc == {
        "summer.joiner@example.com": dt.datetime(2024, 7, 1, 11, 0, tzinfo=dt.timezone.utc),
        "sydney.summer@example.com": dt.datetime(2024, 1, 15, 1, 0, tzinfo=dt.timezone.utc),
    }


@pytest.mark.parametrize("loaded", ["postgres"], indirect=True)
def test_custom_fields_are_jsonb_on_postgres_and_unnest_with_the_readme_query(
    loaded: dlt.Pipeline, account: Account
) -> None:
    found = Counter(
        rows(
            loaded,
            """
        SELECT s.email_address, f->>'key', f->>'value'
        FROM cm_data.active_subscribers AS s, jsonb_array_elements(s.custom_fields) AS f""",
            raw=True,
        )
    )
    assert found == active_custom_fields(account)
    column_type = rows(
        loaded,
        """SELECT data_type FROM information_schema.columns
        WHERE table_schema = 'cm_data' AND table_name = 'active_subscribers' AND column_name = 'custom_fields'""",
        raw=True,
    )
    assert column_type == [("jsonb",)]


def active_custom_fields(account: Account) -> Counter:
    return Counter(
        (s["EmailAddress"], f["Key"], f["Value"])
        for states in account.subscribers.values()
        for s in states["Active"]
        for f in s["CustomFields"]
    )


@pytest.mark.parametrize("loaded", ["sqlite"], indirect=True)
def test_custom_fields_unnest_on_sqlite_with_the_readme_query(loaded: dlt.Pipeline, account: Account) -> None:
    found = Counter(
        rows(
            loaded,
            """
        SELECT s.email_address, f.value ->> '$.key', f.value ->> '$.value'
        FROM active_subscribers AS s, json_each(s.custom_fields) AS f""",
            raw=True,
        )
    )
    assert found == active_custom_fields(account)


def test_atomic_replace_is_used_where_the_destination_has_it(loaded: dlt.Pipeline) -> None:
    kind = destination_type(loaded.destination)
    strategy = loaded.destination_client().config.replace_strategy  # type: ignore[attr-defined]
    assert has_atomic_replace(loaded.destination) == (kind != "filesystem")
    if kind == "filesystem":  # never asked for a strategy it refuses: its own default
        assert strategy in (None, "truncate-and-insert")
    else:
        assert strategy == "insert-from-staging"


def test_postgres_demo_from_the_script_fills_every_table(tmp_path: Path, account: Account, postgres_url: str) -> None:
    result = run_pipeline_script(
        "--demo", "--destination", "postgres", cwd=tmp_path, env={"DESTINATION__POSTGRES__CREDENTIALS": postgres_url}
    )
    assert result.returncode == 0, result.stderr
    truth = expected_rows(account)
    assert printed_counts(result.stdout) == {t: sum(truth[t].values()) for t in TABLES}
    assert "Loaded into" in result.stdout and "note:" not in result.stderr


def test_the_script_says_where_a_table_cannot_be_swapped_in_atomically_and_writes_csv_there(
    tmp_path: Path, account: Account
) -> None:
    result = run_pipeline_script(
        "--demo",
        "--destination",
        "filesystem",
        "--file-format",
        "csv",
        "--tables",
        "clients,active_subscribers",
        cwd=tmp_path,
        env={"DESTINATION__FILESYSTEM__BUCKET_URL": (tmp_path / "bucket").as_uri()},
    )
    assert result.returncode == 0, result.stderr
    assert "note: filesystem cannot swap tables in atomically" in result.stderr
    truth = expected_rows(account)
    assert printed_counts(result.stdout) == {t: sum(truth[t].values()) for t in ("clients", "active_subscribers")}
    written = next((tmp_path / "bucket" / "campaign_monitor_data" / "active_subscribers").glob("*.csv*"))
    opened = gzip.open(written, "rt", encoding="utf-8") if written.suffix == ".gz" else written.open(encoding="utf-8")
    with opened as lines:
        first = next(csv.DictReader(lines))
    entries = json.loads(first["custom_fields"])  # CSV holds no nested column: the fields went as JSON text
    assert isinstance(entries, list) and all(set(entry) == {"key", "value"} for entry in entries)


def one_line_failure(result: Any) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "destination, env, expected",
    [
        ("postgres", {}, "the postgres destination is not configured: set DESTINATION__POSTGRES__CREDENTIALS"),
        ("filesystem", {}, "the filesystem destination is not configured: set DESTINATION__FILESYSTEM__BUCKET_URL"),
        (
            "postgres",
            {"DESTINATION__POSTGRES__CREDENTIALS": "postgresql://loader@127.0.0.1:1/analytics"},
            "the postgres destination's DESTINATION__POSTGRES__CREDENTIALS is set but incomplete: give every part",
        ),
        (
            "postgres",
            {"DESTINATION__POSTGRES__CREDENTIALS": "postgresql://loader:pw-0123@127.0.0.1:1/analytics"},
            'could not connect to the postgres destination (connection to server at "127.0.0.1", port 1 failed',
        ),
        ("postgress", {}, "unknown destination 'postgress'"),
        (
            "filesystem",
            {"DESTINATION__FILESYSTEM__BUCKET_URL": "file:///proc/no-such-bucket"},
            "the filesystem destination refused to prepare dataset campaign_monitor_data ([Errno 2]",
        ),
    ],
)
def test_a_misconfigured_destination_fails_in_one_line_naming_the_setting(
    tmp_path: Path, destination: str, env: dict, expected: str
) -> None:
    line = one_line_failure(
        run_pipeline_script("--demo", "--destination", destination, "--tables", "clients", cwd=tmp_path, env=env)
    )
    assert expected in line
    assert "pw-0123" not in line


def test_a_postgres_user_without_create_rights_fails_in_one_line_before_reading(
    tmp_path: Path, postgres_url: str
) -> None:
    import psycopg2

    database = postgres_url.rsplit("/", 1)[1]
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True
    with connection.cursor() as cursor:  # a role of this test's own: roles are shared by the whole server
        cursor.execute(f"CREATE ROLE reader_{database} LOGIN PASSWORD 'pw-0123'")
        cursor.execute(f"REVOKE CREATE ON DATABASE {database} FROM PUBLIC")
    connection.close()
    parts = urlsplit(postgres_url)
    url = parts._replace(netloc=f"reader_{database}:pw-0123@{parts.hostname}:{parts.port}").geturl()
    result = run_pipeline_script(
        "--demo", "--destination", "postgres", cwd=tmp_path, env={"DESTINATION__POSTGRES__CREDENTIALS": url}
    )
    line = one_line_failure(result)
    assert "the postgres destination refused to prepare dataset campaign_monitor_data (permission denied" in line
    assert "check DESTINATION__POSTGRES__CREDENTIALS" in line and "pw-0123" not in line
    assert "Sandbox running" not in result.stdout  # refused before the account was read


def test_an_unfinished_earlier_run_is_dropped_and_the_account_read_again(tmp_path: Path, account: Account) -> None:
    stale = dlt.pipeline("campaign_monitor_demo", pipelines_dir=str(tmp_path / "dlt" / "pipelines"), dataset_name="x")
    stale.extract([{"client_id": "left-over"}], table_name="clients")  # extracted, never loaded
    assert stale.has_pending_data
    result = run_pipeline_script("--demo", "--tables", "clients", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "note: dropping the unloaded data of an earlier run" in result.stderr
    assert printed_counts(result.stdout) == {"clients": len(account.clients)}


def test_a_duckdb_file_another_process_holds_fails_in_one_line(tmp_path: Path) -> None:
    import duckdb

    with duckdb.connect(str(tmp_path / "campaign_monitor_demo.duckdb")):  # held open, as a notebook would
        result = run_pipeline_script("--demo", "--tables", "lists", cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "campaign_monitor_demo.duckdb is locked: another process holds it" in lines[0]


def test_a_destination_without_its_driver_says_which_extra_to_install(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "psycopg2"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'psycopg2\'", name="psycopg2")\n')
    result = run_pipeline_script(
        "--demo",
        "--destination",
        "postgres",
        "--tables",
        "lists",
        cwd=tmp_path,
        env={"PYTHONPATH": str(shadow.parent), "DESTINATION__POSTGRES__CREDENTIALS": "postgresql://u:p@127.0.0.1:9/db"},
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "the postgres destination needs its driver" in lines[0] and 'pip install "cm-source[postgres]"' in lines[0]
