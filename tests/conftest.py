"""The fixtures every test folder shares; the helpers they use live in tests/helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
from helpers.mock_account import MockAccount, standard_account
from helpers.postgres import new_database, postgres_bin, throwaway_cluster

from cm_source.sandbox import Account, Sandbox, generate_account

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture
def mock_account(requests_mock: Any) -> MockAccount:
    account = standard_account(requests_mock)
    account.serve()
    return account


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[dlt.Pipeline]:
    """A DuckDB pipeline in a temporary folder (file and dataset named apart, as DuckDB needs)."""
    yield dlt.pipeline(
        pipeline_name="cm_test",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


@pytest.fixture(scope="module")
def account() -> Account:
    """The sandbox's default account: each test module gets its own (some change it)."""
    return generate_account()


@pytest.fixture(scope="module")
def sandbox(account: Account) -> Iterator[Sandbox]:
    with Sandbox(account) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server: ``CM_TEST_POSTGRES_URL`` if set, else a throw-away cluster for this session.

    Without PostgreSQL binaries the Postgres tests skip on a developer's machine and fail in CI.
    """
    if os.environ.get("CM_TEST_POSTGRES_URL"):
        yield os.environ["CM_TEST_POSTGRES_URL"]
        return
    binaries = postgres_bin()
    if binaries is None:
        message = "no PostgreSQL binaries (apt-get install postgresql) and CM_TEST_POSTGRES_URL unset"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with throwaway_cluster(binaries) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database on the test server, so tests do not see each other's tables."""
    return new_database(postgres_server)
