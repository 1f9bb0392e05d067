"""The plan of a first sync: the requests a full read sends, from a few cheap requests per client, and the
time they take at the rate window the API announces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dlt
import pytest

from cm_source import campaign_monitor_source
from cm_source.read.plan import plan_sync
from cm_source.sandbox import Sandbox, generate_account


def full_read_requests(sandbox: Sandbox, tmp_path: Path, **settings: str) -> int:
    sandbox.requests.clear()
    pipeline = dlt.pipeline(
        "planned",
        destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
        dataset_name="cm",
        pipelines_dir=str(tmp_path / "p"),
    )
    pipeline.run(campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url, **settings))
    return len(sandbox.requests)


@pytest.mark.parametrize("size", [dict(subscribers=6000, sent_campaigns=12), dict(seed=9, clients=3, sent_campaigns=4)])
def test_the_plan_counts_the_requests_a_full_read_sends(size: dict, tmp_path: Path) -> None:
    """Lists of several pages and reports of one page each, every campaign's summary in the sample: the
    plan is within 2% of the requests sent, and never above them (pages it cannot see count as one: with the
    empty reports left unasked, a few opens' second pages are 1.1% of this account's 278 requests)."""
    with Sandbox(generate_account(**size)) as sandbox:
        plan = plan_sync(api_key=sandbox.api_key, base_url=sandbox.base_url)
        assert plan.planning_requests == len(sandbox.requests)  # what the plan says it cost
        account = sandbox.account
        cheap = (
            1
            + sum(  # the client listing; per client 6 listings and its campaigns' pages; one per list, segment, journey
                6
                + max(1, -(-len(account.campaigns[cid]) // 1000))
                + len(account.lists[cid])
                + len(account.segments[cid])
                + len(account.journeys.get(cid, []))
                for cid in (row["ClientID"] for row in account.clients)
            )
        )
        summaries = sum(request.path.endswith("/summary.json") for request in sandbox.requests)
        assert 0 < summaries <= 20 * len(account.clients)  # a sample of the campaigns' summaries
        assert plan.planning_requests == cheap + 1 + summaries  # and the account's clock
        sent = full_read_requests(sandbox, tmp_path)
    assert 0.98 * sent <= plan.requests <= sent, (plan.requests, sent)
    assert [client.client_id for client in plan.clients] == [row["ClientID"] for row in sandbox.account.clients]


def test_one_clients_plan_and_the_time_at_the_announced_window(tmp_path: Path) -> None:
    with Sandbox(generate_account(subscribers=1500, sent_campaigns=6)) as sandbox:
        sandbox.faults.rate_limit_window(50, 5.0)
        client_id = sandbox.account.clients[1]["ClientID"]
        plan = plan_sync(client_id, api_key=sandbox.api_key, base_url=sandbox.base_url)
        sandbox.faults.rate_limit_window(None)
        sent = full_read_requests(sandbox, tmp_path, client_id=client_id)
    assert [client.client_id for client in plan.clients] == [client_id]
    assert 0.98 * sent <= plan.requests <= sent
    assert plan.window == (50, 5.0) and plan.seconds == pytest.approx(plan.requests / 50 * 5.0)
    assert "at the API's rate window of 50 per 5 s" in plan.lines()[-1]


def test_the_command_prints_the_plan_of_the_demo(tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("cm-source")
    result = subprocess.run([str(command), "plan", "--demo"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[:2] == ["client", "account"] and "campaign reports" in lines[1]
    planned = int(lines[-1].split()[0].replace(",", ""))
    assert lines[-1].split()[1:5] == ["requests", "for", "a", "full"]
    # the read sends 3,750; the plan samples 20 of each client's campaigns' summaries for their empty reports
    assert abs(planned - 3750) <= 0.1 * 3750
