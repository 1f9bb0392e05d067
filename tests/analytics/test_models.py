"""The analytics models (cm_source/analytics, built by ``build_models``) against figures worked out
independently, in Python, from the sandbox's Account: never from the loaded tables.

One smallish account is loaded once into DuckDB and the models are built on it; the same account
without its journeys is loaded into Postgres, which proves both the models on Postgres and a build
with no journey tables (each build costs some 25 s of dbt, so there are two). The account is changed
a little before it is served, so that the case-insensitive rules and the null rates have
something to catch: some event rows carry an upper-case address, some subscribers are on their
client's suppression list (one in another case, one only on another client's list), and one small
campaign nobody opened.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from helpers.postgres import new_database

from cm_source import campaign_monitor_source
from cm_source.analytics import build_models
from cm_source.read.time_zones import iana_zone
from cm_source.sandbox import Account, Sandbox, generate_account

pytestmark = pytest.mark.slow  # subprocesses, whole loads or dbt builds: left out by -m "not slow"

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

MODELS_DATASET = "cm_data_analytics"
MODELS = (
    "cm__campaigns",
    "cm__campaign_events",
    "cm__campaign_recipients",
    "cm__campaign_links",
    "cm__subscribers",
    "cm__list_daily",
    "cm__lists",
    "cm__journey_emails",
)
STATES = ("Active", "Unconfirmed", "Unsubscribed", "Bounced", "Deleted")
# A campaign report's event rows and the model's event_type for each.
EVENT_TYPES = {
    "opens": "open",
    "clicks": "click",
    "bounces": "bounce",
    "unsubscribes": "unsubscribe",
    "spam": "spam_complaint",
}

Rows = list[dict[str, Any]]
Models = dict[str, Rows]


# --- the account ----------------------------------------------------------------------------------


def small_account(seed: int = 5, subscribers: int = 400, sent_campaigns: int = 4) -> Account:
    return generate_account(seed=seed, subscribers=subscribers, sent_campaigns=sent_campaigns)


def newest_campaign(account: Account, client_id: str) -> str:
    return max(account.campaigns[client_id], key=lambda row: row["SentDate"])["CampaignID"]


def upper_case_one_repeat(rows: list[dict]) -> list[dict]:
    """The rows with one of an ASCII address's several rows in upper case (the address stays the same
    case-insensitively). ASCII, so that every database's lower() agrees whatever its locale."""
    counts = Counter(row["EmailAddress"] for row in rows)
    for index, row in enumerate(rows):
        email = row["EmailAddress"]
        if counts[email] > 1 and email.isascii():
            return rows[:index] + [{**row, "EmailAddress": email.upper()}] + rows[index + 1 :]
    raise AssertionError("no ASCII address with more than one row")


def members(account: Account, client_id: str) -> Iterator[tuple[str, str, dict]]:
    """(list_id, state, row) for every subscriber row of a client's lists."""
    for lst in account.lists[client_id]:
        for state in STATES:
            for row in account.subscribers[lst["ListID"]][state]:
                yield lst["ListID"], state, row


def suppression(email: str) -> dict:
    return {
        "SuppressionReason": "Unsubscribed",
        "EmailAddress": email,
        "Date": "2024-05-01 10:00:00",
        "State": "Suppressed",
    }


def tweaked_account() -> Account:
    """The small account, changed only in ways the sandbox's own invariants allow (summaries stay the
    counts of the report rows, which count addresses case-insensitively)."""
    account = small_account()
    first, second = (client["ClientID"] for client in account.clients[:2])

    # Upper-case addresses among the opens and clicks of a campaign that is not a client's newest, so
    # the newest keep their exact repeats.
    def clicks_twice(cid: str) -> bool:
        clicks = account.campaign_reports[cid]["clicks"]
        return len(clicks) > len({r["EmailAddress"] for r in clicks})

    older = next(
        c["CampaignID"]
        for c in account.campaigns[first]
        if c["CampaignID"] != newest_campaign(account, first) and clicks_twice(c["CampaignID"])
    )
    reports = account.campaign_reports[older]
    reports["opens"] = upper_case_one_repeat(reports["opens"])
    reports["clicks"] = upper_case_one_repeat(reports["clicks"])

    # A campaign nobody opened (nor clicked): its click-to-open rate has no denominator.
    quiet = min(
        (
            c
            for c in account.campaigns[second]
            if c["CampaignID"] != newest_campaign(account, second)
            and not account.campaign_reports[c["CampaignID"]]["clicks"]
        ),
        key=lambda c: len(account.campaign_reports[c["CampaignID"]]["opens"]),
    )["CampaignID"]
    account.campaign_reports[quiet]["opens"] = []
    account.campaign_summaries[quiet] = {**account.campaign_summaries[quiet], "TotalOpened": 0, "UniqueOpened": 0}
    account.email_client_usage[quiet] = []

    # Suppressed subscribers: one of the first client's active ones in upper case, one of its
    # unsubscribed ones as is; and an address only the second client has, on the first client's list.
    first_rows = list(members(account, first))
    first_emails = {row["EmailAddress"].lower() for _, _, row in first_rows}
    active = next(
        row["EmailAddress"] for _, state, row in first_rows if state == "Active" and row["EmailAddress"].isascii()
    )
    unsubscribed = next(row["EmailAddress"] for _, state, row in first_rows if state == "Unsubscribed")
    elsewhere = next(
        row["EmailAddress"] for _, _, row in members(account, second) if row["EmailAddress"].lower() not in first_emails
    )
    second_own = next(
        row["EmailAddress"]
        for _, state, row in members(account, second)
        if state == "Active" and row["EmailAddress"] != elsewhere
    )
    account.suppression_list[first] = account.suppression_list[first] + [
        suppression(active.upper()),
        suppression(unsubscribed),
        suppression(elsewhere),
    ]
    account.suppression_list[second] = account.suppression_list[second] + [suppression(second_own)]
    return account


def without_journeys(account: Account) -> Account:
    """The account with no journeys in any client (so nothing journey-shaped is loaded)."""
    return replace(
        account, journeys={cid: [] for cid in account.journeys}, journey_details={}, journey_email_reports={}
    )


# --- loading and reading --------------------------------------------------------------------------


def load_and_build(account: Account, destination: Any, folder: Path, name: str) -> dlt.Pipeline:
    """Serve the account, load all of it with the source, then build the models."""
    pipeline = dlt.pipeline(
        pipeline_name=name, destination=destination, dataset_name="cm_data", pipelines_dir=str(folder / "pipelines")
    )
    with Sandbox(account) as sandbox:
        pipeline.run(campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url))
    build_models(pipeline)
    return pipeline


def read_models(pipeline: dlt.Pipeline, dataset: str = MODELS_DATASET) -> Models:
    """Every table of the models' dataset as a list of rows (column names lower case)."""
    tables_sql = (
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{dataset}' "
        "AND table_name LIKE 'cm\\_\\_%' ESCAPE '\\'"
    )

    def fetch(execute: Any) -> Models:
        names = [row[0] for row in execute(tables_sql)[1]]
        models = {}
        for table in names:
            columns, rows = execute(f'SELECT * FROM {dataset}."{table}"')
            models[table] = [dict(zip(columns, row, strict=True)) for row in rows]
        return models

    if pipeline.destination.destination_name == "duckdb":
        path = pipeline.destination_client().config.credentials.database  # type: ignore[attr-defined]
        with duckdb.connect(path, read_only=True) as conn:

            def run(sql: str) -> tuple[list[str], list[tuple]]:
                cursor = conn.execute(sql)
                return [d[0].lower() for d in cursor.description], cursor.fetchall()

            return fetch(run)
    with pipeline.sql_client() as client:

        def run_client(sql: str) -> tuple[list[str], list[tuple]]:
            with client.execute_query(sql) as cursor:
                return [d[0].lower() for d in cursor.description], [tuple(row) for row in cursor.fetchall()]

        return fetch(run_client)


@pytest.fixture(scope="module")
def account() -> Account:
    return tweaked_account()


@pytest.fixture(scope="module")
def duckdb_models(account: Account, tmp_path_factory: pytest.TempPathFactory) -> Models:
    folder = tmp_path_factory.mktemp("models_duckdb")
    pipeline = load_and_build(
        account, dlt.destinations.duckdb(str(folder / "warehouse.duckdb")), folder, "cm_models_duckdb"
    )
    return read_models(pipeline)


@pytest.fixture(scope="module")
def postgres_account() -> Account:
    """The same account without journeys: Postgres also proves that the models build without them
    (each build is a dbt run of its own, so this saves a third one)."""
    return without_journeys(tweaked_account())


@pytest.fixture(scope="module")
def postgres_models(
    postgres_account: Account, postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Models:
    folder = tmp_path_factory.mktemp("models_postgres")
    destination = dlt.destinations.postgres(new_database(postgres_server))
    pipeline = load_and_build(postgres_account, destination, folder, "cm_models_postgres")
    return read_models(pipeline)


def models_on(kind: str, request: pytest.FixtureRequest) -> tuple[Models, Account]:
    """The models built on `kind` and the account they were built from."""
    account_fixture = "account" if kind == "duckdb" else f"{kind}_account"
    return request.getfixturevalue(f"{kind}_models"), request.getfixturevalue(account_fixture)


# --- what the models should hold, from the account ------------------------------------------------


def zone_of(account: Account, client_id: str) -> Any:
    zone = iana_zone(account.client_details[client_id]["BasicDetails"]["TimeZone"])
    assert zone is not None
    return zone


def utc(local: str | None, zone: Any) -> datetime | None:
    """An API local time as a naive UTC datetime, the models' form (the first of a repeated hour)."""
    if not local:
        return None
    return datetime.fromisoformat(local).replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def distinct(rows: Iterable[dict]) -> int:
    return len({row["EmailAddress"].lower() for row in rows})


def ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def sent_campaigns(account: Account) -> Iterator[tuple[str, dict]]:
    """(client_id, campaign row) for every sent campaign."""
    for client_id, rows in account.campaigns.items():
        for row in rows:
            yield client_id, row


def expected_campaigns(account: Account) -> dict[str, dict]:
    expected = {}
    for client_id, campaign in sent_campaigns(account):
        cid = campaign["CampaignID"]
        report, summary = account.campaign_reports[cid], account.campaign_summaries[cid]
        recipients, bounced = len(report["recipients"]), distinct(report["bounces"])
        delivered = recipients - bounced
        unique_opens, unique_clicks, unsubscribes = (
            distinct(report["opens"]),
            distinct(report["clicks"]),
            distinct(report["unsubscribes"]),
        )
        expected[cid] = {
            "campaign_id": cid,
            "client_id": client_id,
            "name": campaign["Name"],
            "sent_at": utc(campaign["SentDate"], zone_of(account, client_id)),
            "recipients": recipients,
            "bounced": bounced,
            "delivered": delivered,
            "total_opens": len(report["opens"]),
            "unique_opens": unique_opens,
            "total_clicks": len(report["clicks"]),
            "unique_clicks": unique_clicks,
            "unsubscribes": unsubscribes,
            "spam_complaints": distinct(report["spam"]),
            "hard_bounces": distinct(r for r in report["bounces"] if r["BounceType"] == "Hard"),
            "soft_bounces": distinct(r for r in report["bounces"] if r["BounceType"] == "Soft"),
            "open_rate": ratio(unique_opens, delivered),
            "click_rate": ratio(unique_clicks, delivered),
            "click_to_open_rate": ratio(unique_clicks, unique_opens),
            "bounce_rate": ratio(bounced, recipients),
            "unsubscribe_rate": ratio(unsubscribes, delivered),
            "api_recipients": summary["Recipients"],
            "api_total_opened": summary["TotalOpened"],
            "api_unique_opened": summary["UniqueOpened"],
            "api_clicks": summary["Clicks"],
            "api_bounced": summary["Bounced"],
            "api_unsubscribed": summary["Unsubscribed"],
            "api_spam_complaints": summary["SpamComplaints"],
        }
    return expected


def expected_events(account: Account) -> Counter:
    """(campaign_id, event_type, occurred_at, minutes_since_sent), with how many rows each."""
    expected: Counter = Counter()
    for client_id, campaign in sent_campaigns(account):
        zone, sent = zone_of(account, client_id), datetime.fromisoformat(campaign["SentDate"])
        for report, event_type in EVENT_TYPES.items():
            for row in account.campaign_reports[campaign["CampaignID"]][report]:
                local = datetime.fromisoformat(row["Date"])
                minutes = int((local - sent).total_seconds() // 60)
                expected[(campaign["CampaignID"], event_type, utc(row["Date"], zone), minutes)] += 1
    return expected


def expected_recipients(account: Account) -> dict[tuple[str, str, str], dict]:
    expected = {}
    for client_id, campaign in sent_campaigns(account):
        cid, zone = campaign["CampaignID"], zone_of(account, client_id)
        report = account.campaign_reports[cid]
        by_email: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for name in EVENT_TYPES:
            for row in report[name]:
                by_email[row["EmailAddress"].lower()][name].append(row)
        for row in report["recipients"]:
            events = by_email[row["EmailAddress"].lower()]
            bounce_types = {b["BounceType"] for b in events["bounces"]}
            assert len(bounce_types) <= 1, "the generator gives each bounced address one bounce type"
            expected[(cid, row["ListID"], row["EmailAddress"].lower())] = {
                "opens": len(events["opens"]),
                "clicks": len(events["clicks"]),
                "was_opened": bool(events["opens"]),
                "was_clicked": bool(events["clicks"]),
                "was_bounced": bool(events["bounces"]),
                "bounce_type": next(iter(bounce_types), None),
                "was_unsubscribed": bool(events["unsubscribes"]),
                "was_spam_complaint": bool(events["spam"]),
                "first_opened_at": min((utc(r["Date"], zone) for r in events["opens"]), default=None),
                "first_clicked_at": min((utc(r["Date"], zone) for r in events["clicks"]), default=None),
            }
    return expected


def expected_links(account: Account) -> dict[tuple[str, str], dict]:
    clicks: dict[tuple[str, str], list[dict]] = defaultdict(list)
    zones = {}
    for client_id, campaign in sent_campaigns(account):
        zones[campaign["CampaignID"]] = zone_of(account, client_id)
        for row in account.campaign_reports[campaign["CampaignID"]]["clicks"]:
            clicks[(campaign["CampaignID"], row["URL"])].append(row)
    return {
        (cid, url): {
            "clicks": len(rows),
            "unique_clickers": distinct(rows),
            "first_clicked_at": min(utc(r["Date"], zones[cid]) for r in rows),
            "last_clicked_at": max(utc(r["Date"], zones[cid]) for r in rows),
        }
        for (cid, url), rows in clicks.items()
    }


def expected_subscribers(account: Account) -> dict[tuple[str, str], dict]:
    received: dict[tuple[str, str], set] = defaultdict(set)
    opened: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    clicked: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for _, campaign in sent_campaigns(account):
        cid, report = campaign["CampaignID"], account.campaign_reports[campaign["CampaignID"]]
        for row in report["recipients"]:
            received[(row["ListID"], row["EmailAddress"].lower())].add(cid)
        for row in report["opens"]:
            opened[(row["ListID"], row["EmailAddress"].lower())].append((cid, row["Date"]))
        for row in report["clicks"]:
            clicked[(row["ListID"], row["EmailAddress"].lower())].append((cid, row["Date"]))
    expected = {}
    for client_id, lists in account.lists.items():
        zone = zone_of(account, client_id)
        suppressed = {row["EmailAddress"].lower() for row in account.suppression_list.get(client_id, [])}
        for lst in lists:
            list_id = lst["ListID"]
            for state in STATES:
                for row in account.subscribers[list_id][state]:
                    key = (list_id, row["EmailAddress"].lower())
                    expected[key] = {
                        "state": row["State"],
                        "joined_at": utc(row["ListJoinedDate"], zone),
                        "state_changed_at": utc(row["Date"], zone),
                        "is_suppressed": key[1] in suppressed,
                        "campaigns_received": len(received[key]),
                        "campaigns_opened": len({cid for cid, _ in opened[key]}),
                        "campaigns_clicked": len({cid for cid, _ in clicked[key]}),
                        "last_opened_at": max((utc(d, zone) for _, d in opened[key]), default=None),
                        "last_clicked_at": max((utc(d, zone) for _, d in clicked[key]), default=None),
                    }
    return expected


def expected_list_daily(account: Account) -> dict[tuple[str, date], dict]:
    expected = {}
    for client_id, lists in account.lists.items():
        for lst in lists:
            states = account.subscribers[lst["ListID"]]
            days: dict[date, Counter] = defaultdict(Counter)
            for state in ("Active", "Unsubscribed", "Bounced", "Deleted"):
                for row in states[state]:
                    days[datetime.fromisoformat(row["ListJoinedDate"]).date()]["joins"] += 1
            for state, counter in (("Unsubscribed", "unsubscribes"), ("Bounced", "bounces"), ("Deleted", "deletions")):
                for row in states[state]:
                    days[datetime.fromisoformat(row["Date"]).date()][counter] += 1
            running = 0
            for day in sorted(days):
                counts = days[day]
                net = counts["joins"] - counts["unsubscribes"] - counts["bounces"] - counts["deletions"]
                running += net
                expected[(lst["ListID"], day)] = {
                    "client_id": client_id,
                    "joins": counts["joins"],
                    "unsubscribes": counts["unsubscribes"],
                    "bounces": counts["bounces"],
                    "deletions": counts["deletions"],
                    "net_change": net,
                    "active_subscribers": running,
                }
    return expected


def expected_lists(account: Account) -> dict[str, dict]:
    expected = {}
    for client_id, lists in account.lists.items():
        for lst in lists:
            states = account.subscribers[lst["ListID"]]
            # The sandbox's stats endpoint counts the Active rows (sandbox/reads.py, get_list_stats).
            api_active = len(states["Active"])
            expected[lst["ListID"]] = {
                "client_id": client_id,
                "name": lst["Name"],
                "api_active_subscribers": api_active,
                "active_subscribers": len(states["Active"]),
                "unsubscribed_subscribers": len(states["Unsubscribed"]),
                "bounced_subscribers": len(states["Bounced"]),
                "deleted_subscribers": len(states["Deleted"]),
                "unconfirmed_subscribers": len(states["Unconfirmed"]),
                "active_difference": len(states["Active"]) - api_active,
            }
    return expected


def expected_journey_emails(account: Account) -> dict[tuple[str, str], dict]:
    expected = {}
    for journey_id, details in account.journey_details.items():
        for email in details["Emails"]:
            reports = account.journey_email_reports[email["EmailID"]]
            expected[(journey_id, email["EmailID"])] = {
                "recipients": len(reports["recipients"]),
                "unique_opens": distinct(reports["opens"]),
                "api_recipients": email["Sent"],
                "api_unique_opened": email["UniqueOpened"],
            }
    return expected


def expected_journey_emails_by_analogy(account: Account) -> dict[tuple[str, str], dict]:
    """The columns the brief names without defining, worked out as cm__campaigns defines them."""
    expected = {}
    for journey_id, details in account.journey_details.items():
        for email in details["Emails"]:
            reports = account.journey_email_reports[email["EmailID"]]
            recipients, bounced = len(reports["recipients"]), distinct(reports["bounces"])
            delivered = recipients - bounced
            unique_opens, unique_clicks = distinct(reports["opens"]), distinct(reports["clicks"])
            expected[(journey_id, email["EmailID"])] = {
                "unique_clicks": unique_clicks,
                "bounced": bounced,
                "delivered": delivered,
                "open_rate": ratio(unique_opens, delivered),
                "click_rate": ratio(unique_clicks, delivered),
            }
    return expected


# --- comparing ------------------------------------------------------------------------------------


def same(expected: Any, got: Any) -> bool:
    """Equal as the models' values: floats approximately, Decimals as numbers, None only as None."""
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(expected, float):
        return isinstance(got, (int, float, Decimal)) and float(got) == pytest.approx(expected)
    if isinstance(expected, bool):
        return got == expected and isinstance(got, (bool, int))
    if isinstance(expected, datetime):
        # Naive UTC is what the models hold: an aware value (or a date) is a disagreement.
        return isinstance(got, datetime) and got.tzinfo is None and got == expected
    if isinstance(expected, date):
        return type(got) is date and got == expected
    if isinstance(expected, int):
        return isinstance(got, (int, Decimal)) and not isinstance(got, bool) and got == expected
    return got == expected


def by_key(rows: Rows, *columns: str) -> dict[tuple, dict]:
    """Rows keyed by their key columns (email addresses lower case); a key twice fails."""
    keyed: dict[tuple, dict] = {}
    for row in rows:
        key = tuple(row[c].lower() if c == "email_address" else row[c] for c in columns)
        assert key not in keyed, f"key {key} twice"
        keyed[key] = row
    return keyed


def disagreements(expected: dict[Any, dict], got: dict[Any, dict]) -> list[tuple]:
    """(key, column, expected, got) for every value that differs; keys must match exactly first."""
    assert set(got) == set(expected), (
        f"missing keys: {sorted(set(expected) - set(got), key=str)[:10]},"
        f" extra keys: {sorted(set(got) - set(expected), key=str)[:10]}"
    )
    found = []
    for key, row in expected.items():
        for column, value in row.items():
            if column not in got[key]:
                found.append((key, column, value, "<no such column>"))
            elif not same(value, got[key][column]):
                found.append((key, column, value, got[key][column]))
    return found


def assert_agrees(expected: dict[Any, dict], got: dict[Any, dict]) -> None:
    found = disagreements(expected, got)
    assert not found, f"{len(found)} values differ, e.g. (key, column, expected, got): {found[:12]}"


# --- the tests ------------------------------------------------------------------------------------


def test_the_tweaks_give_the_models_something_to_catch(account: Account) -> None:
    """Guards the fixture, so a change to the generator cannot quietly make the other tests weaker."""
    campaigns = expected_campaigns(account)
    assert any(c["click_to_open_rate"] is None for c in campaigns.values())
    assert any(c["hard_bounces"] and c["soft_bounces"] for c in campaigns.values())
    assert any(c["total_opens"] > c["unique_opens"] for c in campaigns.values())
    assert any(
        r["EmailAddress"] != r["EmailAddress"].lower()
        for rep in account.campaign_reports.values()
        for r in rep["opens"]
    )
    subscribers = expected_subscribers(account)
    assert sum(s["is_suppressed"] for s in subscribers.values()) >= 3
    assert any(s["campaigns_received"] > 1 for s in subscribers.values())
    assert any(s["campaigns_received"] and not s["campaigns_opened"] for s in subscribers.values())
    assert len({zone_of(account, c["ClientID"]).key for c in account.clients}) == 2


def test_every_model_is_built(duckdb_models: Models) -> None:
    assert set(MODELS) <= set(duckdb_models)


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_campaigns_match_the_account(kind: str, request: pytest.FixtureRequest) -> None:
    models, account = models_on(kind, request)
    rows = models["cm__campaigns"]
    assert_agrees(expected_campaigns(account), {k[0]: v for k, v in by_key(rows, "campaign_id").items()})


def test_campaign_events_are_every_event_row(duckdb_models: Models, account: Account) -> None:
    rows = duckdb_models["cm__campaign_events"]
    expected = expected_events(account)
    per_type = Counter((cid, event_type) for (cid, event_type, _, _), n in expected.items() for _ in range(n))
    assert Counter((r["campaign_id"], r["event_type"]) for r in rows) == per_type
    keys = [r["event_key"] for r in rows]
    assert None not in keys and len(set(keys)) == len(keys)
    got = Counter((r["campaign_id"], r["event_type"], r["occurred_at"], r["minutes_since_sent"]) for r in rows)
    assert got == expected, (
        f"expected but missing: {list((expected - got).items())[:8]}, unexpected: {list((got - expected).items())[:8]}"
    )


def test_campaign_events_keep_exact_repeats(duckdb_models: Models, account: Account) -> None:
    """The newest campaign of each client has an open and a click twice, identical: both rows stay."""
    rows = duckdb_models["cm__campaign_events"]
    for client in account.clients:
        cid = newest_campaign(account, client["ClientID"])
        for report, event_type in (("opens", "open"), ("clicks", "click")):
            source = account.campaign_reports[cid][report]
            assert len({tuple(sorted(r.items())) for r in source}) < len(source), "the account has an exact repeat"
            assert sum(1 for r in rows if r["campaign_id"] == cid and r["event_type"] == event_type) == len(source)


def test_campaign_recipients_match_the_account(duckdb_models: Models, account: Account) -> None:
    expected = expected_recipients(account)
    got = by_key(duckdb_models["cm__campaign_recipients"], "campaign_id", "list_id", "email_address")
    assert_agrees(expected, got)
    # The totals: per campaign, the opens of its recipients are all the campaign's open rows (every
    # opener in this account received it), and the upper-case rows are counted with their recipient.
    for _, campaign in sent_campaigns(account):
        cid = campaign["CampaignID"]
        for report, column in (("opens", "opens"), ("clicks", "clicks")):
            recipients = {r["EmailAddress"].lower() for r in account.campaign_reports[cid]["recipients"]}
            of_recipients = sum(
                1 for r in account.campaign_reports[cid][report] if r["EmailAddress"].lower() in recipients
            )
            assert sum(row[column] for key, row in got.items() if key[0] == cid) == of_recipients


def test_campaign_links_match_the_account(duckdb_models: Models, account: Account) -> None:
    assert_agrees(expected_links(account), by_key(duckdb_models["cm__campaign_links"], "campaign_id", "url"))


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_subscribers_match_the_account(kind: str, request: pytest.FixtureRequest) -> None:
    models, account = models_on(kind, request)
    got = by_key(models["cm__subscribers"], "list_id", "email_address")
    assert_agrees(expected_subscribers(account), got)


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_list_daily_matches_the_account(kind: str, request: pytest.FixtureRequest) -> None:
    models, account = models_on(kind, request)
    rows = models["cm__list_daily"]
    expected = expected_list_daily(account)
    assert_agrees(expected, by_key(rows, "list_id", "day"))
    # The running total ends at the list's active count; an empty list has no days.
    for list_id, states in account.subscribers.items():
        days = sorted((r for r in rows if r["list_id"] == list_id), key=lambda r: r["day"])
        if not any(states.values()):
            assert days == []
        else:
            assert days[-1]["active_subscribers"] == len(states["Active"])


def test_lists_match_the_account(duckdb_models: Models, account: Account) -> None:
    got = {k[0]: v for k, v in by_key(duckdb_models["cm__lists"], "list_id").items()}
    assert_agrees(expected_lists(account), got)


def test_journey_emails_match_the_reports(duckdb_models: Models, account: Account) -> None:
    got = by_key(duckdb_models["cm__journey_emails"], "journey_id", "email_id")
    assert_agrees(expected_journey_emails(account), got)


def test_journey_email_rates_are_worked_out_as_the_campaigns_are(duckdb_models: Models, account: Account) -> None:
    got = by_key(duckdb_models["cm__journey_emails"], "journey_id", "email_id")
    assert_agrees(expected_journey_emails_by_analogy(account), got)


def test_an_account_without_journeys_builds_every_other_model(
    postgres_models: Models, postgres_account: Account
) -> None:
    """Built on Postgres from the account without journeys: every other model is there and right, and
    the journey model is not built at all (no table, rather than an empty one)."""
    assert not any(postgres_account.journeys.values()) and not postgres_account.journey_details
    assert set(MODELS) - {"cm__journey_emails"} <= set(postgres_models)
    assert "cm__journey_emails" not in postgres_models
    assert_agrees(
        expected_lists(postgres_account), {k[0]: v for k, v in by_key(postgres_models["cm__lists"], "list_id").items()}
    )
    assert_agrees(expected_links(postgres_account), by_key(postgres_models["cm__campaign_links"], "campaign_id", "url"))
    assert_agrees(
        expected_recipients(postgres_account),
        by_key(postgres_models["cm__campaign_recipients"], "campaign_id", "list_id", "email_address"),
    )
    events = postgres_models["cm__campaign_events"]
    got = Counter((r["campaign_id"], r["event_type"], r["occurred_at"], r["minutes_since_sent"]) for r in events)
    assert got == expected_events(postgres_account)
    assert len({r["event_key"] for r in events}) == len(events)
