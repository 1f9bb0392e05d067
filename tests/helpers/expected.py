"""What a load of the sandbox's account must hold, computed from the sandbox's own data."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

import dlt

from cm_source import TABLES
from cm_source.api_facts import SUBSCRIBER_STATES
from cm_source.read.catalogue import ENDPOINTS_BY_TABLE
from cm_source.read.time_zones import iana_zone
from cm_source.sandbox import Account
from helpers.warehouse import query

# What the sandbox holds, to compare a load against: table -> its rows as loaded, by key columns.
STATES = {f"{state.lower()}_subscribers": state for state in SUBSCRIBER_STATES}
CAMPAIGN_EVENTS = {
    "campaign_opens": "opens",
    "campaign_clicks": "clicks",
    "campaign_bounces": "bounces",
    "campaign_unsubscribes": "unsubscribes",
    "campaign_spam_complaints": "spam",
}
JOURNEY_EVENTS = {
    f"journey_email_{report}": report for report in ("recipients", "opens", "clicks", "bounces", "unsubscribes")
}


def campaigns_sent_on_or_after(account: Account, day: dt.date) -> set[str]:
    """The campaigns whose reports ``reports_sent_after=day`` reads: sent on or after it, in UTC."""
    sent = set()
    for cid, campaigns in account.campaigns.items():
        zone = iana_zone(account.client_details[cid]["BasicDetails"]["TimeZone"])
        for campaign in campaigns:
            moment = dt.datetime.fromisoformat(campaign["SentDate"]).replace(tzinfo=zone).astimezone(dt.timezone.utc)
            if moment.date() >= day:
                sent.add(campaign["CampaignID"])
    return sent


def expected_rows(account: Account, reports_from: dt.date | None = None) -> dict[str, Counter[tuple[str, ...]]]:
    """Every table's rows as ``KEY_SQL`` selects them, counted, computed from the sandbox's own data.

    Keyed tables count each key once; event tables (no key) count every event, repeats included.
    With ``reports_from``, campaign reports only for campaigns sent on or after that day.
    """

    def by_client(attr: str, key: str) -> list[tuple[str, ...]]:
        return [(row[key],) for cid in account.lists for row in getattr(account, attr)[cid]]

    list_ids = [lst["ListID"] for lists in account.lists.values() for lst in lists]
    wanted = campaigns_sent_on_or_after(account, reports_from) if reports_from else set(account.campaign_reports)
    reports = {cid: found for cid, found in account.campaign_reports.items() if cid in wanted}
    journeys = account.journey_email_reports
    rows: dict[str, list[tuple[str, ...]]] = {
        "administrators": [(a["EmailAddress"], a["Name"], a["Status"]) for a in account.administrators],
        "clients": [(c["ClientID"],) for c in account.clients],
        "campaigns": by_client("campaigns", "CampaignID"),
        "scheduled_campaigns": by_client("scheduled", "CampaignID"),
        "draft_campaigns": by_client("drafts", "CampaignID"),
        "lists": by_client("lists", "ListID"),
        "segments": by_client("segments", "SegmentID"),
        "templates": by_client("templates", "TemplateID"),
        "suppression_list": [
            (cid, r["EmailAddress"]) for cid, found in account.suppression_list.items() for r in found
        ],
        "tags": [(cid, tag["Name"]) for cid, tags in account.tags.items() for tag in tags],
        "journeys": by_client("journeys", "JourneyID"),
        "people": [
            (cid, p["EmailAddress"], p["Name"], p["AccessLevel"], p["Status"])
            for cid, people in account.people.items()
            for p in people
        ],
        **{
            table: [(lid, s["EmailAddress"]) for lid, states in account.subscribers.items() for s in states[state]]
            for table, state in STATES.items()
        },
        "list_details": [(lid,) for lid in list_ids],
        "list_stats": [(lid,) for lid in list_ids],
        "list_custom_fields": [(lid, f["Key"]) for lid in list_ids for f in account.custom_fields[lid]],
        "list_webhooks": [(lid, hook["WebhookID"]) for lid in list_ids for hook in account.webhooks.get(lid, [])],
        "segment_details": [(sid,) for sid in account.segment_details],
        "segment_subscribers": [
            (sid, m["EmailAddress"]) for sid in account.segment_details for m in account.segment_members(sid)
        ],
        "campaign_summaries": [(cid,) for cid in account.campaign_summaries if cid in wanted],
        "campaign_recipients": [
            (cid, r["ListID"], r["EmailAddress"]) for cid, found in reports.items() for r in found["recipients"]
        ],
        **{
            table: [(cid, r["EmailAddress"]) for cid, found in reports.items() for r in found[report]]
            for table, report in CAMPAIGN_EVENTS.items()
        },
        "campaign_email_client_usage": [
            (cid, u["Client"], u["Version"])
            for cid, usage in account.email_client_usage.items()
            if cid in wanted
            for u in usage
        ],
        "campaign_lists": [
            (cid, lst["ListID"])
            for cid, sent in account.campaign_lists_and_segments.items()
            if cid in wanted
            for lst in sent["Lists"]
        ],
        "campaign_segments": [
            (cid, seg["SegmentID"])
            for cid, sent in account.campaign_lists_and_segments.items()
            if cid in wanted
            for seg in sent["Segments"]
        ],
        "journey_emails": [
            (jid, e["EmailID"]) for jid, details in account.journey_details.items() for e in details["Emails"]
        ],
        **{
            table: [(eid, r["EmailAddress"]) for eid, found in journeys.items() for r in found[report]]
            for table, report in JOURNEY_EVENTS.items()
        },
        "transactional_smart_emails": [
            (cid, e["SmartEmailID"]) for cid, t in account.transactional.items() for e in t.smart_emails
        ],
        "transactional_classic_groups": [
            (cid, g["Group"]) for cid, t in account.transactional.items() for g in t.groups
        ],
        "transactional_messages": [
            (m["MessageID"], cid, m["TotalOpens"], m["TotalClicks"])
            for cid, t in account.transactional.items()
            for m in t.messages
        ],
        "transactional_statistics": [
            (cid, of)
            for cid, t in account.transactional.items()
            for of in [*(e["SmartEmailID"] for e in t.smart_emails), *(g["Group"] for g in t.groups)]
        ],
    }
    return {table: Counter(found) for table, found in rows.items()}


def assert_table_holds(found: Counter[tuple], account: Account, table: str) -> None:
    """``found`` (the table's key columns, counted) is exactly the sandbox's rows, each key once."""
    if ENDPOINTS_BY_TABLE[table].primary_key:
        assert max(found.values(), default=1) == 1, f"duplicate keys in {table}"
    assert found == expected_rows(account)[table], table


def assert_loaded_exactly(
    pipeline: dlt.Pipeline,
    account: Account,
    reports_from: dt.date | None = None,
    moved: tuple[str, ...] = (),
    tables: Sequence[str] = TABLES,
) -> None:
    """Every table (of ``tables``) holds exactly the sandbox's rows: keys once each, events as often as they
    happened. Tables in ``moved`` were read while the data changed under them: only their keys are checked.
    """
    truth = expected_rows(account, reports_from)
    for table in tables:
        rows = Counter(query(pipeline, f"SELECT {KEY_SQL[table]} FROM {table}"))
        if ENDPOINTS_BY_TABLE[table].primary_key:
            assert max(rows.values(), default=1) == 1, f"duplicate keys in {table}"
        if table not in moved:
            assert rows == truth[table], table


KEY_SQL = {
    # Every field of the account's team, not only the key: each must come back as the sandbox sent it.
    "administrators": "email_address, name, status",
    "clients": "client_id",
    "campaigns": "campaign_id",
    "scheduled_campaigns": "campaign_id",
    "draft_campaigns": "campaign_id",
    "lists": "list_id",
    "segments": "segment_id",
    "templates": "template_id",
    "suppression_list": "client_id, email_address",
    "tags": "client_id, name",
    "journeys": "journey_id",
    "people": "client_id, email_address, name, access_level, status",
    **{table: "list_id, email_address" for table in STATES},
    "list_details": "list_id",
    "list_stats": "list_id",
    "list_custom_fields": "list_id, key",
    "list_webhooks": "list_id, webhook_id",
    "segment_details": "segment_id",
    "segment_subscribers": "segment_id, email_address",
    "campaign_summaries": "campaign_id",
    "campaign_recipients": "campaign_id, list_id, email_address",
    **{table: "campaign_id, email_address" for table in CAMPAIGN_EVENTS},
    "campaign_email_client_usage": "campaign_id, client, version",
    "campaign_lists": "campaign_id, list_id",
    "campaign_segments": "campaign_id, segment_id",
    "journey_emails": "journey_id, email_id",
    **{table: "email_id, email_address" for table in JOURNEY_EVENTS},
    "transactional_smart_emails": "client_id, smart_email_id",
    "transactional_classic_groups": 'client_id, "group"',
    # Opens and clicks too: an incremental run must keep them current.
    "transactional_messages": "message_id, client_id, total_opens, total_clicks",
    "transactional_statistics": 'client_id, coalesce(smart_email_id, "group")',
}
