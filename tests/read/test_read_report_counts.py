"""Reports the counts say are empty are not asked for (``read.report_counts``): a settled campaign's summary
and a journey email's own counts; a fresh campaign is read in full; the answer two tables share is asked
once; an incremental run notes what it left unread as read."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import dlt
import pytest

from cm_source import campaign_monitor_source
from cm_source.read.catalogue import ENDPOINTS
from cm_source.read.progress import RunProgress
from cm_source.sandbox import Sandbox, generate_account

CAMPAIGN_COUNTS = {e.path.split("/")[-1]: e.counted_by.field for e in ENDPOINTS if e.counted_by and e.counted_by.answer}
JOURNEY_COUNTS = {
    e.path.split("/")[-1]: e.counted_by.field for e in ENDPOINTS if e.counted_by and not e.counted_by.answer
}
REPORTS = [e.table for e in ENDPOINTS if e.campaign_report or e.parent == "journey_emails"]


def pipeline_in(folder: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        "counts",
        destination=dlt.destinations.duckdb(str(folder / "w.duckdb")),
        dataset_name="cm",
        pipelines_dir=str(folder / "pipelines"),
    )


def asked(sandbox: Sandbox) -> Counter:
    return Counter(request.path for request in sandbox.requests)


@pytest.fixture
def sandbox() -> Sandbox:
    account = generate_account(subscribers=300, sent_campaigns=40)
    fresh = account.campaigns[account.clients[0]["ClientID"]][0]  # sent on the account's "today"
    fresh["SentDate"] = account.system_date
    with Sandbox(account) as running:
        yield running


def test_a_report_whose_count_is_zero_is_not_asked_and_every_row_arrives(sandbox: Sandbox, tmp_path: Path) -> None:
    account = sandbox.account
    progress = RunProgress()
    pipeline = pipeline_in(tmp_path)
    source = campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url, progress=progress)
    pipeline.run(source.with_resources("clients", "campaigns", "journeys", "journey_emails", *REPORTS))
    requests = asked(sandbox)
    now = datetime.fromisoformat(account.system_date)
    sent_on = {
        row["CampaignID"]: datetime.fromisoformat(row["SentDate"])
        for rows in account.campaigns.values()
        for row in rows
    }
    skipped = 0
    for campaign_id, summary in account.campaign_summaries.items():
        for endpoint, field in CAMPAIGN_COUNTS.items():
            sent = requests[f"/campaigns/{campaign_id}/{endpoint}"]
            skipped += not sent
            if summary[field] or sent_on[campaign_id] > now - timedelta(days=1):  # a fresh campaign's are read
                assert sent >= 1, (campaign_id, endpoint)
            elif sent_on[campaign_id] < now - timedelta(days=3):  # settled, whatever the client's zone
                assert sent == 0, (campaign_id, endpoint)
        assert requests[f"/campaigns/{campaign_id}/summary.json"] == 1
        assert requests[f"/campaigns/{campaign_id}/listsandsegments.json"] == 1  # for its two tables
    emails = [email for journey in account.journey_details.values() for email in journey["Emails"]]
    for email in emails:
        for endpoint, field in JOURNEY_COUNTS.items():
            assert bool(requests[f"/journeys/email/{email['EmailID']}/{endpoint}"]) == bool(email[field])
            skipped += not email[field]
    assert skipped > 50 and progress.empty_reports == skipped
    assert progress.saved == skipped + len(account.campaign_summaries)  # and lists-and-segments shared
    counts = dict(pipeline.dataset().row_counts().fetchall())
    assert counts["campaign_clicks"] == sum(s["Clicks"] for s in account.campaign_summaries.values())
    assert counts["campaign_bounces"] == sum(s["Bounced"] for s in account.campaign_summaries.values())
    assert counts["journey_email_clicks"] == sum(email["Clicked"] for email in emails)


def test_an_incremental_run_notes_what_it_left_unread_and_does_not_ask_again(sandbox: Sandbox, tmp_path: Path) -> None:
    pipeline = pipeline_in(tmp_path)
    tables = ("clients", "campaigns", "campaign_summaries", "campaign_clicks", "campaign_spam_complaints")
    settings = {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "incremental": True}
    pipeline.run(campaign_monitor_source(**settings, report_refresh_days=0).with_resources(*tables))
    sandbox.requests.clear()
    pipeline.run(campaign_monitor_source(**settings, report_refresh_days=0).with_resources(*tables))
    again = [path for path in asked(sandbox) if path.startswith("/campaigns/")]
    fresh = sandbox.account.campaigns[sandbox.account.clients[0]["ClientID"]][0]["CampaignID"]
    assert all(fresh in path for path in again)  # only the campaign sent today is read again
