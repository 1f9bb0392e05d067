"""OAuth 2 over real HTTP against the sandbox: a token that expires mid-read is refreshed once (by one
thread for all), the rotated refresh token is kept and used by the next run, and invalid or revoked
tokens fail in one line."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from helpers.scripts import run_pipeline_script

from cm_source import campaign_monitor_source, upsert_subscribers
from cm_source.failures import explain_failure
from cm_source.sandbox import Sandbox, generate_account

TABLES = ("clients", "lists", "active_subscribers", "campaigns", "campaign_opens", "campaign_clicks")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate_account(subscribers=2000)) as running:
        yield running


def oauth_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, pair: dict[str, str]) -> None:
    monkeypatch.delenv("SOURCES__CAMPAIGN_MONITOR__API_KEY", raising=False)
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__ACCESS_TOKEN", pair["access_token"])
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__REFRESH_TOKEN", pair["refresh_token"])
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__BASE_URL", sandbox.base_url)


def load(folder: Path, name: str = "oauth") -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        name,
        destination=dlt.destinations.duckdb(str(folder / "w.duckdb")),
        dataset_name="cm",
        pipelines_dir=str(folder / "pipelines"),
    )
    pipeline.run(campaign_monitor_source().with_resources(*TABLES), loader_file_format="parquet")
    return pipeline


def test_a_token_that_expires_mid_read_is_refreshed_once_for_every_thread_and_kept(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = sandbox.oauth.grant()
    oauth_env(monkeypatch, sandbox, pair)
    monkeypatch.chdir(tmp_path)
    sandbox.oauth.expire_after(200)  # in the middle of the campaign reports, six requests in flight

    pipeline = load(tmp_path)

    assert sandbox.oauth.refreshes == 1
    api_requests = [r for r in sandbox.requests if r.path != "/oauth/token"]
    assert sum(r.path == "/oauth/token" for r in sandbox.requests) == 1
    assert len(api_requests) > 200 and pipeline.last_trace.last_normalize_info.row_counts["campaign_opens"] > 0
    token_file = tmp_path / ".campaign_monitor" / "tokens.json"
    saved = json.loads(token_file.read_text())
    assert saved["refresh_token"] in sandbox.oauth.refresh and saved["refresh_token"] != pair["refresh_token"]
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert (tmp_path / ".campaign_monitor" / ".gitignore").read_text() == "*\n"

    # The next run: the configured tokens are spent (and their access token expired), the file's are not.
    sandbox.oauth.expire()
    load(tmp_path, "oauth_again")
    assert sandbox.oauth.refreshes == 2  # the file's refresh token, rotated again
    assert json.loads(token_file.read_text())["refresh_token"] in sandbox.oauth.refresh


def test_the_write_side_takes_the_same_tokens(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth_env(monkeypatch, sandbox, sandbox.oauth.grant())
    monkeypatch.chdir(tmp_path)
    sandbox.oauth.expire()
    list_id = sandbox.account.lists[sandbox.account.clients[0]["ClientID"]][0]["ListID"]
    report = upsert_subscribers([{"email_address": "bearer@example.com"}], list_id)
    assert report.new == 1 and sandbox.oauth.refreshes == 1  # the expired token refreshed, the import resent


def test_an_api_key_wins_over_tokens_and_says_so(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    oauth_env(monkeypatch, sandbox, {"access_token": "not-a-token", "refresh_token": "nor-this"})
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__API_KEY", sandbox.api_key)
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING):
        load(tmp_path)
    assert "using the API key" in caplog.text and sandbox.oauth.refreshes == 0
    assert not (tmp_path / ".campaign_monitor").exists()


@pytest.mark.parametrize("case, said", [("revoked", "it was revoked"), ("invalid", "it is not valid")])
def test_revoked_and_invalid_tokens_fail_in_one_line(sandbox: Sandbox, tmp_path: Path, case: str, said: str) -> None:
    pair = sandbox.oauth.grant()
    if case == "revoked":
        sandbox.oauth.revoke()
    else:
        pair = {"access_token": "made-up", "refresh_token": pair["refresh_token"]}
    result = run_pipeline_script(
        "--tables",
        "clients",
        cwd=tmp_path,
        env={
            "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url,
            "SOURCES__CAMPAIGN_MONITOR__ACCESS_TOKEN": pair["access_token"],
            "SOURCES__CAMPAIGN_MONITOR__REFRESH_TOKEN": pair["refresh_token"],
        },
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert said in lines[0] and "SOURCES__CAMPAIGN_MONITOR__ACCESS_TOKEN" in lines[0]
    assert pair["access_token"] not in result.stderr + result.stdout


def test_a_refresh_token_refused_fails_in_one_line_naming_the_settings(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth_env(monkeypatch, sandbox, {"access_token": sandbox.oauth.grant()["access_token"], "refresh_token": "spent"})
    monkeypatch.chdir(tmp_path)
    sandbox.oauth.expire()
    with pytest.raises(PipelineStepFailed) as refused:
        load(tmp_path)
    line = explain_failure(refused.value)
    assert (
        "\n" not in line
        and "refused to refresh the OAuth token (invalid_grant)" in line
        and "REFRESH_TOKEN" in line
        and "spent" not in line
    )
    assert "share this grant" in line and "token_file" in line  # the fix for processes that share no disk


# One client's load, as one partition of an integration acting for an account runs it: the plain Python call.
ONE_CLIENT = """
import json, sys, dlt
from cm_source import campaign_monitor_source
spec = json.loads(sys.argv[1])
pipeline = dlt.pipeline("oauth_" + spec["client"], destination=dlt.destinations.duckdb(spec["duckdb"]),
                        dataset_name="cm", pipelines_dir=spec["pipelines"])
source = campaign_monitor_source(client_id=spec["client"]).with_resources(*spec["tables"])
pipeline.run(source, loader_file_format="parquet")
print(json.dumps(pipeline.last_trace.last_normalize_info.row_counts))
"""


def test_processes_sharing_one_grant_refresh_in_turn_and_all_finish(tmp_path: Path) -> None:
    import subprocess
    import sys

    with Sandbox(generate_account(seed=35, clients=4, subscribers=3000, sent_campaigns=12)) as sandbox:
        pair = sandbox.oauth.grant()
        sandbox.oauth.expire_every(6)  # every access token lasts six requests; every refresh rotates the pair
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
        environment.update(
            {
                "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url,
                "SOURCES__CAMPAIGN_MONITOR__ACCESS_TOKEN": pair["access_token"],
                "SOURCES__CAMPAIGN_MONITOR__REFRESH_TOKEN": pair["refresh_token"],
                "RUNTIME__DLTHUB_TELEMETRY": "false",
            }
        )
        clients = [row["ClientID"] for row in sandbox.account.clients]
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    ONE_CLIENT,
                    json.dumps(
                        {
                            "client": client,
                            "duckdb": str(tmp_path / f"{client}.duckdb"),
                            "pipelines": str(tmp_path / "pipelines"),
                            "tables": ["lists", "active_subscribers", "campaigns", "campaign_opens"],
                        }
                    ),
                ],
                cwd=tmp_path,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for client in clients
        ]
        results = [(process.wait(timeout=300), *process.communicate()) for process in processes]

        assert all(code == 0 for code, _, _ in results), "\n".join(err[-2000:] for _, _, err in results)
        for client, (_, out, _) in zip(clients, results, strict=True):
            active = sum(
                len(sandbox.account.subscribers[row["ListID"]]["Active"]) for row in sandbox.account.lists[client]
            )
            assert json.loads(out.splitlines()[-1]).get("active_subscribers", 0) == active, client
        token_posts = [r for r in sandbox.requests if r.path == "/oauth/token"]
        assert sandbox.oauth.refreshes >= len(clients)  # tokens ran out many times over, in every process
        assert len(token_posts) == sandbox.oauth.refreshes  # no refresh token was sent twice, so none was refused
        saved = json.loads((tmp_path / ".campaign_monitor" / "tokens.json").read_text())
        assert sandbox.oauth.refresh == {saved["refresh_token"]}  # the newest pair, the only one still good
        assert saved["access_token"] == list(sandbox.oauth.access)[-1]
