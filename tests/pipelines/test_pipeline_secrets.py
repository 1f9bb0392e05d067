"""The API key, and the client API keys that client details carry, appear nowhere the project writes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import dlt
import pytest

from cm_source import campaign_monitor_source
from cm_source.failures import explain_failure
from cm_source.sandbox import Sandbox, generate_account

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate_account(subscribers=400)) as running:
        yield running


def files_containing(folder: Path, secrets: list[str]) -> list[str]:
    """Every file below ``folder`` whose bytes hold one of ``secrets`` (state, trace, packages, DuckDB)."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s[:6]}…" for s in secrets if s.encode() in data]
    return found


def test_no_key_in_logs_trace_state_packages_or_tables(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client_keys = [details["ApiKey"] for details in sandbox.account.client_details.values()]
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__API_KEY", sandbox.api_key)
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__BASE_URL", sandbox.base_url)
    caplog.set_level(logging.DEBUG)
    pipeline = dlt.pipeline(
        "cm_secrets",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    pipeline.run(campaign_monitor_source(), loader_file_format="parquet")
    one_client = sandbox.account.clients[0]["ClientID"]
    pipeline.run(
        campaign_monitor_source(client_id=one_client).with_resources("clients", "lists")
    )  # reads client details

    secrets = [sandbox.api_key, *client_keys]
    assert files_containing(tmp_path, secrets) == []
    assert not [s for s in secrets if s in caplog.text]
    assert not [s for s in secrets if s in str(pipeline.last_trace)]
    assert "Authorization" not in caplog.text


def test_no_key_in_errors(sandbox: Sandbox, tmp_path: Path) -> None:
    pipeline = dlt.pipeline(
        "cm_secrets_error",
        destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    wrong = "wrong-key-that-must-not-leak-1234567890"
    with pytest.raises(Exception) as failure:
        pipeline.run(campaign_monitor_source(api_key=wrong, base_url=sandbox.base_url))
    message = explain_failure(failure.value) or ""
    assert "check SOURCES__CAMPAIGN_MONITOR__API_KEY" in message
    assert wrong not in message and wrong not in str(failure.value)
    assert files_containing(tmp_path, [wrong]) == []


def test_no_oauth_token_anywhere_but_the_token_file(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = sandbox.oauth.grant()
    monkeypatch.delenv("SOURCES__CAMPAIGN_MONITOR__API_KEY", raising=False)
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__ACCESS_TOKEN", first["access_token"])
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__REFRESH_TOKEN", first["refresh_token"])
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__BASE_URL", sandbox.base_url)
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    sandbox.oauth.expire_after(50)  # so a refresh happens, and the new pair exists too
    pipeline = dlt.pipeline(
        "cm_oauth_secrets",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    pipeline.run(campaign_monitor_source(), loader_file_format="parquet")

    assert sandbox.oauth.refreshes == 1
    tokens = [*first.values(), *sandbox.oauth.access, *sandbox.oauth.refresh]
    tokens = [str(token) for token in tokens if isinstance(token, str)]
    token_file = tmp_path / ".campaign_monitor" / "tokens.json"
    assert [found for found in files_containing(tmp_path, tokens) if not found.startswith(str(token_file))] == []
    assert files_containing(token_file.parent, tokens)  # they are kept, there and only there
    assert not [t for t in tokens if t in caplog.text] and not [t for t in tokens if t in str(pipeline.last_trace)]
