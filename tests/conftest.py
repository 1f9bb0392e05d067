"""Shared test helpers: fixture samples, a mocked account, and a throwaway DuckDB pipeline."""

from __future__ import annotations

import copy
import datetime as dt
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import dlt
import duckdb
import pytest

from cm_source import TABLES
from cm_source.api_facts import SUBSCRIBER_STATES
from cm_source.endpoints import ENDPOINTS_BY_TABLE
from cm_source.sandbox import Account, Sandbox, generate_account
from cm_source.time_zones import iana_zone
from helpers.samples import envelope, rows_of, sample
from postgres_cluster import postgres_bin, throwaway_cluster

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

SCRIPT = Path(__file__).resolve().parents[1] / "pipelines" / "campaign_monitor_pipeline.py"
BASE_URL = "https://api.test/api/v3.3"
API_KEY = "test-api-key-0123456789abcdef"


def renamed(rows: List[Dict[str, Any]], key: str, suffix: str) -> List[Dict[str, Any]]:
    """Copies of sample rows with ``key`` made unique, so two parents do not share IDs."""
    out = copy.deepcopy(rows)
    for row in out:
        row[key] = f"{row[key]}{suffix}"
    return out


def numbered_subscribers(count: int, prefix: str) -> List[Dict[str, Any]]:
    """``count`` active subscribers shaped like active_subscribers_with_tracking_preference.json."""
    template = rows_of("active_subscribers_with_tracking_preference.json")[0]
    rows = []
    for i in range(count):
        row = copy.deepcopy(template)
        row["EmailAddress"] = f"{prefix}{i:05d}@example.com"
        row["Name"] = f"Person {i}"
        rows.append(row)
    return rows


class MockAccount:
    """A Campaign Monitor account served by ``requests_mock`` from sample shapes.

    ``arrays`` maps a path to a bare array; ``paged`` maps a path to all its rows, served as
    envelopes honouring ``page``/``pagesize``; ``objects`` maps a path to a single object.
    """

    def __init__(self, mocker: Any) -> None:
        self.mocker = mocker
        self.arrays: Dict[str, Any] = {}
        self.paged: Dict[str, List[Dict[str, Any]]] = {}
        self.objects: Dict[str, Any] = {}

    def serve(self) -> None:
        for path, body in {**self.arrays, **self.objects}.items():
            self.mocker.get(f"{BASE_URL}/{path}", json=body)
        for path, rows in self.paged.items():
            self.mocker.get(f"{BASE_URL}/{path}", json=self._pager(rows))

    @staticmethod
    def _pager(rows: List[Dict[str, Any]]) -> Any:
        def respond(request: Any, context: Any) -> Dict[str, Any]:
            page = int(request.qs.get("page", ["1"])[0])
            page_size = int(request.qs.get("pagesize", ["1000"])[0])
            since = request.qs.get("date", [""])[0]  # "on or after", as the API filters
            return envelope([r for r in rows if str(r.get("Date", "")) >= since], page, page_size)

        return respond

    def requests_to(self, path: str) -> List[Any]:
        return [r for r in self.mocker.request_history if r.path.endswith(path.lower())]


CLIENT_IDS = [c["ClientID"] for c in sample("clients.json")]
# The first client sits in Sydney (as client_details.json), the second in London.
TIME_ZONES = ["(GMT+10:00) Canberra, Melbourne, Sydney", "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London"]
CAMPAIGN_REPORTS = {
    "recipients": "campaign_recipients.json", "opens": "campaign_opens.json", "clicks": "campaign_clicks.json",
    "bounces": "campaign_bounces.json", "unsubscribes": "campaign_unsubscribes.json", "spam": "campaign_spam.json",
}
JOURNEY_REPORTS = ("recipients", "opens", "clicks", "bounces", "unsubscribes")


def client_details(cid: str, n: int) -> Dict[str, Any]:
    details = sample("client_details.json")
    details["BasicDetails"].update(ClientID=cid, TimeZone=TIME_ZONES[n % 2], CompanyName=f"Client {n}")
    return details


def standard_account(mocker: Any) -> MockAccount:
    """Two clients with distinct lists, 2,500 active subscribers on one list, one empty list.

    Every other endpoint serves its sample, with IDs made unique per parent.
    """
    account = MockAccount(mocker)
    account.arrays["clients.json"] = sample("clients.json")
    account.objects["systemdate.json"] = {**sample("systemdate.json"), "SystemDate": "2030-01-01 00:00:00"}
    for n, cid in enumerate(CLIENT_IDS):
        suffix = f"-{n}"
        account.objects[f"clients/{cid}.json"] = client_details(cid, n)
        campaigns = renamed(rows_of("campaigns.json"), "CampaignID", suffix)
        account.paged[f"clients/{cid}/campaigns.json"] = campaigns
        account.arrays[f"clients/{cid}/scheduled.json"] = renamed(rows_of("scheduled_campaigns.json"), "CampaignID", suffix)
        account.arrays[f"clients/{cid}/drafts.json"] = renamed(rows_of("drafts.json"), "CampaignID", suffix)
        lists = renamed(rows_of("lists.json"), "ListID", suffix)
        account.arrays[f"clients/{cid}/lists.json"] = lists
        segments = renamed(rows_of("segments.json"), "SegmentID", suffix)
        account.arrays[f"clients/{cid}/segments.json"] = segments
        account.arrays[f"clients/{cid}/templates.json"] = renamed(rows_of("templates.json"), "TemplateID", suffix)
        account.paged[f"clients/{cid}/suppressionlist.json"] = rows_of("suppressionlist.json")
        account.arrays[f"clients/{cid}/tags.json"] = sample("tags.json" if n == 0 else "ruby/tags.json")
        journeys = rows_of("journeys/client_journeys.json")
        for j, journey in enumerate(journeys):  # the sample repeats one JourneyID
            journey["JourneyID"] = f"journey-{n}-{j}"
        account.arrays[f"clients/{cid}/journeys.json"] = journeys
        for journey in journeys:
            summary = {**sample("journeys/journey_summary.json"), "JourneyID": journey["JourneyID"]}
            summary["Emails"] = renamed(summary["Emails"], "EmailID", f"-{journey['JourneyID']}")
            account.objects[f"journeys/{journey['JourneyID']}.json"] = summary
            for email in summary["Emails"]:
                for report in JOURNEY_REPORTS:
                    account.paged[f"journeys/email/{email['EmailID']}/{report}.json"] = rows_of(
                        f"journeys/journey_email_{report}_with_params.json")
        for campaign in campaigns:
            cpath = f"campaigns/{campaign['CampaignID']}"
            account.objects[f"{cpath}/summary.json"] = sample("campaign_summary.json")
            account.objects[f"{cpath}/listsandsegments.json"] = sample("campaign_listsandsegments.json")
            account.arrays[f"{cpath}/emailclientusage.json"] = sample("email_client_usage.json")
            for report, name in CAMPAIGN_REPORTS.items():
                account.paged[f"{cpath}/{report}.json"] = rows_of(name)
        for segment in segments:
            spath = f"segments/{segment['SegmentID']}"
            account.objects[f"{spath}.json"] = {**sample("segment_details.json"), **segment}
            account.paged[f"{spath}/active.json"] = rows_of("segment_subscribers_with_tracking_preference.json")
        for m, lst in enumerate(lists):
            lid = lst["ListID"]
            if n == 0 and m == 0:
                active = numbered_subscribers(2500, "big") + rows_of("active_subscribers_with_tracking_preference.json")
            elif n == 1 and m == 1:
                active = []  # an empty list
            else:
                active = rows_of("active_subscribers_with_tracking_preference.json")
            empty = n == 1 and m == 1
            account.objects[f"lists/{lid}.json"] = {**sample("list_details.json"), "ListID": lid}
            account.objects[f"lists/{lid}/stats.json"] = sample("list_stats.json")
            account.arrays[f"lists/{lid}/customfields.json"] = sample("custom_fields.json")
            account.arrays[f"lists/{lid}/webhooks.json"] = [] if empty else sample("list_webhooks.json")
            account.paged[f"lists/{lid}/active.json"] = active
            account.paged[f"lists/{lid}/unconfirmed.json"] = [] if empty else rows_of("ruby/unconfirmed_subscribers.json")
            account.paged[f"lists/{lid}/unsubscribed.json"] = [] if empty else rows_of("unsubscribed_subscribers.json")
            account.paged[f"lists/{lid}/bounced.json"] = [] if empty else rows_of("bounced_subscribers.json")
            account.paged[f"lists/{lid}/deleted.json"] = [] if empty else rows_of("deleted_subscribers.json")
    return account


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


def new_database(postgres_server: str) -> str:
    import psycopg2

    name = f"cm_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(postgres_server)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()
    return f"{postgres_server.rsplit('/', 1)[0]}/{name}"


def run_pipeline_script(*args: str, cwd: Path, env: Dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``pipelines/campaign_monitor_pipeline.py`` in ``cwd``, with its own dlt folder and no source settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    environment.update({"DLT_DATA_DIR": str(cwd / "dlt"), "RUNTIME__DLTHUB_TELEMETRY": "false", **(env or {})})
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


def printed_counts(stdout: str) -> Dict[str, int]:
    """The script's summary: rows per table, as printed."""
    rows = [line.split()[:2] for line in stdout.splitlines() if line.split()[:1] and line.split()[0] in TABLES]
    return {table: int(count.replace(",", "")) for table, count in rows}


def query(pipeline: dlt.Pipeline, sql: str) -> List[tuple]:
    """Run SQL against the pipeline's DuckDB file, with ``cm_data`` as the dataset."""
    path = pipeline.destination_client().config.credentials.database  # type: ignore[attr-defined]
    with duckdb.connect(path, read_only=True) as conn:
        conn.execute("SET schema = 'cm_data'")
        return conn.execute(sql).fetchall()


# A subscriber's custom fields, one row per value, from the JSON column the read side loads.
CUSTOM_FIELDS = "CAST(custom_fields AS STRUCT(key VARCHAR, value VARCHAR)[])"


def table_names(pipeline: dlt.Pipeline) -> List[str]:
    return [r[0] for r in query(pipeline, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cm_data' ORDER BY 1")]


# What the sandbox holds, to compare a load against: table -> its rows as loaded, by key columns.
STATES = {f"{state.lower()}_subscribers": state for state in SUBSCRIBER_STATES}
CAMPAIGN_EVENTS = {"campaign_opens": "opens", "campaign_clicks": "clicks", "campaign_bounces": "bounces",
                   "campaign_unsubscribes": "unsubscribes", "campaign_spam_complaints": "spam"}
JOURNEY_EVENTS = {f"journey_email_{report}": report for report in ("recipients", "opens", "clicks", "bounces", "unsubscribes")}


def campaigns_sent_on_or_after(account: Account, day: dt.date) -> Set[str]:
    """The campaigns whose reports ``reports_sent_after=day`` reads: sent on or after it, in UTC."""
    sent = set()
    for cid, campaigns in account.campaigns.items():
        zone = iana_zone(account.client_details[cid]["BasicDetails"]["TimeZone"])
        for campaign in campaigns:
            moment = dt.datetime.fromisoformat(campaign["SentDate"]).replace(tzinfo=zone).astimezone(dt.timezone.utc)
            if moment.date() >= day:
                sent.add(campaign["CampaignID"])
    return sent


def expected_rows(account: Account, reports_from: Optional[dt.date] = None) -> Dict[str, "Counter[Tuple[str, ...]]"]:
    """Every table's rows as ``KEY_SQL`` selects them, counted, computed from the sandbox's own data.

    Keyed tables count each key once; event tables (no key) count every event, repeats included.
    With ``reports_from``, campaign reports only for campaigns sent on or after that day.
    """
    def by_client(attr: str, key: str) -> List[Tuple[str, ...]]:
        return [(row[key],) for cid in account.lists for row in getattr(account, attr)[cid]]

    list_ids = [lst["ListID"] for lists in account.lists.values() for lst in lists]
    wanted = campaigns_sent_on_or_after(account, reports_from) if reports_from else set(account.campaign_reports)
    reports = {cid: found for cid, found in account.campaign_reports.items() if cid in wanted}
    journeys = account.journey_email_reports
    rows: Dict[str, List[Tuple[str, ...]]] = {
        "clients": [(c["ClientID"],) for c in account.clients],
        "campaigns": by_client("campaigns", "CampaignID"),
        "scheduled_campaigns": by_client("scheduled", "CampaignID"),
        "draft_campaigns": by_client("drafts", "CampaignID"),
        "lists": by_client("lists", "ListID"),
        "segments": by_client("segments", "SegmentID"),
        "templates": by_client("templates", "TemplateID"),
        "suppression_list": [(cid, r["EmailAddress"]) for cid, found in account.suppression_list.items() for r in found],
        "tags": [(cid, tag["Name"]) for cid, tags in account.tags.items() for tag in tags],
        "journeys": by_client("journeys", "JourneyID"),
        **{table: [(lid, s["EmailAddress"]) for lid, states in account.subscribers.items() for s in states[state]]
           for table, state in STATES.items()},
        "list_details": [(lid,) for lid in list_ids],
        "list_stats": [(lid,) for lid in list_ids],
        "list_custom_fields": [(lid, f["Key"]) for lid in list_ids for f in account.custom_fields[lid]],
        "list_webhooks": [(lid, hook["WebhookID"]) for lid in list_ids for hook in account.webhooks.get(lid, [])],
        "segment_details": [(sid,) for sid in account.segment_details],
        "segment_subscribers": [(sid, m["EmailAddress"]) for sid in account.segment_details for m in account.segment_members(sid)],
        "campaign_summaries": [(cid,) for cid in account.campaign_summaries if cid in wanted],
        "campaign_recipients": [(cid, r["ListID"], r["EmailAddress"]) for cid, found in reports.items() for r in found["recipients"]],
        **{table: [(cid, r["EmailAddress"]) for cid, found in reports.items() for r in found[report]]
           for table, report in CAMPAIGN_EVENTS.items()},
        "campaign_email_client_usage": [(cid, u["Client"], u["Version"]) for cid, usage in account.email_client_usage.items() if cid in wanted for u in usage],
        "campaign_lists": [(cid, lst["ListID"]) for cid, sent in account.campaign_lists_and_segments.items() if cid in wanted for lst in sent["Lists"]],
        "campaign_segments": [(cid, seg["SegmentID"]) for cid, sent in account.campaign_lists_and_segments.items() if cid in wanted for seg in sent["Segments"]],
        "journey_emails": [(jid, e["EmailID"]) for jid, details in account.journey_details.items() for e in details["Emails"]],
        **{table: [(eid, r["EmailAddress"]) for eid, found in journeys.items() for r in found[report]]
           for table, report in JOURNEY_EVENTS.items()},
    }
    return {table: Counter(found) for table, found in rows.items()}


def assert_table_holds(found: "Counter[tuple]", account: Account, table: str) -> None:
    """``found`` (the table's key columns, counted) is exactly the sandbox's rows, each key once."""
    if ENDPOINTS_BY_TABLE[table].primary_key:
        assert max(found.values(), default=1) == 1, f"duplicate keys in {table}"
    assert found == expected_rows(account)[table], table


def assert_loaded_exactly(
    pipeline: dlt.Pipeline, account: Account, reports_from: Optional[dt.date] = None, moved: Tuple[str, ...] = ()
) -> None:
    """Every table holds exactly the sandbox's rows: keys once each, events as often as they happened.

    Tables in ``moved`` were read while the data changed under them: only their keys are checked.
    """
    truth = expected_rows(account, reports_from)
    for table in TABLES:
        rows = Counter(query(pipeline, f"SELECT {KEY_SQL[table]} FROM {table}"))
        if ENDPOINTS_BY_TABLE[table].primary_key:
            assert max(rows.values(), default=1) == 1, f"duplicate keys in {table}"
        if table not in moved:
            assert rows == truth[table], table


KEY_SQL = {
    "clients": "client_id", "campaigns": "campaign_id", "scheduled_campaigns": "campaign_id",
    "draft_campaigns": "campaign_id", "lists": "list_id", "segments": "segment_id", "templates": "template_id",
    "suppression_list": "client_id, email_address", "tags": "client_id, name", "journeys": "journey_id",
    **{table: "list_id, email_address" for table in STATES},
    "list_details": "list_id", "list_stats": "list_id", "list_custom_fields": "list_id, key",
    "list_webhooks": "list_id, webhook_id", "segment_details": "segment_id",
    "segment_subscribers": "segment_id, email_address", "campaign_summaries": "campaign_id",
    "campaign_recipients": "campaign_id, list_id, email_address",
    **{table: "campaign_id, email_address" for table in CAMPAIGN_EVENTS},
    "campaign_email_client_usage": "campaign_id, client, version", "campaign_lists": "campaign_id, list_id",
    "campaign_segments": "campaign_id, segment_id", "journey_emails": "journey_id, email_id",
    **{table: "email_id, email_address" for table in JOURNEY_EVENTS},
}
