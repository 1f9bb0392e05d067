"""A first sync's plan, before anything is loaded: the requests a full read needs, per client and group of
tables, and the time they take at the rate window the API announces.

A few cheap requests per client give the counts the catalogue multiplies (the client's campaigns, its
lists and their sizes, segments, journeys and their emails, transactional listings); every table then
costs one request per parent row, or its pages for a paged one. Reports a count says are empty are not
asked by the source (``report_counts``): journey emails' counts come with their journeys, campaigns' from
a sample of their summaries. Pages the counts cannot tell (a report's events, the transactional timeline)
are counted as one each, so the plan is exact for an account whose events fit a page per campaign and
whose campaigns fit the sample, and an estimate beyond.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..account_access import api_from_settings
from ..api_facts import MAX_PAGE_SIZE
from ..errors import AccessRefused, RequestRefused
from ..http import CampaignMonitorAPI
from .catalogue import ENDPOINTS, Endpoint, Shape, carries_client_id, shares_an_earlier_answer
from .outlook import duration
from .report_counts import sent_long_ago
from .source import sent_on_or_after

# Each table's group, as the plan reports it: the tables a group holds cost alike and are tuned alike.
GROUPS = {
    "campaigns": "campaign reports",
    "journeys": "journeys",
    "journey_emails": "journeys",
    "lists": "subscribers",
    "segments": "subscribers",
}
# list stats' field for the number of subscribers in each state a list is read in (unconfirmed: not given)
STATE_COUNTS = {
    "active_subscribers": "TotalActiveSubscribers",
    "unsubscribed_subscribers": "TotalUnsubscribes",
    "deleted_subscribers": "TotalDeleted",
    "bounced_subscribers": "TotalBounces",
}
PLANNING_PAGE = 10  # the API's smallest page: a paged listing's total for one cheap request
SUMMARY_SAMPLE = 20  # campaigns per client whose summaries tell the share of empty reports
# Tables of the account itself (its administrators): one request a run, refused or not, never one per client.
ACCOUNT_TABLES = frozenset(e.table for e in ENDPOINTS if not carries_client_id(e))


@dataclass
class ClientPlan:
    """One client's requests, by group of tables."""

    client_id: str
    name: str
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def total(self) -> int:
        return sum(self.requests.values())


@dataclass
class SyncPlan:
    """What a full read of the account costs: requests per client and group, at the announced window."""

    clients: list[ClientPlan]
    account_requests: int  # the client listing, the account's clock and its own tables, asked once per run
    planning_requests: int  # what making this plan cost
    window: tuple[int, float] | None  # the rate window the API announced: requests per seconds

    @property
    def requests(self) -> int:
        return self.account_requests + sum(client.total for client in self.clients)

    @property
    def seconds(self) -> float | None:
        """The time the requests take at the announced window; None where the API announced none."""
        if self.window is None:
            return None
        limit, seconds = self.window
        return self.requests / limit * seconds

    def lines(self) -> list[str]:
        """The plan as the command prints it."""
        groups = sorted({group for client in self.clients for group in client.requests})
        width = max([len("client"), *(len(client.name) for client in self.clients)])
        head = f"{'client':<{width}}  " + "  ".join(f"{group:>16}" for group in groups) + f"  {'requests':>9}"
        rows = [
            f"{client.name:<{width}}  "
            + "  ".join(f"{client.requests.get(group, 0):>16,}" for group in groups)
            + f"  {client.total:>9,}"
            for client in self.clients
        ]
        if self.window is not None and self.seconds is not None:
            pace = (
                f"at the API's rate window of {self.window[0]:,} per {self.window[1]:.0f} s: {duration(self.seconds)}"
            )
        else:
            pace = "the API announced no rate window: the time depends on its answers alone"
        return [
            head,
            *rows,
            "",
            f"{self.requests:,} requests for a full read ({pace}); this plan cost {self.planning_requests} requests."
            " A report's events are counted as one page each: campaigns opened or clicked more than a thousand"
            " times add a request per thousand.",
        ]


def plan_sync(client_id: str | None = None, reports_sent_after: str | None = None, **settings: Any) -> SyncPlan:
    """The plan of a full read, from a few cheap requests per client; ``settings`` are the source's
    (``api_key``, ``base_url``, OAuth tokens), defaulting to its configuration, and
    ``reports_sent_after`` keeps the reports to campaigns sent on or after that day, as the source does."""
    reports_from = sent_on_or_after(reports_sent_after)
    api = api_from_settings(
        settings.get("api_key"),
        settings.get("base_url"),
        settings.get("access_token"),
        settings.get("refresh_token"),
        settings.get("token_file"),
    )
    counter = _Counting(api)
    listed = [{"ClientID": client_id, "Name": client_id}] if client_id else counter.array("clients.json") or []
    now = api.account_now()  # the reports' zeros are trusted by it, as the source trusts them
    counter.sent += 1
    clients = [
        _client_plan(counter, str(row["ClientID"]), str(row.get("Name") or row["ClientID"]), reports_from, now)
        for row in listed
    ]
    # the account's clock and its own tables once per run, and the client listing unless one client is read
    once = 1 + len(ACCOUNT_TABLES) + (0 if client_id else 1)
    return SyncPlan(clients, once, counter.sent, api.rate_gate.rate_window())


class _Counting:
    """The planning requests, counted; a feature the client lacks (transactional email) answers nothing."""

    def __init__(self, api: CampaignMonitorAPI) -> None:
        self.api = api
        self.sent = 0

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.sent += 1
        return self.api.get(path, params)

    def array(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]] | None:
        """The listing's rows; None where the client may not read it (a feature it lacks)."""
        try:
            body = self.get(path, params)
        except (AccessRefused, RequestRefused):
            return None
        return body if isinstance(body, list) else []

    def every_row(self, path: str) -> list[dict[str, Any]]:
        """Every row of a paged listing, at the largest page (a client's sent campaigns, with their
        recipients and send dates)."""
        rows: list[dict[str, Any]] = []
        page, last = 1, 1
        while page <= last:
            body = self.get(path, {"page": page, "pagesize": MAX_PAGE_SIZE})
            if not isinstance(body, dict):
                break
            rows += body.get("Results") or []
            last, page = int(body.get("NumberOfPages") or 1), page + 1
        return rows

    def total(self, path: str) -> int:
        """A paged listing's total, from its smallest first page."""
        body = self.get(path, {"page": 1, "pagesize": PLANNING_PAGE})
        return int(body.get("TotalNumberOfRecords") or 0) if isinstance(body, dict) else 0


def _client_plan(
    counter: _Counting, client_id: str, name: str, reports_from: date | None, now: datetime | None
) -> ClientPlan:
    """One client's counts, then each table's requests under them."""
    base = f"clients/{client_id}"
    lists = counter.array(f"{base}/lists.json") or []
    journeys = counter.array(f"{base}/journeys.json") or []
    emails = [email for journey in journeys for email in _journey_emails(counter, journey)]
    parents: dict[str, int] = {
        "clients": 1,
        "lists": len(lists),
        "journeys": len(journeys),
        "journey_emails": len(emails),
    }
    sent = counter.every_row(f"{base}/campaigns.json")
    campaigns = [row for row in sent if wanted(row, reports_from)]
    parents["campaigns"] = len(campaigns)
    counted = _counted_reports(counter, campaigns, emails, now)
    segments = counter.array(f"{base}/segments.json") or []
    parents["segments"] = len(segments)
    listed_smart = counter.array("transactional/smartEmail", {"clientID": client_id, "status": "all"})
    transactional = listed_smart is not None  # refused: a client without transactional email
    smart_emails = len(listed_smart or [])
    groups = (
        len(counter.array("transactional/classicEmail/groups", {"clientID": client_id}) or []) if transactional else 0
    )
    totals = {  # a table whose pages its parents' counts tell: every row of its parents together
        "campaigns": [len(sent)],
        "suppression_list": [counter.total(f"{base}/suppressionlist.json")],
        "campaign_recipients": [int(row.get("TotalRecipients") or 0) for row in campaigns],
        "segment_subscribers": [_segment_size(counter, row) for row in segments],
    }
    states: dict[str, int] = defaultdict(int)  # pages of every list's state tables
    for listed in lists:
        stats = counter.get(f"lists/{listed['ListID']}/stats.json")
        for table in (e.table for e in ENDPOINTS if e.parent == "lists" and e.shape is Shape.PAGED):
            count = int(stats.get(STATE_COUNTS[table]) or 0) if table in STATE_COUNTS and isinstance(stats, dict) else 0
            states[table] += pages(count, catches_up=True)
    plan = ClientPlan(client_id, name)
    for endpoint in (e for e in ENDPOINTS if e.table not in ACCOUNT_TABLES):
        if endpoint.feature and not transactional:
            continue  # refused at its first request, then not asked again
        group = "transactional" if endpoint.feature else GROUPS.get(endpoint.parent or "", "account")
        if endpoint.counted_by is not None:
            plan.requests[group] += counted[endpoint.table]
        elif endpoint.shape is Shape.OBJECT and shares_an_earlier_answer(endpoint):
            continue  # one request for the tables that share it (a campaign's lists and segments)
        else:
            plan.requests[group] += _requests(endpoint, parents, totals, states, smart_emails + groups, smart_emails)
    return plan


def _counted_reports(
    counter: _Counting, campaigns: list[dict[str, Any]], emails: list[dict[str, Any]], now: datetime | None
) -> dict[str, int]:
    """The requests of each report table the source skips where a count says it is empty (see
    ``report_counts``): a journey email's counts are in its journey's details; a campaign's recipients in
    its listing; its other counts in its summary, read for an even sample of up to ``SUMMARY_SAMPLE``
    settled campaigns, whose share of non-empty reports stands for the client's settled campaigns. A
    campaign not settled is read in full."""
    settled = [row for row in campaigns if _settled(row, now)]
    unsettled = len(campaigns) - len(settled)
    sample = settled[:: max(1, math.ceil(len(settled) / SUMMARY_SAMPLE))]
    summaries = [body for body in (counter.get(f"campaigns/{r['CampaignID']}/summary.json") for r in sample)]
    requests: dict[str, int] = {}
    for endpoint in ENDPOINTS:
        counted = endpoint.counted_by
        if counted is None:
            continue
        if not counted.answer:
            requests[endpoint.table] = sum(not counted.says_empty(email) for email in emails)
        elif endpoint.table == "campaign_recipients":  # the listing counts them: their pages, exactly
            recipients = [int(row.get("TotalRecipients") or 0) for row in campaigns]
            catches_up = bool(endpoint.changed_since_param)
            requests[endpoint.table] = sum(pages(count, catches_up) for count in recipients if count) + sum(
                1 for row, count in zip(campaigns, recipients, strict=True) if not count and not _settled(row, now)
            )
        else:
            found = [not counted.says_empty(body) for body in summaries if isinstance(body, dict)]
            share = sum(found) / len(found) if found else 1.0
            requests[endpoint.table] = round(len(settled) * share) + unsettled
    return requests


def _settled(campaign: Mapping[str, Any], now: datetime | None) -> bool:
    """Whether the source trusts the campaign's summary to say a report is empty."""
    try:
        return sent_long_ago(datetime.fromisoformat(str(campaign.get("SentDate"))), now)
    except ValueError:
        return False


def _requests(
    endpoint: Endpoint,
    parents: Mapping[str, int],
    totals: Mapping[str, list[int]],
    states: Mapping[str, int],
    listings: int,
    smart_emails: int,
) -> int:
    """One table's requests for one client."""
    if endpoint.parent is None:
        return 1  # the client's details (the listing itself is the account's)
    under = parents.get(endpoint.parent, 0)
    if endpoint.asked_per is not None:
        return len(endpoint.asked_per.listings) + listings  # each listing asked again, then each row
    if endpoint.table in states:
        return states[endpoint.table]
    if endpoint.table in totals:
        return sum(pages(rows, bool(endpoint.changed_since_param)) for rows in totals[endpoint.table])
    return under + (smart_emails if endpoint.details else 0)


def _segment_size(counter: _Counting, segment: Mapping[str, Any]) -> int:
    body = counter.get(f"segments/{segment['SegmentID']}.json")
    return int(body.get("ActiveSubscribers") or 0) if isinstance(body, dict) else 0


def wanted(campaign: Mapping[str, Any], reports_from: date | None) -> bool:
    """Whether a sent campaign's reports are read (``reports_sent_after``), as the source decides it."""
    if reports_from is None:
        return True
    try:
        return datetime.fromisoformat(str(campaign.get("SentDate"))).date() >= reports_from
    except ValueError:
        return True


def _journey_emails(counter: _Counting, journey: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A journey's emails, each with its counts."""
    body = counter.get(f"journeys/{journey['JourneyID']}.json")
    return [email for email in body.get("Emails") or [] if isinstance(email, dict)] if isinstance(body, dict) else []


def pages(rows: int, catches_up: bool = False) -> int:
    """Requests for a paged read of ``rows`` rows: its pages at the largest size, and, for a table that
    can ask for rows changed since (``catches_up``), the one request a read of several pages adds."""
    count = max(1, math.ceil(rows / MAX_PAGE_SIZE))
    return count + 1 if catches_up and count > 1 else count
