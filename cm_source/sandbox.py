"""A local HTTP server that speaks the Campaign Monitor API v3.3 over a deterministic generated account.

It serves the read endpoints a connector syncs (clients, campaigns and their reports, lists, segments,
subscribers, journeys and their email reports, webhooks, tags), with the real API's paging envelope,
validation errors, HTTP Basic auth and client-key scoping, and the subscriber writes (add one, import up
to 1000, unsubscribe one, read one back), so that the connector, its end-to-end tests and benchmarks can run without a
live account. As in the API, a query parameter sent empty (`date=`) is one not sent (`_given_query`). The
account is plain API-shaped data (`Account`); routing is a table of (method, path regex) -> handler and
success status (`ROUTES`). `Sandbox.faults` (`Faults`) switches on, at run time, what a live API and the
network in front of it do to a sync: 429s (one-shot or a real per-window limiter), 5xx, answers cut
short, HTML instead of JSON, dropped connections, latency, and rows inserted or removed while a list is
being paged.

    python -m cm_source.sandbox [--port N] [--subscribers N] [--clients N] [--lists-per-client N] [--seed N]
                                [--latency SECONDS] [--rate-limit N]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import math
import random
import re
import threading
import time
import unicodedata
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from http.client import responses as HTTP_REASONS
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from .api_facts import CONSENT_VALUES, IMPORT_LIMIT as MAX_IMPORT, MAX_PAGE_SIZE, SUBSCRIBER_STATES as STATES

API_PREFIX = "/api/v3.3"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# The account's "now": fixed, so that the generated data never depends on the wall clock.
SYSTEM_DATE = datetime(2024, 7, 15, 9, 30)

# --------------------------------------------------------------------------------------------------
# The account
# --------------------------------------------------------------------------------------------------


@dataclass
class Account:
    """Everything the sandbox serves, as PascalCase dicts shaped exactly like API responses.

    Reports, keyed so a test can compute what a sync should load:

    - `tags[client_id]`: GET /clients/{cid}/tags.json, `[{"Name", "NumberOfCampaigns"}]` counted over the
      client's sent, scheduled and draft campaigns' Tags; NumberOfCampaigns is an int for the first client
      (and every odd-numbered one after it) and a string such as "120" for the second (every even-numbered).
    - `journeys[client_id]`: GET /clients/{cid}/journeys.json, `[{"ListID", "JourneyID", "Name", "Status"}]`.
    - `journey_details[journey_id]`: GET /journeys/{jid}.json, `{"JourneyID", "Name", "TriggerType",
      "Status", "Emails": [{"EmailID", "Name", "Bounced", "Clicked", "Opened", "Sent", "UniqueOpened",
      "Unsubscribed"}]}`, each count the number of rows in journey_email_reports (UniqueOpened: distinct
      case-folded addresses among the opens).
    - `journey_email_reports[email_id][report]`, report one of JOURNEY_REPORTS: the rows of GET
      /journeys/email/{eid}/{report}.json, in stored order (recipients {"EmailAddress", "SentDate"}; no
      ListID on any journey row).
    - `webhooks[list_id]`: GET /lists/{lid}/webhooks.json, `[{"WebhookID", "Events", "Url", "Status",
      "PayloadFormat"}]`; some lists have none.
    - `segment_details[segment_id]`: GET /segments/{sid}.json as generated, `{"ActiveSubscribers",
      "RuleGroups": [{"Rules": [{"RuleType", "Clause"}]}], "ListID", "SegmentID", "Title"}`. Members are
      worked out from the rules on every read, so after writes use `segment_detail()` and
      `segment_members()`, which return exactly what is served.
    - `campaign_reports[campaign_id][report]`, report one of CAMPAIGN_REPORTS, for every sent campaign:
      the rows of GET /campaigns/{id}/{report}.json in stored order. Event rows have no ID and exact
      repeats are real (the newest campaign of each client has at least one repeated open and click).
    - `campaign_summaries[campaign_id]`: GET /campaigns/{id}/summary.json; Recipients, TotalOpened,
      UniqueOpened, Clicks, Unsubscribed, Bounced and SpamComplaints count campaign_reports' rows, and the
      campaign row's TotalRecipients equals Recipients.
    - `campaign_lists_and_segments[campaign_id]`: `{"Lists": [{"ListID", "Name"}], "Segments": [{"ListID",
      "SegmentID", "Title"}]}`, what the campaign was sent to; recipients come from exactly these.
    - `email_client_usage[campaign_id]`: `[{"Client", "Version", "Percentage", "Subscribers"}]` over the
      campaign's unique openers (by their ReadsEmailWith), most used first; [] when nobody opened.
    """

    api_key: str
    clients: list[dict]
    client_details: dict[str, dict]
    campaigns: dict[str, list[dict]]
    scheduled: dict[str, list[dict]]
    drafts: dict[str, list[dict]]
    lists: dict[str, list[dict]]
    segments: dict[str, list[dict]]
    templates: dict[str, list[dict]]
    suppression_list: dict[str, list[dict]]
    list_details: dict[str, dict]
    custom_fields: dict[str, list[dict]]
    subscribers: dict[str, dict[str, list[dict]]]
    system_date: str
    tags: dict[str, list[dict]] = field(default_factory=dict)
    journeys: dict[str, list[dict]] = field(default_factory=dict)
    journey_details: dict[str, dict] = field(default_factory=dict)
    journey_email_reports: dict[str, dict[str, list[dict]]] = field(default_factory=dict)
    webhooks: dict[str, list[dict]] = field(default_factory=dict)
    segment_details: dict[str, dict] = field(default_factory=dict)
    campaign_reports: dict[str, dict[str, list[dict]]] = field(default_factory=dict)
    campaign_summaries: dict[str, dict] = field(default_factory=dict)
    campaign_lists_and_segments: dict[str, dict] = field(default_factory=dict)
    email_client_usage: dict[str, list[dict]] = field(default_factory=dict)
    # Every handler runs holding it, so a read never sees a write half done. Writes replace rows and
    # lists rather than changing them in place, because replies are encoded after the lock is released,
    # and because the caches below tell a list that changed by its identity.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # Derived data, used and kept under `lock`; each entry holds the very list it was made from and is
    # used only while that list is still the one stored (`is`), so replacing a list invalidates it.
    # Sorted (and date-filtered) list-states, least recently used first: see _ordered_members.
    _orders: OrderedDict = field(default_factory=OrderedDict, init=False, repr=False, compare=False)
    # Per list, where each address is stored: see _member_index.
    _indexes: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    # Per client, its suppression list and the set of its case-folded addresses.
    _suppressed: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def client_for_key(self, api_key: str) -> str | None:
        """The client whose own API key this is, if any."""
        for client_id, details in self.client_details.items():
            if details["ApiKey"] == api_key:
                return client_id
        return None

    def list_owner(self, list_id: str) -> str | None:
        """The client a list belongs to; list rows do not carry it."""
        for client_id, rows in self.lists.items():
            if any(row["ListID"] == list_id for row in rows):
                return client_id
        return None

    def campaign_owner(self, campaign_id: str) -> str | None:
        """The client a sent campaign belongs to (only sent campaigns have reports)."""
        for client_id, rows in self.campaigns.items():
            if any(row["CampaignID"] == campaign_id for row in rows):
                return client_id
        return None

    def segment_owner(self, segment_id: str) -> str | None:
        """The client a segment belongs to."""
        for client_id, rows in self.segments.items():
            if any(row["SegmentID"] == segment_id for row in rows):
                return client_id
        return None

    def journey_owner(self, journey_id: str) -> str | None:
        """The client a journey belongs to."""
        for client_id, rows in self.journeys.items():
            if any(row["JourneyID"] == journey_id for row in rows):
                return client_id
        return None

    def journey_email_owner(self, email_id: str) -> str | None:
        """The client whose journey sends this email."""
        for journey_id, details in self.journey_details.items():
            if any(email["EmailID"] == email_id for email in details["Emails"]):
                return self.journey_owner(journey_id)
        return None

    def segment_members(self, segment_id: str) -> list[dict]:
        """The stored Active rows of the segment's list that its rules select, in stored order: exactly
        the rows GET /segments/{sid}/active.json pages over (before its `date` filter)."""
        details = self.segment_details[segment_id]
        rows = self.subscribers[details["ListID"]]["Active"]
        return [row for row in rows if _matches_rules(row, details["RuleGroups"])]

    def segment_detail(self, segment_id: str) -> dict:
        """GET /segments/{sid}.json as served now: the stored details with ActiveSubscribers recounted."""
        return {**self.segment_details[segment_id], "ActiveSubscribers": len(self.segment_members(segment_id))}


# Share of all subscriber rows that go to the first ("big") list; the rest is spread over the others.
BIG_LIST_SHARE = 0.8
# Percent of a list's rows in each non-Active state; Active takes the remainder.
BIG_LIST_MIX = {"Unconfirmed": 3, "Unsubscribed": 3, "Bounced": 2, "Deleted": 2}
OTHER_LIST_MIX = {"Unconfirmed": 10, "Unsubscribed": 10, "Bounced": 10, "Deleted": 10}
# The first client is the "big" one: enough sent campaigns and suppressions to need two pages.
BIG_CLIENT_CAMPAIGNS = 1050
BIG_CLIENT_SUPPRESSIONS = 1200

# Time zones by Campaign Monitor's own names (its timezones.json), as BasicDetails.TimeZone and
# ScheduledTimeZone give them.
SYDNEY = "(GMT+10:00) Canberra, Melbourne, Sydney"
LONDON = "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London"
EASTERN = "(GMT-05:00) Eastern Time (US & Canada)"
TOKYO = "(GMT+09:00) Osaka, Sapporo, Tokyo"
CLIENT_PROFILES = (
    ("Harbour Coffee Roasters", "Australia", SYDNEY),
    ("Ångström Cycles Ltd", "United Kingdom", LONDON),
    ("Northwind Outfitters", "United States of America", EASTERN),
    ("Sakura Stationery", "Japan", TOKYO),
)
# Fixed Active rows whose local Date and ListJoinedDate fall either side of a daylight-saving change, so a
# connector's conversion to UTC can be checked: (name, email, local time) on the first list of the first
# client in that zone. London: BST 2024-07-01 12:00 is 11:00 UTC, GMT 2024-01-15 12:00 is 12:00 UTC.
# Sydney: AEDT 2024-01-15 12:00 is 01:00 UTC, AEST 2024-07-01 12:00 is 02:00 UTC.
TIME_ROWS = {
    LONDON: (
        ("Summer Joiner", "summer.joiner@example.com", "2024-07-01 12:00:00"),
        ("Winter Joiner", "winter.joiner@example.com", "2024-01-15 12:00:00"),
    ),
    SYDNEY: (
        ("Sydney Summer", "sydney.summer@example.com", "2024-01-15 12:00:00"),
        ("Sydney Winter", "sydney.winter@example.com", "2024-07-01 12:00:00"),
    ),
}
LIST_TITLES = ("Newsletter", "Customers", "Event invitations", "Product updates", "Partners", "VIP")
SEGMENT_TITLES = ("Engaged readers", "Recent joiners", "Lapsed", "High value")
TEMPLATE_NAMES = ("Monthly digest", "Announcement", "Plain text", "Event invite")
CAMPAIGN_TOPICS = ("Spring sale", "Weekly digest", "New arrivals", "Event recap", "Tips & tricks", "Café news")
TAGS = ("promo", "digest", "events", "product", "seasonal")
FIRST_NAMES = (
    "Olivia", "Liam", "Zoë", "Łukasz", "José", "Mia", "Noah", "Søren", "Amélie", "Chloé", "Jürgen",
    "Ava", "Ethan", "Ingrid", "Björn", "Grace", "Hiroshi", "Priya", "Mateo", "Aoife", "Nikolai", "Sofía",
)
LAST_NAMES = (
    "Smith", "Ångström", "Żółć", "García", "Müller", "Nguyen", "O'Brien", "Kowalski", "Brown",
    "Østergaard", "Dubois", "Jensen", "Papadopoulos", "Wilson", "Çelik", "Novák", "Taylor", "Lefèvre",
)
CJK_NAMES = ("山田 太郎", "佐藤 花子", "王 伟", "김 민준")
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "bücher.example", "例え.jp")
# Always in the person pool, so non-ASCII names and addresses are guaranteed to be served.
NOTABLE_PEOPLE = (
    ("Zoë Ångström", "zoë.ångström@bücher.example"),
    ("Łukasz Żółć", "łukasz.żółć@example.pl"),
    ("山田 太郎", "yamada.taro@例え.jp"),
)
READS_EMAIL_WITH = ("Gmail", "Outlook", "Apple Mail", "Yahoo! Mail", "")
INTEREST_OPTIONS = ["news", "offers", "events", "product updates"]
SALARY_OPTIONS = ["£0-20k", "£20-30k", "£30k+"]

# Sent campaigns spread over about this long before the system date, however many a client has.
SENT_SPAN_MINUTES = 2 * 365 * 24 * 60
# Only this many of each client's newest sent campaigns go to whole lists and segments; older ones reached
# 0-3 people, so reports exist for every sent campaign but stay cheap.
RECENT_CAMPAIGNS = 8
# At most this many recipients per campaign and per journey email, whatever `subscribers` is.
CAMPAIGN_AUDIENCE_CAP = 1500
JOURNEY_AUDIENCE_CAP = 400
CAMPAIGN_REPORTS = ("recipients", "opens", "clicks", "bounces", "unsubscribes", "spam")
JOURNEY_REPORTS = ("recipients", "opens", "clicks", "bounces", "unsubscribes")
# Segment rules by segment number (in client then list order), as segment_details.json writes them:
# groups are ANDed, the rules in a group ORed. "@hello.com" (the sample's rule) matches nobody.
SEGMENT_RULES = (
    [[("EmailAddress", "CONTAINS @example.com")], [("Name", "PROVIDED")]],
    [[("EmailAddress", "CONTAINS @example.org"), ("EmailAddress", "CONTAINS @example.net")]],
    [[("EmailAddress", "CONTAINS @hello.com")]],
    [[("EmailAddress", "CONTAINS @mail.example.com"), ("EmailAddress", "CONTAINS @bücher.example")]],
)
JOURNEY_NAMES = ("Welcome series", "Onboarding", "Win-back")
JOURNEY_EMAIL_NAMES = ("Welcome", "Getting started", "Still with us?")
# Minutes after a subscriber joined that each email of a journey goes out.
JOURNEY_EMAIL_DELAYS = (10, 3 * 24 * 60, 10 * 24 * 60)
WEBHOOK_EVENTS = (["Subscribe"], ["Deactivate"], ["Subscribe", "Deactivate"])
CLICKED_URLS = (
    "https://www.example.com/",
    "https://shop.example.com/products/single-origin?utm_source=campaignmonitor",
    "https://example.com/events/2024",
    "https://example.com/blog/café-notes",
)
# (City, Region, CountryCode, CountryName, Latitude, Longitude) of opens and clicks.
LOCATIONS = (
    ("Sydney", "New South Wales", "AU", "Australia", -33.8683, 151.2086),
    ("Melbourne", "Victoria", "AU", "Australia", -37.8136, 144.9631),
    ("London", "England", "GB", "United Kingdom", 51.5072, -0.1276),
    ("Manchester", "England", "GB", "United Kingdom", 53.4808, -2.2426),
    ("New York", "New York", "US", "United States of America", 40.7128, -74.006),
    ("Tokyo", "Tokyo", "JP", "Japan", 35.6895, 139.6917),
)
BOUNCES = (
    ("Hard", "Hard Bounce"),
    ("Soft", "Soft Bounce - General"),
    ("Soft", "Soft Bounce - Dns Failure"),
    ("Soft", "Bounce - But No Email Address Returned "),
)
# ReadsEmailWith -> (Client, Version) of emailclientusage.json.
EMAIL_CLIENTS = {
    "Gmail": ("Gmail", "Gmail"),
    "Outlook": ("Microsoft Outlook", "Outlook 2016"),
    "Apple Mail": ("Apple Mail", "Apple Mail 16"),
    "Yahoo! Mail": ("Yahoo! Mail", "Yahoo! Mail"),
    "": ("Undetectable", "Undetectable"),
}


def generate_account(seed: int = 7, clients: int = 2, lists_per_client: int = 3, subscribers: int = 3000) -> Account:
    """Build a deterministic account: the same arguments always give identical data.

    The first list of the first client takes most subscriber rows (mostly Active), the last list of
    the last client is empty in every state, and the other lists share the rest with every state
    present. `subscribers` is the total number of generated subscriber rows across all lists and
    states; the first Sydney and London clients' first lists also get the two TIME_ROWS each.
    Reports (campaigns', journeys') are capped, so they do not grow with `subscribers`.
    """
    if clients < 1 or lists_per_client < 2 or subscribers < 0:
        raise ValueError("need clients >= 1, lists_per_client >= 2 and subscribers >= 0")
    rng = random.Random(seed)
    client_ids = [_hex(rng, 32) for _ in range(clients)]
    list_ids = {cid: [_hex(rng, 32) for _ in range(lists_per_client)] for cid in client_ids}
    layout = _state_counts(clients * lists_per_client, subscribers)
    people = _people(rng, max(sum(counts.values()) for counts in layout))

    account = Account(
        api_key=_hex(rng, 48), clients=[], client_details={}, campaigns={}, scheduled={}, drafts={},
        lists={}, segments={}, templates={}, suppression_list={}, list_details={}, custom_fields={},
        subscribers={}, system_date=SYSTEM_DATE.strftime(DATE_FORMAT),
    )
    for index, cid in enumerate(client_ids):
        name, country, time_zone = CLIENT_PROFILES[index % len(CLIENT_PROFILES)]
        if index >= len(CLIENT_PROFILES):
            name = f"{name} {index // len(CLIENT_PROFILES) + 1}"
        big = index == 0
        account.clients.append({"ClientID": cid, "Name": name})
        account.client_details[cid] = _client_details(rng, cid, name, country, time_zone)
        account.campaigns[cid] = _sent_campaigns(rng, BIG_CLIENT_CAMPAIGNS if big else 5 + index)
        account.scheduled[cid] = _scheduled_campaigns(rng, time_zone, 2 if big else 0)
        account.drafts[cid] = _draft_campaigns(rng, 3 if big else 1)
        account.templates[cid] = _templates(rng, 3)
        account.suppression_list[cid] = _suppressions(rng, BIG_CLIENT_SUPPRESSIONS if big else 10 + index)
        account.lists[cid] = []
        account.segments[cid] = []
        for position, lid in enumerate(list_ids[cid]):
            number = index * lists_per_client + position
            title = LIST_TITLES[position % len(LIST_TITLES)]
            if position >= len(LIST_TITLES):
                title = f"{title} {position // len(LIST_TITLES) + 1}"
            account.lists[cid].append({"ListID": lid, "Name": title})
            account.segments[cid] += _segments(rng, lid, 2 if number == 0 else 1)
            account.list_details[lid] = _list_details(rng, lid, title)
            fields = _custom_field_definitions(number)
            account.custom_fields[lid] = fields
            start = number * 7919 % len(people) if people else 0
            account.subscribers[lid] = _list_members(rng, people, start, layout[number], fields)
        if index < len(CLIENT_PROFILES) and time_zone in TIME_ROWS:
            account.subscribers[list_ids[cid][0]]["Active"] += [_time_row(*row) for row in TIME_ROWS[time_zone]]
    # Everything below draws from its own generator, so the data above stays as it was before reports.
    _add_reports(random.Random(f"{seed}/reports"), account)
    return account


def _hex(rng: random.Random, length: int) -> str:
    """A random lower-case hex string, the form of every Campaign Monitor ID and API key."""
    return f"{rng.getrandbits(4 * length):0{length}x}"


def _stamp(moment: datetime) -> str:
    """The API's date form: local time, no offset (isoformat is DATE_FORMAT, and much faster than strftime)."""
    return moment.isoformat(sep=" ", timespec="seconds")


def _minutes_before(rng: random.Random, moment: datetime, low: int, high: int) -> datetime:
    """A random whole minute between `low` and `high` minutes before `moment`."""
    return moment - timedelta(minutes=rng.randint(low, high))


def _state_counts(list_count: int, total: int) -> list[dict[str, int]]:
    """Rows per state for each list in order: a big first list, an empty last one, the rest shared."""
    others = list_count - 2
    big = total if others == 0 else round(total * BIG_LIST_SHARE)
    rest = total - big
    sizes = [big] + [rest // others + (1 if k < rest % others else 0) for k in range(others)] + [0]
    return [_mix(size, BIG_LIST_MIX if k == 0 else OTHER_LIST_MIX) for k, size in enumerate(sizes)]


def _mix(size: int, percents: dict[str, int]) -> dict[str, int]:
    """Split `size` rows over the states by percent, the rounding remainder going to Active."""
    counts = {state: size * percent // 100 for state, percent in percents.items()}
    return {"Active": size - sum(counts.values()), **counts}


def _client_details(rng: random.Random, cid: str, name: str, country: str, time_zone: str) -> dict:
    """Client details as GET /clients/{cid}.json returns them, with the client's own API key."""
    slug = _ascii_slug(name)
    return {
        "ApiKey": _hex(rng, 48),
        "AccessDetails": {"Username": slug.replace(".", ""), "AccessLevel": 23},
        "BasicDetails": {
            "ClientID": cid,
            "CompanyName": name,
            "ContactName": f"{name} (contact)",
            "EmailAddress": f"contact@{slug.replace('.', '-')}.example.com",
            "Country": country,
            "TimeZone": time_zone,
        },
        "BillingDetails": {
            "CanPurchaseCredits": True,
            "Credits": rng.randint(0, 5000),
            "ClientPays": True,
            "BaseRatePerRecipient": 1.0,
            "MarkupPerRecipient": 0.0,
            "MarkupOnDelivery": 0.0,
            "BaseDeliveryRate": 5.0,
            "Currency": "USD",
            "BaseDesignSpamTestRate": 5.0,
        },
    }


def _campaign_basics(rng: random.Random, number: int) -> dict:
    """The fields every kind of campaign row shares."""
    title = f"{rng.choice(CAMPAIGN_TOPICS)} #{number}"
    return {
        "CampaignID": _hex(rng, 32),
        "Name": title,
        "Subject": title,
        "FromName": "The Team",
        "FromEmail": "news@example.com",
        "ReplyTo": "hello@example.com",
    }


def _sent_campaigns(rng: random.Random, count: int) -> list[dict]:
    """Sent campaigns, newest first, with distinct SentDates spread over about two years (gaps of 6 to 30
    hours when there are many); every sixth one has no Tags key at all. TotalRecipients is set to the
    size of the campaign's recipients report once that is made."""
    rows = []
    sent = SYSTEM_DATE - timedelta(days=1)
    # a few campaigns get proportionally longer gaps between them (the newest is still sent 6-30 hours
    # before the day before the system date); the random draws stay those of 6-30 hours
    scale = max(1, SENT_SPAN_MINUTES // (max(count, 1) * 18 * 60))
    for number in range(count, 0, -1):
        sent -= timedelta(minutes=rng.randint(6 * 60, 30 * 60) * (1 if number == count else scale))
        web = f"https://createsend.com/t/r-{_hex(rng, 16).upper()}"
        row = {"WebVersionURL": web, "WebVersionTextURL": f"{web}/t", **_campaign_basics(rng, number)}
        row["SentDate"] = _stamp(sent)
        row["TotalRecipients"] = rng.randint(50, 25000)
        if number % 6:
            row["Tags"] = rng.sample(TAGS, rng.randint(0, 2))
        rows.append(row)
    return rows


def _preview_urls(rng: random.Random) -> dict:
    """PreviewURL and PreviewTextURL of a campaign that has not been sent."""
    url = f"https://createsend.com/t/r-{_hex(rng, 16).upper()}"
    return {"PreviewURL": url, "PreviewTextURL": f"{url}/t"}


def _scheduled_campaigns(rng: random.Random, time_zone: str, count: int) -> list[dict]:
    """Campaigns scheduled after the account's system date, in the client's time zone except every second
    one, which is scheduled in another zone (as a user may pick one when scheduling)."""
    rows = []
    elsewhere = EASTERN if time_zone != EASTERN else SYDNEY
    for number in range(1, count + 1):
        created = _minutes_before(rng, SYSTEM_DATE, 60, 7 * 24 * 60)
        scheduled = SYSTEM_DATE + timedelta(days=number, minutes=rng.randint(0, 600))
        rows.append({
            "DateScheduled": _stamp(scheduled),
            "ScheduledTimeZone": time_zone if number % 2 else elsewhere,
            **_campaign_basics(rng, number),
            "DateCreated": _stamp(created),
            **_preview_urls(rng),
            "Tags": rng.sample(TAGS, rng.randint(0, 2)),
        })
    return rows


def _draft_campaigns(rng: random.Random, count: int) -> list[dict]:
    """Draft campaigns."""
    return [
        {
            **_campaign_basics(rng, number),
            "DateCreated": _stamp(_minutes_before(rng, SYSTEM_DATE, 60, 90 * 24 * 60)),
            **_preview_urls(rng),
            "Tags": rng.sample(TAGS, rng.randint(0, 2)),
        }
        for number in range(1, count + 1)
    ]


def _templates(rng: random.Random, count: int) -> list[dict]:
    """Templates with preview and screenshot URLs."""
    rows = []
    for name in TEMPLATE_NAMES[:count]:
        code = _hex(rng, 16).upper()
        rows.append({
            "TemplateID": _hex(rng, 32),
            "Name": name,
            "PreviewURL": f"https://preview.createsend.com/createsend/templates/previewTemplate.aspx?ID={code}",
            "ScreenshotURL": f"https://preview.createsend.com/ts/r/{code[:2]}/{code[2:5]}/{code[5:8]}/{code}.jpg",
        })
    return rows


def _suppressions(rng: random.Random, count: int) -> list[dict]:
    """A client's suppression list: unique addresses, second-precision dates as in the samples."""
    return [
        {
            "SuppressionReason": rng.choice(("Unsubscribed", "Bounced")),
            "EmailAddress": _email(rng, _random_name(rng), f"s{number}"),
            "Date": _stamp(SYSTEM_DATE - timedelta(seconds=rng.randint(60, 3 * 365 * 86400))),
            "State": "Suppressed",
        }
        for number in range(count)
    ]


def _segments(rng: random.Random, list_id: str, count: int) -> list[dict]:
    """Segments defined on one list."""
    return [
        {"ListID": list_id, "SegmentID": _hex(rng, 32), "Title": SEGMENT_TITLES[k % len(SEGMENT_TITLES)]}
        for k in range(count)
    ]


def _list_details(rng: random.Random, list_id: str, title: str) -> dict:
    """List details as GET /lists/{lid}.json returns them."""
    return {
        "ConfirmedOptIn": rng.random() < 0.5,
        "Title": title,
        "UnsubscribePage": "",
        "ListID": list_id,
        "ConfirmationSuccessPage": "",
        "UnsubscribeSetting": rng.choice(("AllClientLists", "OnlyThisList")),
    }


def _custom_field(name: str, data_type: str, options: list[str] | None = None, visible: bool = True) -> dict:
    """A custom field definition; its Key is the name in brackets without spaces, as the API forms it."""
    return {
        "FieldName": name,
        "Key": f"[{name.replace(' ', '')}]",
        "DataType": data_type,
        "FieldOptions": list(options or []),
        "VisibleInPreferenceCenter": visible,
    }


def _custom_field_definitions(list_number: int) -> list[dict]:
    """Every list has text, number and multi-select-many fields; every other list also a date and a
    multi-select-one field whose options are non-ASCII."""
    fields = [
        _custom_field("website", "Text"),
        _custom_field("age", "Number"),
        _custom_field("interests", "MultiSelectMany", INTEREST_OPTIONS),
    ]
    if list_number % 2 == 0:
        fields.append(_custom_field("subscription date", "Date", visible=False))
        fields.append(_custom_field("salary range", "MultiSelectOne", SALARY_OPTIONS))
    return fields


def _ascii_slug(text: str) -> str:
    """Lower-case ASCII letters of `text` joined by dots, accents dropped."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return ".".join(re.findall(r"[a-z]+", plain.lower()))


def _random_name(rng: random.Random) -> str:
    """A person's name; about one in twenty is written in CJK script."""
    if rng.random() < 0.05:
        return rng.choice(CJK_NAMES)
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _email(rng: random.Random, name: str, suffix: str) -> str:
    """An address made from the name, unique by `suffix`; often keeps the name's non-ASCII letters."""
    unicode_local = ".".join(part for part in re.split(r"[\s']+", name.lower()) if part)
    local = unicode_local if rng.random() < 0.5 else (_ascii_slug(name) or "subscriber")
    domain = DOMAINS[0] if rng.random() < 0.6 else rng.choice(DOMAINS)
    return f"{local}.{suffix}@{domain}"


def _people(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """A pool of (name, email) pairs with unique emails; lists draw overlapping runs from it."""
    people = list(NOTABLE_PEOPLE[:count])
    for number in range(len(people), count):
        name = _random_name(rng)
        people.append((name, _email(rng, name, str(number))))
    return people


def _list_members(
    rng: random.Random, people: list[tuple[str, str]], start: int, counts: dict[str, int], fields: list[dict]
) -> dict[str, list[dict]]:
    """One list's subscribers by state: a run of the pool from `start`, states shuffled over it."""
    states = [state for state in STATES for _ in range(counts.get(state, 0))]
    rng.shuffle(states)
    members: dict[str, list[dict]] = {state: [] for state in STATES}
    for offset, state in enumerate(states):
        name, email = people[(start + offset) % len(people)]
        members[state].append(_subscriber(rng, name, email, state, fields))
    return members


def _subscriber(rng: random.Random, name: str, email: str, state: str, fields: list[dict]) -> dict:
    """A subscriber row holding every field; the server leaves out what a request did not ask for."""
    joined = _minutes_before(rng, SYSTEM_DATE, 0, 3 * 365 * 24 * 60)
    changed = joined
    if state != "Active" or rng.random() < 0.2:
        changed = joined + timedelta(minutes=rng.randint(0, int((SYSTEM_DATE - joined).total_seconds() // 60)))
    row = {
        "EmailAddress": email,
        "Name": name,
        "Date": _stamp(changed),
        "ListJoinedDate": _stamp(joined),
        "State": state,
        "CustomFields": _custom_values(rng, fields),
        "ReadsEmailWith": rng.choice(READS_EMAIL_WITH),
        "ConsentToTrack": rng.choice(("Yes", "No")),
    }
    if rng.random() < 0.35:
        row["MobileNumber"] = _mobile_number(rng)
    row["ConsentToSendSms"] = "Yes" if "MobileNumber" in row and rng.random() < 0.5 else "No"
    return row


def _custom_values(rng: random.Random, fields: list[dict]) -> list[dict]:
    """Values for some of a list's fields, keyed by field name; a multi-select-many field repeats its
    Key once per chosen option. Every value is a string."""
    values = []
    for definition in fields:
        if rng.random() < 0.3:
            continue
        key, data_type = definition["FieldName"], definition["DataType"]
        if data_type == "MultiSelectMany":
            chosen = rng.sample(definition["FieldOptions"], rng.randint(1, 3))
        elif data_type == "MultiSelectOne":
            chosen = [rng.choice(definition["FieldOptions"])]
        elif data_type == "Number":
            chosen = [str(rng.randint(18, 80))]
        elif data_type == "Date":
            chosen = [(date(2015, 1, 1) + timedelta(days=rng.randint(0, 3000))).isoformat()]
        else:
            chosen = [f"https://{_hex(rng, 6)}.example.com"]
        values += [{"Key": key, "Value": value} for value in chosen]
    return values


def _mobile_number(rng: random.Random) -> str:
    """An E.164 mobile number from Australia, the UK or the US."""
    country = rng.choice(("+614", "+447", "+1"))
    digits = {"+614": 8, "+447": 9, "+1": 10}[country]
    first = "2" if country == "+1" else str(rng.randint(0, 9))
    return country + first + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))


def _time_row(name: str, email: str, local_time: str) -> dict:
    """One of the fixed TIME_ROWS subscribers: Active since it joined at `local_time`."""
    return {
        "EmailAddress": email, "Name": name, "Date": local_time, "ListJoinedDate": local_time, "State": "Active",
        "CustomFields": [], "ReadsEmailWith": "Gmail", "ConsentToTrack": "Yes", "ConsentToSendSms": "No",
    }


def _minutes_after(rng: random.Random, moment: datetime, low: int, high: int) -> datetime:
    """A random whole minute between `low` and `high` minutes after `moment`, never past the system date."""
    room = int((SYSTEM_DATE - moment).total_seconds() // 60)
    return moment + timedelta(minutes=max(0, min(rng.randint(low, high), room)))


# ---- segments, webhooks, campaign reports, tags and journeys ---------------------------------------


def _matches_rules(row: dict, rule_groups: list[dict]) -> bool:
    """Whether a subscriber row meets a segment's rules: every group, through any one of its rules."""
    return all(any(_meets(row, rule["RuleType"], rule["Clause"]) for rule in group["Rules"]) for group in rule_groups)


def _meets(row: dict, rule_type: str, clause: str) -> bool:
    """One segment rule; only the kinds of segment_details.json (which SEGMENT_RULES uses) are understood."""
    operator, _, operand = clause.partition(" ")
    if rule_type == "EmailAddress" and operator == "CONTAINS":
        return operand.casefold() in row["EmailAddress"].casefold()
    if rule_type == "Name" and operator == "PROVIDED":
        return bool(row["Name"])
    raise ValueError(f"unsupported segment rule: {rule_type} {clause}")


def _add_reports(rng: random.Random, account: Account) -> None:
    """Everything beyond clients, lists and subscribers: segment details, webhooks, every sent campaign's
    reports (TotalRecipients follows them), tags and journeys."""
    number = 0
    for segments in account.segments.values():
        for segment in segments:
            account.segment_details[segment["SegmentID"]] = _segment_details(
                account, segment, SEGMENT_RULES[number % len(SEGMENT_RULES)]
            )
            number += 1
    list_ids = [row["ListID"] for rows in account.lists.values() for row in rows]
    for list_id in list_ids:  # the last list, empty of subscribers, has no webhook either
        account.webhooks[list_id] = _webhooks(rng, 0 if list_id == list_ids[-1] else rng.randint(0, 2))
    for index, client in enumerate(account.clients):
        client_id = client["ClientID"]
        for position, campaign in enumerate(account.campaigns[client_id]):
            _add_campaign_reports(rng, account, client_id, campaign, position)
        account.tags[client_id] = _tags(account, client_id, as_text=index % 2 == 1)
        account.journeys[client_id] = []
        for _ in range(rng.randint(1, 2)):
            _add_journey(rng, account, client_id)


def _segment_details(account: Account, segment: dict, rules: list[list[tuple[str, str]]]) -> dict:
    """GET /segments/{sid}.json: the segment's rules and how many Active subscribers they select."""
    rule_groups = [{"Rules": [{"RuleType": kind, "Clause": clause} for kind, clause in group]} for group in rules]
    active = account.subscribers[segment["ListID"]]["Active"]
    return {
        "ActiveSubscribers": sum(_matches_rules(row, rule_groups) for row in active),
        "RuleGroups": rule_groups,
        "ListID": segment["ListID"],
        "SegmentID": segment["SegmentID"],
        "Title": segment["Title"],
    }


def _webhooks(rng: random.Random, count: int) -> list[dict]:
    """A list's webhooks, shaped like list_webhooks.json."""
    return [
        {
            "WebhookID": _hex(rng, 16),
            "Events": list(rng.choice(WEBHOOK_EVENTS)),
            "Url": f"https://hooks.example.com/cm/{_hex(rng, 12)}",
            "Status": "Active",
            "PayloadFormat": rng.choice(("Json", "Xml")),
        }
        for _ in range(count)
    ]


def _add_campaign_reports(rng: random.Random, account: Account, client_id: str, campaign: dict, position: int) -> None:
    """One sent campaign's reports. One of the client's RECENT_CAMPAIGNS newest (position 0 is the newest)
    went to one or two lists, sometimes plus a segment of another list: the newest to the client's first
    list, at most CAMPAIGN_AUDIENCE_CAP people (so on the big list more than 1000), the others to at most
    a fifth of that, to keep the default account cheap; an older one reached 0-3 people of one list. Recipients had joined by SentDate
    and are Active now; someone on two targeted lists gets it once."""
    lists, segments = account.lists[client_id], account.segments[client_id]
    if position < RECENT_CAMPAIGNS:
        targets = [lists[0]] if position == 0 else rng.sample(lists, rng.randint(1, min(2, len(lists))))
        spare = [row for row in segments if row["ListID"] not in {target["ListID"] for target in targets}]
        chosen_segments = [rng.choice(spare)] if spare and rng.random() < 0.4 else []
        size = CAMPAIGN_AUDIENCE_CAP if position == 0 else CAMPAIGN_AUDIENCE_CAP // 5
    else:
        targets, chosen_segments, size = [rng.choice(lists)], [], rng.randint(0, 3)
    sources = [(target["ListID"], None) for target in targets]
    sources += [(segment["ListID"], account.segment_details[segment["SegmentID"]]["RuleGroups"])
                for segment in chosen_segments]
    audience: dict[str, tuple[dict, str]] = {}
    for list_id, rules in sources:
        active = account.subscribers[list_id]["Active"]
        for row in rng.sample(active, min(len(active), size)):
            if row["ListJoinedDate"] <= campaign["SentDate"] and (rules is None or _matches_rules(row, rules)):
                audience.setdefault(row["EmailAddress"].casefold(), (row, list_id))
    people = sorted(audience.values(), key=lambda pair: _by_email(pair[0]))[:size]
    sent = datetime.strptime(campaign["SentDate"], DATE_FORMAT)
    events, openers = _events(rng, [(row, list_id, sent) for row, list_id in people], position == 0, True)
    reports = {"recipients": [{"EmailAddress": row["EmailAddress"], "ListID": list_id} for row, list_id in people]}
    reports.update(events)
    campaign_id = campaign["CampaignID"]
    campaign["TotalRecipients"] = len(people)
    account.campaign_reports[campaign_id] = reports
    account.campaign_summaries[campaign_id] = _campaign_summary(rng, campaign, reports, len(openers))
    account.campaign_lists_and_segments[campaign_id] = {
        "Lists": [{"ListID": target["ListID"], "Name": target["Name"]} for target in targets],
        "Segments": [dict(segment) for segment in chosen_segments],
    }
    account.email_client_usage[campaign_id] = _email_client_usage(openers)


def _events(
    rng: random.Random, audience: list[tuple[dict, str | None, datetime]], force_repeats: bool, campaign: bool
) -> tuple[dict[str, list[dict]], list[dict]]:
    """Opens, clicks, bounces, unsubscribes (and spam complaints for a campaign) of the people an email
    went to, each (subscriber row, ListID, when it was sent to them), in date order; and the subscriber
    rows of those who opened. Campaign rows carry ListID and the campaign samples' key order, journey rows
    neither. About 3% of opens and clicks are exact repeats (same person, minute, IP and URL);
    `force_repeats` makes sure there is at least one of each when anyone opened or clicked."""
    opens: list[dict] = []
    clicks: list[dict] = []
    bounces: list[dict] = []
    unsubscribes: list[dict] = []
    spam: list[dict] = []
    openers: list[dict] = []
    for row, list_id, sent in audience:
        email = row["EmailAddress"]
        tag = {"ListID": list_id} if campaign else {}
        if rng.random() < 0.03:
            bounce_type, reason = rng.choice(BOUNCES)
            when = _stamp(_minutes_after(rng, sent, 1, 120))
            bounces.append({"EmailAddress": email, **tag, "BounceType": bounce_type, "Date": when, "Reason": reason})
            continue
        if rng.random() >= 0.45:
            continue
        openers.append(row)
        city, region, code, country, latitude, longitude = rng.choice(LOCATIONS)
        ip = f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}"
        geo = {"IPAddress": ip, "Latitude": latitude, "Longitude": longitude, "City": city, "Region": region,
               "CountryCode": code, "CountryName": country}
        first = seen = _minutes_after(rng, sent, 1, 3 * 24 * 60)
        for _ in range(1 + (rng.random() < 0.4) + (rng.random() < 0.15)):
            opened = {"EmailAddress": email, **tag, "Date": _stamp(seen), **geo}
            opens += [opened, dict(opened)] if rng.random() < 0.03 else [opened]
            seen = _minutes_after(rng, seen, 1, 2 * 24 * 60)
        if rng.random() < 0.35:
            for url in rng.sample(CLICKED_URLS, rng.randint(1, 2)):
                when = _stamp(_minutes_after(rng, first, 0, 30))
                if campaign:
                    clicked = {"EmailAddress": email, "URL": url, **tag, "Date": when, **geo}
                else:
                    clicked = {"EmailAddress": email, "Date": when, "URL": url, **geo}
                clicks += [clicked, dict(clicked)] if rng.random() < 0.03 else [clicked]
        if rng.random() < 0.03:
            when = _stamp(_minutes_after(rng, first, 0, 60))
            unsubscribes.append({"EmailAddress": email, **tag, "Date": when, "IPAddress": ip})
        if campaign and rng.random() < 0.01:
            spam.append({"EmailAddress": email, **tag, "Date": _stamp(_minutes_after(rng, first, 0, 60))})
    if force_repeats:
        for rows in (opens, clicks):
            if rows and not _has_repeat(rows):
                rows.append(dict(rows[0]))
    reports = {"opens": opens, "clicks": clicks, "bounces": bounces, "unsubscribes": unsubscribes}
    if campaign:
        reports["spam"] = spam
    for rows in reports.values():
        rows.sort(key=lambda event: event["Date"])  # stable: a repeat stays next to its original
    return reports, openers


def _has_repeat(rows: list[dict]) -> bool:
    """Whether two rows are identical in every field."""
    seen = {tuple(row.items()) for row in rows}
    return len(seen) < len(rows)


def _unique_openers(opens: list[dict]) -> int:
    """How many different people (case-folded addresses) opened."""
    return len({row["EmailAddress"].casefold() for row in opens})


def _campaign_summary(rng: random.Random, campaign: dict, reports: dict[str, list[dict]], openers: int) -> dict:
    """GET /campaigns/{id}/summary.json, its counts those of the reports (Forwards, Likes and Mentions
    have no rows to count)."""
    code = campaign["WebVersionURL"].rpartition("r-")[2]
    return {
        "Name": campaign["Name"],
        "Recipients": len(reports["recipients"]),
        "TotalOpened": len(reports["opens"]),
        "Clicks": len(reports["clicks"]),
        "Unsubscribed": len(reports["unsubscribes"]),
        "Bounced": len(reports["bounces"]),
        "UniqueOpened": _unique_openers(reports["opens"]),
        "Mentions": rng.randint(0, openers // 20),
        "Forwards": rng.randint(0, openers // 10),
        "Likes": rng.randint(0, openers // 10),
        "WebVersionURL": campaign["WebVersionURL"],
        "WebVersionTextURL": campaign["WebVersionTextURL"],
        "WorldviewURL": f"https://client.createsend.com/reports/wv/r/{code}",
        "SpamComplaints": len(reports["spam"]),
    }


def _email_client_usage(openers: list[dict]) -> list[dict]:
    """GET /campaigns/{id}/emailclientusage.json: the openers by the email client they read with."""
    if not openers:
        return []
    counts = Counter(EMAIL_CLIENTS.get(row["ReadsEmailWith"], EMAIL_CLIENTS[""]) for row in openers)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [
        {"Client": client, "Version": version, "Percentage": round(100 * count / len(openers), 2),
         "Subscribers": count}
        for (client, version), count in ranked
    ]


def _tags(account: Account, client_id: str, as_text: bool) -> list[dict]:
    """GET /clients/{cid}/tags.json: each tag on the client's sent, scheduled and draft campaigns with how
    many carry it, by name; the count as a string such as "120" when `as_text` (the Ruby and PHP
    libraries' samples) else an int (the Python library's)."""
    counts = Counter(
        tag for kind in (account.campaigns, account.scheduled, account.drafts)
        for row in kind[client_id] for tag in row.get("Tags", [])
    )
    return [
        {"Name": name, "NumberOfCampaigns": str(count) if as_text else count} for name, count in sorted(counts.items())
    ]


def _add_journey(rng: random.Random, account: Account, client_id: str) -> None:
    """A journey "On Subscription" of the client's first list (a second one of any of its lists, perhaps an
    empty one), started 4-18 months ago: each of its 1-3
    emails goes to the list's Active subscribers who joined since (at most JOURNEY_AUDIENCE_CAP), its
    JOURNEY_EMAIL_DELAYS after they joined, if that moment has come."""
    number = len(account.journeys[client_id])
    target = account.lists[client_id][0] if number == 0 else rng.choice(account.lists[client_id])
    journey_id, name = _hex(rng, 32), JOURNEY_NAMES[number % len(JOURNEY_NAMES)]
    account.journeys[client_id].append(
        {"ListID": target["ListID"], "JourneyID": journey_id, "Name": name, "Status": "Active"}
    )
    started = _stamp(SYSTEM_DATE - timedelta(days=rng.randint(120, 540)))
    active = account.subscribers[target["ListID"]]["Active"]
    candidates = rng.sample(active, min(len(active), 3 * JOURNEY_AUDIENCE_CAP))
    people = sorted((row for row in candidates if row["ListJoinedDate"] >= started), key=_by_email)
    people = people[:JOURNEY_AUDIENCE_CAP]
    emails = []
    for position in range(rng.randint(1, len(JOURNEY_EMAIL_DELAYS))):
        delay = timedelta(minutes=JOURNEY_EMAIL_DELAYS[position])
        sends = [(row, None, datetime.strptime(row["ListJoinedDate"], DATE_FORMAT) + delay) for row in people]
        sends = sorted((send for send in sends if send[2] <= SYSTEM_DATE), key=lambda send: send[2])  # as served
        events, _ = _events(rng, sends, False, False)
        email_id = _hex(rng, 32)
        reports = {"recipients": [{"EmailAddress": row["EmailAddress"], "SentDate": _stamp(when)}
                                  for row, _, when in sends]}
        reports.update(events)
        account.journey_email_reports[email_id] = reports
        emails.append({
            "EmailID": email_id,
            "Name": JOURNEY_EMAIL_NAMES[position],
            "Bounced": len(reports["bounces"]),
            "Clicked": len(reports["clicks"]),
            "Opened": len(reports["opens"]),
            "Sent": len(reports["recipients"]),
            "UniqueOpened": _unique_openers(reports["opens"]),
            "Unsubscribed": len(reports["unsubscribes"]),
        })
    account.journey_details[journey_id] = {
        "JourneyID": journey_id, "Name": name, "TriggerType": "On Subscription", "Status": "Active", "Emails": emails,
    }


# --------------------------------------------------------------------------------------------------
# Requests, errors and paging
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived; path is relative to the API base, e.g. "/lists/abc/active.json"."""

    method: str
    path: str
    query: dict[str, str]
    body: Any = None  # the decoded JSON body; None when there was none or it was not UTF-8 JSON
    fault: str | None = None  # the Faults switch that answered instead of the API (e.g. "rate_limit"), if any


class ApiError(Exception):
    """An error answer: HTTP status plus the API's {"Code", "Message"} body, and "ResultData" when the
    error still carries a result (an import that partly failed)."""

    def __init__(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None, result_data: Any = None
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.result_data = result_data

    def payload(self) -> dict:
        """The JSON body of the answer."""
        body = {"Code": self.code, "Message": self.message}
        if self.result_data is not None:
            body["ResultData"] = self.result_data
        return body


@dataclass(frozen=True)
class ApiRequest:
    """What a handler needs: the data, who is asking, the path parameters and the query."""

    account: Account
    scope: str | None  # the client ID a client key is limited to; None for the administrator key
    params: dict[str, str]
    query: dict[str, str]  # as _given_query() makes it: names lower-cased, empty values left out
    body: Any = None  # the decoded JSON body, as in RecordedRequest


Handler = Callable[[ApiRequest], Any]
SortKey = Callable[[dict], Any]


@dataclass(frozen=True)
class Ordering:
    """The orders a paged endpoint accepts: orderfield -> (its ResultsOrderedBy label, sort key)."""

    fields: dict[str, tuple[str, SortKey]]
    default_field: str
    default_direction: str
    upper_direction: bool = False  # OrderDirection as "ASC"/"DESC" rather than "asc"/"desc"


def _by_email(row: dict) -> tuple[str, str]:
    """Case-insensitive email order; also the tie-break that keeps every other order stable."""
    email = row["EmailAddress"]
    return email.casefold(), email


SUBSCRIBER_ORDER = Ordering(
    {
        "email": ("email", _by_email),
        "name": ("name", lambda row: (row["Name"].casefold(), _by_email(row))),
        "date": ("date", lambda row: (row["Date"], _by_email(row))),
    },
    "email",
    "asc",
)
SUPPRESSION_ORDER = Ordering(
    {"email": ("email", _by_email), "date": ("date", lambda row: (row["Date"], _by_email(row)))}, "email", "asc"
)
CAMPAIGN_ORDER = Ordering(
    {"sentdate": ("SentDate", lambda row: (row["SentDate"], row["CampaignID"]))}, "sentdate", "desc"
)


# The paging numbers, whose empty value is a malformed number (Code 800/801) rather than one not sent:
# no library sends them empty, and the sandbox has always refused `page=` as an invalid page number.
EMPTY_IS_MALFORMED = frozenset({"page", "pagesize"})


def _given_query(query: dict[str, str]) -> dict[str, str]:
    """The query as routing and handlers see it: names lower-cased, as the API does not care about their
    case, and a parameter sent empty (`date=`) left out, as the API takes it for one not sent at all
    (but for EMPTY_IS_MALFORMED). Campaign Monitor's own libraries send every optional parameter, empty
    when not set (createsend: `date=&page=1&...`, `sentfromdate=&senttodate=&tags=`). This is the one
    place the rule lives; Sandbox.requests still records the query as it was sent."""
    given = ((name.lower(), value) for name, value in query.items())
    return {name: value for name, value in given if value != "" or name in EMPTY_IS_MALFORMED}


def _int_param(query: dict[str, str], name: str, default: int, low: int, high: int, code: int, message: str) -> int:
    """An integer query parameter within [low, high], else a 400 with the given Code."""
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]+", raw) or not low <= int(raw) <= high:
        raise ApiError(400, code, message)
    return int(raw)


@dataclass(frozen=True)
class PageSpec:
    """The paging parameters of one request, checked."""

    page: int
    size: int
    label: str  # ResultsOrderedBy
    direction: str
    key: SortKey

    def ordered(self, rows: list[dict]) -> list[dict]:
        """Every row in the requested order."""
        return sorted(rows, key=self.key, reverse=self.direction == "desc")


def _page_spec(query: dict[str, str], ordering: Ordering) -> PageSpec:
    """page, pagesize, orderfield and orderdirection, or a 400 with the API's Code for the first bad one."""
    page = _int_param(query, "page", 1, 1, 2**31 - 1, 800, "Invalid page number")
    size = _int_param(
        query, "pagesize", MAX_PAGE_SIZE, 10, MAX_PAGE_SIZE, 801,
        f"Invalid page size. Page size must be between 10 and {MAX_PAGE_SIZE}"
    )
    field_name = query.get("orderfield", ordering.default_field).lower()
    if field_name not in ordering.fields:
        raise ApiError(400, 802, f"Invalid order field. Use one of: {', '.join(ordering.fields)}")
    direction = query.get("orderdirection", ordering.default_direction).lower()
    if direction not in ("asc", "desc"):
        raise ApiError(400, 803, "Invalid order direction. Use asc or desc")
    label, key = ordering.fields[field_name]
    return PageSpec(page, size, label, direction, key)


def _paged(
    rows: list[dict],
    query: dict[str, str],
    ordering: Ordering,
    view: Callable[[dict], dict] | None = None,
    ordered: Callable[[PageSpec], list[dict]] | None = None,
) -> dict:
    """Sort, slice and wrap rows in the paged envelope; `view` shapes only the rows on the page.
    `ordered`, when given, returns `rows` in the spec's order (e.g. from a cache; never to be changed)."""
    spec = _page_spec(query, ordering)
    page, size, label, direction = spec.page, spec.size, spec.label, spec.direction
    direction = direction.upper() if ordering.upper_direction else direction
    every = ordered(spec) if ordered is not None else spec.ordered(rows)
    on_page = every[(page - 1) * size : page * size]
    return {
        "Results": [view(row) for row in on_page] if view else on_page,
        "ResultsOrderedBy": label,
        "OrderDirection": direction,
        "PageNumber": page,
        "PageSize": size,
        "RecordsOnThisPage": len(on_page),
        "TotalNumberOfRecords": len(every),
        "NumberOfPages": math.ceil(len(every) / size),
    }


# How many sorted list-states an account keeps (each is a list of references to rows it already holds).
ORDER_CACHE_SIZE = 32


def _ordered_members(
    account: Account, list_id: str, state: str, spec: PageSpec, since: str | None
) -> list[dict]:
    """The list-state's rows with Date >= `since` (all when None) in the spec's order, as
    spec.ordered(_changed_since(...)) gives them; called holding the account's lock.

    Sorting every row for every page made paging a big list-state quadratic, so the result is cached
    per (list, state, order, direction, since) with the row list it came from, and used only while that
    very list is still stored: writes replace lists, never edit them. Filtering the cached full order
    equals sorting the filtered rows, as the sort is stable."""
    rows = account.subscribers[list_id][state]
    slot = (list_id, state, spec.key, spec.direction, since)
    cache = account._orders
    hit = cache.get(slot)
    if hit is not None and hit[0] is rows:
        cache.move_to_end(slot)
        return hit[1]
    if since is None:
        result = spec.ordered(rows)
    else:
        result = [row for row in _ordered_members(account, list_id, state, spec, None) if row["Date"] >= since]
    cache[slot] = (rows, result)
    cache.move_to_end(slot)
    while len(cache) > ORDER_CACHE_SIZE:
        cache.popitem(last=False)
    return result


def _date_param(query: dict[str, str], name: str, formats: tuple[str, ...]) -> str | None:
    """A date query parameter normalised to "YYYY-MM-DD HH:MM:SS", so it compares as a string."""
    raw = query.get(name)
    if raw is None:
        return None
    for form in formats:
        try:
            return datetime.strptime(raw, form).strftime(DATE_FORMAT)
        except ValueError:
            continue
    raise ApiError(400, 5, f"Invalid date: {name} must be {' or '.join(formats)}")


def _flag(query: dict[str, str], name: str) -> bool:
    """A boolean query parameter: only "true" (any case) turns it on."""
    return query.get(name, "").lower() == "true"


# --------------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------------


def _client_id(request: ApiRequest) -> str:
    """The path's client ID if it exists and the key may see it; the API answers 401 102 for both."""
    client_id = request.params["cid"]
    if client_id not in request.account.client_details or request.scope not in (None, client_id):
        raise ApiError(401, 102, "Invalid ClientID")
    return client_id


def _list_id(request: ApiRequest) -> str:
    """The path's list ID if it exists and belongs to a client the key may see, else 400 101."""
    list_id = request.params["lid"]
    owner = request.account.list_owner(list_id)
    if owner is None or request.scope not in (None, owner):
        raise ApiError(400, 101, "Invalid ListID")
    return list_id


def get_clients(request: ApiRequest) -> list[dict]:
    """GET /clients.json: only the administrator key may list clients."""
    if request.scope is not None:
        raise ApiError(401, 100, "Invalid API key: a client API key cannot list clients")
    return request.account.clients


def get_client_details(request: ApiRequest) -> dict:
    """GET /clients/{cid}.json."""
    return request.account.client_details[_client_id(request)]


def get_client_collection(request: ApiRequest) -> list[dict]:
    """GET /clients/{cid}/{scheduled,drafts,lists,segments,templates,tags,journeys}.json: bare, unpaged arrays."""
    return getattr(request.account, request.params["collection"])[_client_id(request)]


def get_sent_campaigns(request: ApiRequest) -> dict:
    """GET /clients/{cid}/campaigns.json: paged, newest first; sentfromdate/senttodate bound SentDate's day."""
    rows = request.account.campaigns[_client_id(request)]
    since = _date_param(request.query, "sentfromdate", ("%Y-%m-%d",))
    until = _date_param(request.query, "senttodate", ("%Y-%m-%d",))
    if since or until:
        rows = [
            row for row in rows
            if (not since or row["SentDate"][:10] >= since[:10]) and (not until or row["SentDate"][:10] <= until[:10])
        ]
    return _paged(rows, request.query, CAMPAIGN_ORDER)


def get_suppression_list(request: ApiRequest) -> dict:
    """GET /clients/{cid}/suppressionlist.json: paged, by email or date."""
    return _paged(request.account.suppression_list[_client_id(request)], request.query, SUPPRESSION_ORDER)


def get_list_details(request: ApiRequest) -> dict:
    """GET /lists/{lid}.json."""
    return request.account.list_details[_list_id(request)]


def get_custom_fields(request: ApiRequest) -> list[dict]:
    """GET /lists/{lid}/customfields.json."""
    return request.account.custom_fields[_list_id(request)]


STATS_COUNTERS = (
    ("TotalActiveSubscribers", "NewActiveSubscribers", "Active"),
    ("TotalUnsubscribes", "Unsubscribes", "Unsubscribed"),
    ("TotalDeleted", "Deleted", "Deleted"),
    ("TotalBounces", "Bounces", "Bounced"),
)


def get_list_stats(request: ApiRequest) -> dict:
    """GET /lists/{lid}/stats.json: totals per state and how many rows entered it in each recent window
    of the account's system date (week from Monday)."""
    members = request.account.subscribers[_list_id(request)]
    today = datetime.strptime(request.account.system_date, DATE_FORMAT).date()
    yesterday = today - timedelta(days=1)
    windows = {
        "Today": (today, today),
        "Yesterday": (yesterday, yesterday),
        "ThisWeek": (today - timedelta(days=today.weekday()), today),
        "ThisMonth": (today.replace(day=1), today),
        "ThisYear": (today.replace(month=1, day=1), today),
    }
    stats: dict[str, int] = {}
    for total_name, prefix, state in STATS_COUNTERS:
        days = [row["Date"][:10] for row in members[state]]
        stats[total_name] = len(days)
        for window, (first, last) in windows.items():
            stats[prefix + window] = sum(first.isoformat() <= day <= last.isoformat() for day in days)
    return stats


SUBSCRIBER_FIELDS = ("EmailAddress", "Name", "Date", "ListJoinedDate", "State", "CustomFields", "ReadsEmailWith")


def _subscriber_view(tracking: bool, sms: bool) -> Callable[[dict], dict]:
    """Shape a stored subscriber for the response: the consent and SMS fields only when asked for."""

    def view(row: dict) -> dict:
        shaped = {name: row[name] for name in SUBSCRIBER_FIELDS}
        if tracking:
            shaped["ConsentToTrack"] = row["ConsentToTrack"]
        if sms:
            if "MobileNumber" in row:
                shaped["MobileNumber"] = row["MobileNumber"]
            shaped["ConsentToSendSms"] = row["ConsentToSendSms"]
        return shaped

    return view


SINCE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M")


def _changed_since(rows: list[dict], query: dict[str, str]) -> list[dict]:
    """The subscriber rows a `date` filter keeps: Date on or after it."""
    since = _date_param(query, "date", SINCE_FORMATS)
    return [row for row in rows if row["Date"] >= since] if since else rows


def get_subscribers(request: ApiRequest) -> dict:
    """GET /lists/{lid}/{state}.json for all five states: paged, filtered to Date >= `date`."""
    account = request.account
    list_id = _list_id(request)
    state = request.params["state"].capitalize()
    rows = account.subscribers[list_id][state]
    since = _date_param(request.query, "date", SINCE_FORMATS) or None
    view = _subscriber_view(
        _flag(request.query, "includetrackingpreference"), _flag(request.query, "includesmspreference")
    )

    def ordered(spec: PageSpec) -> list[dict]:
        return _ordered_members(account, list_id, state, spec, since)

    return _paged(rows, request.query, SUBSCRIBER_ORDER, view, ordered)


def get_system_date(request: ApiRequest) -> dict:
    """GET /systemdate.json: the account's fixed local "now"."""
    return {"SystemDate": request.account.system_date}


# ---- reports: campaigns, segments, journeys, webhooks ----------------------------------------------

# The API's documentation gives no Code for an unknown campaign, segment, journey or journey email; these
# are the sandbox's choice, answered with 400 like an unknown list (101). As for lists, an ID belonging to
# a client the key may not see is answered as unknown.
INVALID_CAMPAIGN = (301, "Invalid CampaignID")
INVALID_SEGMENT = (302, "Invalid SegmentID")
INVALID_JOURNEY = (380, "Invalid JourneyID")
INVALID_JOURNEY_EMAIL = (381, "Invalid EmailID")

CAMPAIGN_RECIPIENT_ORDER = Ordering({"email": ("email", _by_email)}, "email", "asc")
# Event rows have no ID: rows on the same minute keep their stored order, so repeats stay side by side.
CAMPAIGN_EVENT_ORDER = Ordering({"date": ("date", lambda row: row["Date"])}, "date", "asc")
# The journey samples say "SentDate"/"Date" and "ASC"/"DESC" where the campaign ones say "date" and "asc".
JOURNEY_RECIPIENT_ORDER = Ordering(
    {"sentdate": ("SentDate", lambda row: row["SentDate"])}, "sentdate", "asc", upper_direction=True
)
JOURNEY_EVENT_ORDER = Ordering({"date": ("Date", lambda row: row["Date"])}, "date", "asc", upper_direction=True)


def _owned(request: ApiRequest, param: str, owner: Callable[[str], str | None], invalid: tuple[int, str]) -> str:
    """The path's ID if it exists and its client is one the key may see, else 400 with `invalid`."""
    value = request.params[param]
    client_id = owner(value)
    if client_id is None or request.scope not in (None, client_id):
        raise ApiError(400, *invalid)
    return value


def _on_or_after(rows: list[dict], query: dict[str, str], name: str) -> list[dict]:
    """The rows a `date` filter keeps: `name` on or after it."""
    since = _date_param(query, "date", ("%Y-%m-%d", "%Y-%m-%d %H:%M"))
    return [row for row in rows if row[name] >= since] if since else rows


def get_campaign_summary(request: ApiRequest) -> dict:
    """GET /campaigns/{id}/summary.json."""
    campaign_id = _owned(request, "campaign", request.account.campaign_owner, INVALID_CAMPAIGN)
    return request.account.campaign_summaries[campaign_id]


def get_campaign_report(request: ApiRequest) -> dict:
    """GET /campaigns/{id}/{recipients,opens,clicks,bounces,unsubscribes,spam}.json: paged; recipients by
    email (no `date`), the others by date with a `date` filter (on or after)."""
    campaign_id = _owned(request, "campaign", request.account.campaign_owner, INVALID_CAMPAIGN)
    report = request.params["report"]
    rows = request.account.campaign_reports[campaign_id][report]
    if report == "recipients":
        return _paged(rows, request.query, CAMPAIGN_RECIPIENT_ORDER)
    return _paged(_on_or_after(rows, request.query, "Date"), request.query, CAMPAIGN_EVENT_ORDER)


def get_campaign_lists_and_segments(request: ApiRequest) -> dict:
    """GET /campaigns/{id}/listsandsegments.json."""
    campaign_id = _owned(request, "campaign", request.account.campaign_owner, INVALID_CAMPAIGN)
    return request.account.campaign_lists_and_segments[campaign_id]


def get_email_client_usage(request: ApiRequest) -> list[dict]:
    """GET /campaigns/{id}/emailclientusage.json."""
    campaign_id = _owned(request, "campaign", request.account.campaign_owner, INVALID_CAMPAIGN)
    return request.account.email_client_usage[campaign_id]


def get_segment_details(request: ApiRequest) -> dict:
    """GET /segments/{sid}.json: ActiveSubscribers counts the members served by its active.json now."""
    return request.account.segment_detail(_owned(request, "sid", request.account.segment_owner, INVALID_SEGMENT))


def get_segment_subscribers(request: ApiRequest) -> dict:
    """GET /segments/{sid}/active.json: the segment's members, paged and shaped as a list's Active ones."""
    segment_id = _owned(request, "sid", request.account.segment_owner, INVALID_SEGMENT)
    rows = _changed_since(request.account.segment_members(segment_id), request.query)
    view = _subscriber_view(
        _flag(request.query, "includetrackingpreference"), _flag(request.query, "includesmspreference")
    )
    return _paged(rows, request.query, SUBSCRIBER_ORDER, view)


def get_journey(request: ApiRequest) -> dict:
    """GET /journeys/{jid}.json."""
    return request.account.journey_details[_owned(request, "jid", request.account.journey_owner, INVALID_JOURNEY)]


def get_journey_email_report(request: ApiRequest) -> dict:
    """GET /journeys/email/{eid}/{recipients,opens,clicks,bounces,unsubscribes}.json: paged by SentDate
    (recipients) or Date, with a `date` filter (on or after) on the same field."""
    email_id = _owned(request, "eid", request.account.journey_email_owner, INVALID_JOURNEY_EMAIL)
    report = request.params["report"]
    rows = request.account.journey_email_reports[email_id][report]
    if report == "recipients":
        return _paged(_on_or_after(rows, request.query, "SentDate"), request.query, JOURNEY_RECIPIENT_ORDER)
    return _paged(_on_or_after(rows, request.query, "Date"), request.query, JOURNEY_EVENT_ORDER)


def get_webhooks(request: ApiRequest) -> list[dict]:
    """GET /lists/{lid}/webhooks.json."""
    return request.account.webhooks[_list_id(request)]


# --------------------------------------------------------------------------------------------------
# Subscriber writes
# --------------------------------------------------------------------------------------------------

INACTIVE_STATES = ("Unsubscribed", "Bounced", "Deleted")
MAX_FIELD_VALUE = 250
FIELD_DATE_RANGE = (date(1900, 1, 1), date(2076, 6, 6))
MOBILE_NUMBER_RE = re.compile(r"\+[1-9][0-9]{6,14}")  # E.164
# dot-separated atoms @ labels . TLD; Unicode letters and digits are fine anywhere, so IDN domains and
# non-ASCII local parts pass, as they do in the API.
_EMAIL_ATOM = r"[^\s\x00-\x1f\x7f@\"(),:;<>\[\]\\.]+"
_DOMAIN_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
EMAIL_RE = re.compile(
    rf"{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*@(?:{_DOMAIN_LABEL}\.)+(?:[^\W\d_]{{2,63}}|xn--[a-z0-9-]{{1,59}})",
    re.IGNORECASE,
)
INVALID_EMAIL = "Invalid Email Address"
NOT_IN_LIST = "Subscriber not in list or has already been removed."
SUBSCRIBER_DETAIL_FIELDS = (
    "EmailAddress", "Name", "MobileNumber", "Date", "ListJoinedDate", "State", "CustomFields", "ReadsEmailWith",
    "ConsentToTrack", "ConsentToSendSms",
)


@dataclass(frozen=True)
class _SubscriberWrite:
    """One validated subscriber of a write. None, "Unchanged" and a field left out of custom_fields all
    mean "keep what is stored"."""

    email: str
    name: str | None
    consent_to_track: str
    consent_to_send_sms: str
    mobile_number: str | None
    custom_fields: dict[str, list[str]]  # field name -> its new values; [] clears the field


def _address(entry: Any) -> str:
    """The EmailAddress a subscriber entry was sent with, "" when it has none (failures still name it)."""
    email = entry.get("EmailAddress") if isinstance(entry, dict) else None
    return email if isinstance(email, str) else ""


def _is_valid_email(text: str) -> bool:
    """A sane local@domain.tld shape, within the lengths mail servers accept."""
    local = text.rpartition("@")[0]
    return len(text) <= 254 and len(local) <= 64 and EMAIL_RE.fullmatch(text) is not None


def _consent(entry: dict, name: str, required: bool) -> str:
    """A consent exactly Yes, No or Unchanged (case matters: "true" is refused as the API does); an
    optional one left out is Unchanged."""
    value = entry.get(name)
    if value is None and required:
        raise ApiError(400, 214, f"{name} is required: Yes, No or Unchanged")
    if value is None:
        return "Unchanged"
    if value not in CONSENT_VALUES:
        raise ApiError(400, 215, f"Invalid {name} value: use Yes, No or Unchanged")
    return value


def _given_mobile_number(entry: dict) -> str | None:
    """The E.164 MobileNumber sent; None when left out, null or empty, which keeps the stored one."""
    value = entry.get("MobileNumber")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not MOBILE_NUMBER_RE.fullmatch(value):
        raise ApiError(400, 220, "Invalid mobile number")
    return value


def _is_field_date(value: str) -> bool:
    """YYYY-MM-DD within the range a Date field can hold."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return False
    return FIELD_DATE_RANGE[0] <= day <= FIELD_DATE_RANGE[1]


def _field_value(item: Any, by_key: dict[str, dict]) -> tuple[dict | None, str]:
    """One CustomFields entry checked: its field's definition (None for a Key the list lacks, which is
    ignored rather than refused) and its Value as text."""
    key = item.get("Key") if isinstance(item, dict) else None
    if not isinstance(key, str) or not re.fullmatch(r"\[[^\[\]]+\]", key):
        raise ApiError(400, 253, "Custom field keys must be in square brackets, e.g. [website]")
    definition = by_key.get(key.casefold())
    value = "" if item.get("Value") is None else str(item["Value"])
    if definition is None:
        return None, value
    if len(value) > MAX_FIELD_VALUE:
        raise ApiError(400, 250, f"The value of {key} is longer than {MAX_FIELD_VALUE} characters")
    if value and definition["DataType"] == "Date" and not _is_field_date(value):
        first, last = FIELD_DATE_RANGE
        raise ApiError(400, 5, f"Invalid date in {key}: use YYYY-MM-DD between {first} and {last}")
    return definition, value


def _custom_field_changes(raw: Any, fields: list[dict]) -> dict[str, list[str]]:
    """New values by field name. A field's values replace the stored ones (a multi-select-many field
    takes one entry per option, the others keep the last); an empty Value clears the field only with
    "Clear": true; options a select field does not offer are dropped."""
    if raw is None:
        return {}
    by_key = {definition["Key"].casefold(): definition for definition in fields}
    changes: dict[str, list[str]] = {}
    for item in raw if isinstance(raw, list) else [raw]:
        definition, value = _field_value(item, by_key)
        if definition is None:
            continue
        name = definition["FieldName"]
        if not value:
            if item.get("Clear") is True:
                changes.setdefault(name, [])
        elif definition["FieldOptions"] and value not in definition["FieldOptions"]:
            continue
        elif definition["DataType"] != "MultiSelectMany":
            changes[name] = [value]
        elif value not in changes.setdefault(name, []):
            changes[name].append(value)
    return changes


def _subscriber_write(entry: Any, fields: list[dict]) -> _SubscriberWrite:
    """Validate one subscriber for either POST endpoint against the list's `fields`; the first problem
    wins, in this order: email (1), ConsentToTrack (214/215), ConsentToSendSms (215), MobileNumber
    (220), custom fields (253, 250, 5)."""
    entry = entry if isinstance(entry, dict) else {}
    email = _address(entry)
    if not _is_valid_email(email):
        raise ApiError(400, 1, INVALID_EMAIL)
    name = entry.get("Name")
    return _SubscriberWrite(
        email=email,
        name=name if isinstance(name, str) else None,
        consent_to_track=_consent(entry, "ConsentToTrack", required=True),
        consent_to_send_sms=_consent(entry, "ConsentToSendSms", required=False),
        mobile_number=_given_mobile_number(entry),
        custom_fields=_custom_field_changes(entry.get("CustomFields"), fields),
    )


def _merged_custom_fields(stored: list[dict], changes: dict[str, list[str]], fields: list[dict]) -> list[dict]:
    """The stored values with the changed fields replaced, in the list's field order, a multi-select
    repeating its Key once per option as the API serves it."""
    values: dict[str, list[str]] = {definition["FieldName"]: [] for definition in fields}
    for item in stored:
        values.setdefault(item["Key"], []).append(item["Value"])
    values.update(changes)
    return [{"Key": name, "Value": value} for name, chosen in values.items() for value in chosen]


def _new_row(email: str, now: str) -> dict:
    """A subscriber about to join a list: Active as of `now`, consents "No" until given."""
    return {
        "EmailAddress": email, "Name": "", "Date": now, "ListJoinedDate": now, "State": "Active",
        "CustomFields": [], "ReadsEmailWith": "", "ConsentToTrack": "No", "ConsentToSendSms": "No",
    }


@dataclass(eq=False)
class _MemberIndex:
    """Where each address of one list is stored: case-folded address -> (state, position in that state's
    rows), for exactly the row lists in `lists` (by identity)."""

    lists: dict[str, list[dict]]
    where: dict[str, tuple[str, int]]


def _member_index(account: Account, list_id: str) -> _MemberIndex | None:
    """The list's index, kept up to date by _ListWrite and rebuilt (once) whenever something else has
    replaced one of its state lists. None when the stored rows are not in the shape writes keep them in
    (states in STATES order, each row in the list of its own State, no address twice), which the
    whole-list rewrite that writes then fall back to restores."""
    members = account.subscribers[list_id]
    index = account._indexes.get(list_id)
    if (
        index is not None
        and len(members) == len(STATES)
        and all(members.get(state) is rows for state, rows in index.lists.items())
    ):
        return index
    account._indexes.pop(list_id, None)
    if tuple(members) != STATES:
        return None
    where: dict[str, tuple[str, int]] = {}
    for state, rows in members.items():
        for position, row in enumerate(rows):
            if row["State"] != state:
                return None
            where[row["EmailAddress"].casefold()] = (state, position)
    if len(where) != sum(map(len, members.values())):
        return None
    index = _MemberIndex(dict(members), where)
    account._indexes[list_id] = index
    return index


def _suppressed_addresses(account: Account, client_id: str) -> set[str]:
    """The client's suppressed addresses, case-folded; rebuilt when its suppression list was replaced."""
    rows = account.suppression_list[client_id]
    cached = account._suppressed.get(client_id)
    if cached is None or cached[0] is not rows:
        cached = (rows, {row["EmailAddress"].casefold() for row in rows})
        account._suppressed[client_id] = cached
    return cached[1]


class _ListWrite:
    """Upserts into one list, run under the account lock. The API matches addresses ignoring case, so
    rows are found by case-folded address through the list's _member_index and the client's suppressed
    addresses through _suppressed_addresses; save() stores the outcome as new lists, never editing what a
    reply may still be encoding, at a cost that grows with the rows written rather than with the list.

    The outcome is that of putting every row of the list (state by state, in stored order) into one
    dict by case-folded address, upserting into it, and storing each state's rows in the dict's order:
    an updated row keeps its place, a row that changes state goes after the rows of its new state that
    came from earlier states (by its old state, then its old place), and new rows come last."""

    def __init__(self, account: Account, list_id: str, resubscribe: bool):
        self.account, self.list_id, self.resubscribe = account, list_id, resubscribe
        self.fields = account.custom_fields[list_id]
        self.owner = account.list_owner(list_id) or ""  # never "": handlers check the list first
        self.members = account.subscribers[list_id]
        self.index = _member_index(account, list_id)
        # Only when the index could not be had: every row by address, as the dict described above.
        self.everyone: dict[str, dict] | None = None
        if self.index is None:
            self.everyone = {row["EmailAddress"].casefold(): row for rows in self.members.values() for row in rows}
        self.suppressed = _suppressed_addresses(account, self.owner)
        self.lifted: set[str] = set()  # suppressed addresses this write resubscribes
        self.changed: dict[str, dict] = {}  # the rows written, by case-folded address, in first-write order

    def _current(self, key: str) -> dict | None:
        """The row stored (or already written by this write) for a case-folded address."""
        if key in self.changed:
            return self.changed[key]
        if self.everyone is not None:
            return self.everyone.get(key)
        spot = self.index.where.get(key)
        return None if spot is None else self.members[spot[0]][spot[1]]

    def upsert(self, wanted: _SubscriberWrite) -> bool:
        """Add or update one subscriber; True when it is new to the list. An existing row keeps its
        address spelling and its state unless resubscribing. A suppressed address new to the list is
        refused (204) unless resubscribing, which also lifts the suppression."""
        key = wanted.email.casefold()
        current = self._current(key)
        suppressed = key in self.suppressed and key not in self.lifted
        if current is None and suppressed and not self.resubscribe:
            raise ApiError(400, 204, "The email address is in the client's suppression list; use Resubscribe")
        if self.resubscribe and suppressed:
            self.lifted.add(key)
        self.changed[key] = self._merged(current or _new_row(wanted.email, self.account.system_date), wanted)
        return current is None

    def unsubscribe(self, email: str) -> None:
        """Move the list's subscriber with this address to Unsubscribed as of the account's date; one
        that has already left (Unsubscribed, Bounced, Deleted) stays as it is. 203 when the list has no
        such address."""
        key = email.casefold()
        current = self._current(key)
        if current is None:
            raise ApiError(400, 203, NOT_IN_LIST)
        if current["State"] not in INACTIVE_STATES:
            self.changed[key] = {**current, "State": "Unsubscribed", "Date": self.account.system_date}

    def _merged(self, current: dict, wanted: _SubscriberWrite) -> dict:
        """A new row: what was given replaces what is stored; resubscribing moves an inactive row back
        to Active as of the account's date (keeping ListJoinedDate)."""
        fields = _merged_custom_fields(current["CustomFields"], wanted.custom_fields, self.fields)
        row = {**current, "CustomFields": fields}
        if wanted.name is not None:
            row["Name"] = wanted.name
        if wanted.mobile_number is not None:
            row["MobileNumber"] = wanted.mobile_number
        consents = {"ConsentToTrack": wanted.consent_to_track, "ConsentToSendSms": wanted.consent_to_send_sms}
        row.update((name, value) for name, value in consents.items() if value != "Unchanged")
        if self.resubscribe and row["State"] in INACTIVE_STATES:
            row.update(State="Active", Date=self.account.system_date)
        return row

    def save(self) -> None:
        """Store the written rows in their states' lists and drop lifted suppressions; the GET endpoints
        sort, so new rows take their place in any order."""
        if self.lifted:
            suppressions = self.account.suppression_list[self.owner]
            self.account.suppression_list[self.owner] = [
                row for row in suppressions if row["EmailAddress"].casefold() not in self.lifted
            ]
        if self.everyone is not None:
            self.everyone.update(self.changed)
            for state in STATES:
                self.members[state] = [row for row in self.everyone.values() if row["State"] == state]
            return
        self._save_indexed()

    def _save_indexed(self) -> None:
        """save() through the index: copy only the state lists that change, and re-index only the rows
        whose place changed (a whole state's rows only when rows left it or came in ahead of its own)."""
        where, members = self.index.where, self.members
        rank = {state: number for number, state in enumerate(STATES)}
        replaced: dict[str, list[dict]] = {}  # state -> its rows with updated rows swapped in place
        leaving: dict[str, set[int]] = {}  # state -> positions of rows moving to another state
        arriving: dict[str, list[tuple[int, int, str, dict]]] = {}  # state -> (old rank, old position, key, row)
        new: dict[str, list[tuple[str, dict]]] = {}
        for key, row in self.changed.items():
            spot, state = where.get(key), row["State"]
            if spot is None:
                new.setdefault(state, []).append((key, row))
            elif spot[0] == state:
                if state not in replaced:
                    replaced[state] = list(members[state])
                replaced[state][spot[1]] = row
            else:
                leaving.setdefault(spot[0], set()).add(spot[1])
                arriving.setdefault(state, []).append((rank[spot[0]], spot[1], key, row))
        stored: dict[str, list[dict]] = {}
        for state in STATES:
            if state not in replaced and state not in leaving and state not in arriving and state not in new:
                continue
            own = replaced.get(state, members[state])
            gone = leaving.get(state)
            if gone:
                own = [row for position, row in enumerate(own) if position not in gone]
            moved = sorted(arriving.get(state, []))
            ahead = [entry for entry in moved if entry[0] < rank[state]]
            behind = [(key, row) for number, _, key, row in moved if number > rank[state]] + new.get(state, [])
            rows = own
            if ahead or behind:
                rows = [row for *_, row in ahead] + own + [row for _, row in behind]
            elif own is members[state]:
                rows = list(own)  # stored anew all the same: the lists are what tells a change
            if gone or ahead:
                for position, row in enumerate(rows):
                    where[row["EmailAddress"].casefold()] = (state, position)
            else:
                for position, (key, _) in enumerate(behind, start=len(own)):
                    where[key] = (state, position)
            stored[state] = rows
        for state, rows in stored.items():
            members[state] = self.index.lists[state] = rows


def _resubscribe(body: dict) -> bool:
    """Only a JSON true resubscribes: moving people back onto a list must be asked for explicitly."""
    return body.get("Resubscribe") is True


def _last_occurrences(entries: list[Any]) -> tuple[list[Any], list[str]]:
    """Entries unique by case-folded address, the last occurrence winning (in the first one's place),
    and each repeated address once, as last spelled. Entries without an address never repeat."""
    latest: dict[Any, Any] = {}
    repeated: dict[Any, None] = {}
    for position, entry in enumerate(entries):
        address = _address(entry)
        key = address.casefold() if address else position
        if key in latest:
            repeated[key] = None
        latest[key] = entry
    return list(latest.values()), [_address(latest[key]) for key in repeated]


def get_subscriber(request: ApiRequest) -> dict:
    """GET /subscribers/{lid}.json?email=: one subscriber from whichever state it is in, with its consents."""
    members = request.account.subscribers[_list_id(request)]
    email = request.query.get("email", "")
    if not _is_valid_email(email):
        raise ApiError(400, 1, INVALID_EMAIL)
    key = email.casefold()
    index = _member_index(request.account, _list_id(request))
    if index is not None:
        spot = index.where.get(key)
        row = None if spot is None else members[spot[0]][spot[1]]
    else:
        row = next((row for rows in members.values() for row in rows if row["EmailAddress"].casefold() == key), None)
    if row is None:
        raise ApiError(400, 203, NOT_IN_LIST)
    return {name: row[name] for name in SUBSCRIBER_DETAIL_FIELDS if name in row}


def add_subscriber(request: ApiRequest) -> str:
    """POST /subscribers/{lid}.json: add or update one subscriber; answers with its address as sent."""
    list_id = _list_id(request)
    body = request.body
    if not isinstance(body, dict):
        raise ApiError(400, 400, "The request body must be a JSON object describing one subscriber")
    write = _ListWrite(request.account, list_id, _resubscribe(body))
    wanted = _subscriber_write(body, write.fields)
    write.upsert(wanted)
    write.save()
    return wanted.email


def import_subscribers(request: ApiRequest) -> dict:
    """POST /subscribers/{lid}/import.json: upsert up to 1000 subscribers. A subscriber that fails is
    skipped and the others still land; then the answer is 400 Code 210 with the result as ResultData."""
    list_id = _list_id(request)
    body = request.body
    entries = body.get("Subscribers") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise ApiError(400, 400, "The request body must be a JSON object with a Subscribers array")
    if len(entries) > MAX_IMPORT:
        raise ApiError(400, 209, f"At most {MAX_IMPORT} subscribers can be imported in one request")
    if not entries:
        raise ApiError(400, 212, "No subscribers to import: the Subscribers array is empty")
    unique, duplicates = _last_occurrences(entries)
    write = _ListWrite(request.account, list_id, _resubscribe(body))
    new, failures = 0, []
    for entry in unique:
        try:
            new += write.upsert(_subscriber_write(entry, write.fields))
        except ApiError as error:
            failures.append({"EmailAddress": _address(entry), "Code": error.code, "Message": error.message})
    write.save()
    result = {
        "TotalUniqueEmailsSubmitted": len(unique),
        "TotalExistingSubscribers": len(unique) - len(failures) - new,
        "TotalNewSubscribers": new,
        "DuplicateEmailsInSubmission": duplicates,
        "FailureDetails": failures,
    }
    if failures:
        raise ApiError(400, 210, "Subscriber Import had some failures", result_data=result)
    return result


def unsubscribe_subscriber(request: ApiRequest) -> None:
    """POST /subscribers/{lid}/unsubscribe.json {"EmailAddress"}: see _ListWrite.unsubscribe; 200 with an
    empty body. The reference gives no error codes for it: an unusable address is 1 and one the list
    lacks is 203, as for GET /subscribers/{lid}.json."""
    list_id = _list_id(request)
    body = request.body
    if not isinstance(body, dict):
        raise ApiError(400, 400, "The request body must be a JSON object with an EmailAddress")
    email = _address(body)
    if not _is_valid_email(email):
        raise ApiError(400, 1, INVALID_EMAIL)
    write = _ListWrite(request.account, list_id, resubscribe=False)
    write.unsubscribe(email)
    write.save()


Route = tuple[str, re.Pattern[str], Handler, int]  # method, path pattern, handler, success status


def _route(method: str, pattern: str, handler: Handler, status: int = 200) -> Route:
    """A routing table row; patterns match the whole path after the API base."""
    return method, re.compile(pattern), handler, status


ROUTES: list[Route] = [
    _route("GET", r"/clients\.json", get_clients),
    _route("GET", r"/clients/(?P<cid>[^/]+)\.json", get_client_details),
    _route("GET", r"/clients/(?P<cid>[^/]+)/campaigns\.json", get_sent_campaigns),
    _route("GET", r"/clients/(?P<cid>[^/]+)/(?P<collection>scheduled|drafts|lists|segments|templates|tags|journeys)"
           r"\.json", get_client_collection),
    _route("GET", r"/clients/(?P<cid>[^/]+)/suppressionlist\.json", get_suppression_list),
    _route("GET", r"/lists/(?P<lid>[^/]+)\.json", get_list_details),
    _route("GET", r"/lists/(?P<lid>[^/]+)/customfields\.json", get_custom_fields),
    _route("GET", r"/lists/(?P<lid>[^/]+)/stats\.json", get_list_stats),
    _route("GET", r"/lists/(?P<lid>[^/]+)/(?P<state>active|unconfirmed|unsubscribed|bounced|deleted)\.json",
           get_subscribers),
    _route("GET", r"/lists/(?P<lid>[^/]+)/webhooks\.json", get_webhooks),
    _route("GET", r"/segments/(?P<sid>[^/]+)\.json", get_segment_details),
    _route("GET", r"/segments/(?P<sid>[^/]+)/active\.json", get_segment_subscribers),
    _route("GET", r"/campaigns/(?P<campaign>[^/]+)/summary\.json", get_campaign_summary),
    _route("GET", r"/campaigns/(?P<campaign>[^/]+)/(?P<report>recipients|opens|clicks|bounces|unsubscribes|spam)\.json",
           get_campaign_report),
    _route("GET", r"/campaigns/(?P<campaign>[^/]+)/listsandsegments\.json", get_campaign_lists_and_segments),
    _route("GET", r"/campaigns/(?P<campaign>[^/]+)/emailclientusage\.json", get_email_client_usage),
    _route("GET", r"/journeys/(?P<jid>[^/]+)\.json", get_journey),
    _route("GET", r"/journeys/email/(?P<eid>[^/]+)/(?P<report>recipients|opens|clicks|bounces|unsubscribes)\.json",
           get_journey_email_report),
    _route("GET", r"/systemdate\.json", get_system_date),
    _route("GET", r"/subscribers/(?P<lid>[^/]+)\.json", get_subscriber),
    _route("POST", r"/subscribers/(?P<lid>[^/]+)\.json", add_subscriber, 201),
    _route("POST", r"/subscribers/(?P<lid>[^/]+)/import\.json", import_subscribers, 201),
    _route("POST", r"/subscribers/(?P<lid>[^/]+)/unsubscribe\.json", unsubscribe_subscriber),
]


def _find_route(method: str, path: str) -> tuple[Handler, dict[str, str], int]:
    """The handler, path parameters and success status for a request; 404 for an unknown path, 405 for a
    wrong method."""
    allowed = []
    for route_method, pattern, handler, status in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler, match.groupdict(), status
        if match:
            allowed.append(route_method)
    if allowed:
        raise ApiError(405, 405, f"Method {method} not allowed", {"Allow": ", ".join(sorted(set(allowed)))})
    raise ApiError(404, 404, f"Unknown endpoint: {path}")


def _basic_username(header: str | None) -> str | None:
    """The username of a well-formed HTTP Basic header, else None."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, _ = decoded.partition(":")
    return username if colon else None


def _authenticate(account: Account, header: str | None) -> str | None:
    """Check HTTP Basic auth (API key as username, any password); return the key's client scope
    (None for the administrator key)."""
    api_key = _basic_username(header)
    if api_key is None:
        raise ApiError(401, 50, "Must supply a valid HTTP Basic Authorization header")
    if api_key == account.api_key:
        return None
    client_id = account.client_for_key(api_key)
    if client_id is None:
        raise ApiError(401, 100, "Invalid API key")
    return client_id


# --------------------------------------------------------------------------------------------------
# Fault switches
# --------------------------------------------------------------------------------------------------

RATE_LIMITED = {"Code": 429, "Message": "Rate limit exceeded"}
# X-RateLimit-Limit on a rate_limit() answer while no window limiter is on: the API publishes no limit.
DEFAULT_RATE_LIMIT = 100
# What a proxy or load balancer in front of the API answers when it is not the API answering.
PROXY_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>Bad Gateway</h1>\n<p>The proxy server received an invalid response from an upstream server.</p>\n"
    "<hr><address>proxy at api.createsend.com Port 443</address></body></html>\n"
)
# Addresses inserted while paging start with this, which sorts before every generated address.
INSERTED_PREFIX = "0000-inserted-"


Only = str | re.Pattern[str] | None  # a regex searched in the path after the API base; None: every path


def _pattern(only: Only) -> re.Pattern[str] | None:
    """The regex a fault's `only` gives, searched in the path after the API base; None matches every path."""
    return re.compile(only) if isinstance(only, str) else only


def _counted(count: int, name: str = "count") -> int:
    """A non-negative whole number of requests or rows."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"{name} must be a whole number >= 0, not {count!r}")
    return count


def _seconds_text(seconds: float) -> str:
    """Seconds as a header value: "2" when whole, else a decimal such as "0.5"."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


@dataclass(eq=False)
class _OneShot:
    """A fault armed for the next `left` requests whose path matches `only`."""

    name: str
    left: int
    only: re.Pattern[str] | None
    reply: Reply | None  # sent instead of serving; None for truncate, which serves and then cuts the answer


@dataclass(eq=False)
class _Window:
    """A fixed-window limiter: `limit` requests per `seconds`, a window opening at the first request after
    the last one closed."""

    limit: int
    seconds: float
    start: float = -math.inf
    used: int = 0

    def take(self, now: float) -> tuple[bool, dict[str, str]]:
        """Count a request at `now`: whether it is allowed, and the headers its answer carries."""
        if now >= self.start + self.seconds:
            self.start, self.used = now, 0
        allowed = self.used < self.limit
        self.used += allowed
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - self.used),
            "X-RateLimit-Reset": str(max(1, math.ceil(self.start + self.seconds - now))),
        }
        return allowed, headers


@dataclass(frozen=True)
class _PagingChange:
    """insert_while_paging's plan: what to change once page `after_page` of `path` has been served."""

    path: str
    list_id: str
    state: str
    after_page: int
    count: int
    remove: int


@dataclass(frozen=True)
class _Admission:
    """What the faults decided for one request as it arrived."""

    fault: str | None = None  # the switch answering it, as recorded
    reply: Reply | None = None  # answer this instead of serving
    delay: float = 0.0  # wait this long first
    headers: dict[str, str] = field(default_factory=dict)  # add these to the served answer


NO_FAULT = _Admission()


@dataclass(eq=False)
class Faults:
    """Fault switches of one sandbox, flipped by tests at run time, between or during requests.

    The one-shot switches (rate_limit, server_error, truncate, garbage, reset_connection) each take the
    next `count` requests whose path after the API base (e.g. "/lists/abc/active.json") the regex `only`
    is found in (`re.search`; None: every path). Requests take them in arrival order, and one armed
    earlier comes first: rate_limit(1) then server_error(1) answers 429, then 500, then serves. Every
    request is still recorded in `Sandbox.requests`, with `fault` naming the switch that answered it.
    rate_limit, server_error, garbage and reset_connection answer in place of the API (nothing is read or
    written); truncate serves the request (a write lands) and cuts the answer short.

    `latency` delays every matching request, faulted or not; `rate_limit_window` is a real limiter in
    front of everything, checked before the one-shot switches (a request it refuses takes none of them);
    `insert_while_paging` changes a list behind a sync's back. `inserted`, `removed` and
    `rate_limited_count` record what happened and survive `clear()`, which only turns the switches off.

    `armed` is the one attribute the request path looks at when nothing is switched on.
    """

    clock: Callable[[], float] = time.monotonic  # the limiter's clock; tests replace it rather than sleep
    rate_limited_count: int = 0  # 429s answered, by rate_limit() and by the window limiter
    inserted: list[str] = field(default_factory=list)  # addresses insert_while_paging added, in order
    removed: list[str] = field(default_factory=list)  # addresses it moved off the pages already served
    armed: bool = field(default=False, init=False)
    _one_shots: list[_OneShot] = field(default_factory=list, init=False, repr=False)
    _latency: tuple[float, re.Pattern[str] | None] | None = field(default=None, init=False, repr=False)
    _paging: _PagingChange | None = field(default=None, init=False, repr=False)
    _window: _Window | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # ---- switches -------------------------------------------------------------------------------

    def rate_limit(self, count: int, reset_seconds: float | None = 1, only: Only = None) -> None:
        """The next `count` matching requests answer 429 Code 429, with X-RateLimit-Limit, -Remaining: 0
        and -Reset: `reset_seconds`, or with no rate-limit headers at all when it is None."""
        headers = {}
        if reset_seconds is not None:
            if reset_seconds < 0:
                raise ValueError(f"reset_seconds must be >= 0, not {reset_seconds!r}")
            headers = {
                "X-RateLimit-Limit": str(DEFAULT_RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": _seconds_text(reset_seconds),
            }
        self._arm("rate_limit", count, only, Reply(429, RATE_LIMITED, headers, fault="rate_limit"))

    def server_error(self, count: int, status: int = 500, only: Only = None) -> None:
        """The next `count` matching requests answer `status` (5xx) with {"Code": status, "Message": its
        reason}, e.g. {"Code": 500, "Message": "Internal Server Error"}."""
        if isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599:
            raise ValueError(f"status must be a 5xx HTTP status, not {status!r}")
        payload = {"Code": status, "Message": HTTP_REASONS.get(status, "Server Error")}
        self._arm("server_error", count, only, Reply(status, payload, fault="server_error"))

    def truncate(self, count: int, only: Only = None) -> None:
        """The next `count` matching requests are served, but the answer stops after half its body (the
        Content-Length header still gives the full size) and the connection is closed."""
        self._arm("truncate", count, only, None)

    def garbage(self, count: int, only: Only = None) -> None:
        """The next `count` matching requests answer 200 with a text/html proxy error page."""
        self._arm("garbage", count, only, Reply(200, PROXY_ERROR_PAGE, fault="garbage"))

    def reset_connection(self, count: int, only: Only = None) -> None:
        """The next `count` matching requests get no answer: the connection is closed."""
        self._arm("reset_connection", count, only, Reply(0, None, fault="reset_connection"))

    def latency(self, seconds: float, only: Only = None) -> None:
        """Every matching request waits `seconds` before it is answered, holding no lock, so concurrent
        requests wait side by side; latency(0) turns it off. It replaces any latency set before."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, not {seconds!r}")
        with self._lock:
            self._latency = (float(seconds), _pattern(only)) if seconds else None
            self._update()

    def insert_while_paging(
        self, list_id: str, state: str = "Active", after_page: int = 1, count: int = 1, remove: int = 0
    ) -> None:
        """Once page `after_page` of GET /lists/{list_id}/{state}.json has been served (200, not faulted),
        add `count` new subscribers to that list and state whose addresses ("0000-inserted-1@example.com",
        …) sort before every existing one, so every later page in email order shifts forward; and move
        `remove` rows that were on the pages served so far (the first ones in that request's order) to
        Unsubscribed (Deleted when paging Unsubscribed) with the account's date, which shifts later pages
        back. Fires once; `inserted` and `removed` then list the addresses."""
        name = state.capitalize()
        if name not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        if _counted(after_page, "after_page") < 1:
            raise ValueError("after_page must be >= 1")
        path = f"/lists/{list_id}/{name.lower()}.json"
        change = _PagingChange(path, list_id, name, after_page, _counted(count), _counted(remove, "remove"))
        with self._lock:
            self._paging = change
            self._update()

    def rate_limit_window(self, limit: int | None, per_seconds: float = 1.0) -> None:
        """A limiter of `limit` requests per `per_seconds` window, by `clock`: every answer carries
        X-RateLimit-Limit, -Remaining and -Reset (whole seconds until the window closes, at least 1), and a
        request beyond the limit answers 429 with them. None turns it off; a new call starts afresh."""
        if limit is not None and _counted(limit, "limit") < 1:
            raise ValueError("limit must be >= 1 (or None to turn the limiter off)")
        if not per_seconds > 0:
            raise ValueError(f"per_seconds must be > 0, not {per_seconds!r}")
        with self._lock:
            self._window = None if limit is None else _Window(limit, float(per_seconds))
            self._update()

    def clear(self) -> None:
        """Turn every switch off; what they recorded (inserted, removed, rate_limited_count) stays."""
        with self._lock:
            self._one_shots = []
            self._latency = self._paging = self._window = None
            self._update()

    def _arm(self, name: str, count: int, only: Only, reply: Reply | None) -> None:
        """Queue a one-shot fault behind those armed before it."""
        shot = _OneShot(name, _counted(count), _pattern(only), reply)
        with self._lock:
            if shot.left:
                self._one_shots.append(shot)
            self._update()

    def _update(self) -> None:
        """Recompute `armed`; called holding the lock after any change."""
        self.armed = bool(self._one_shots or self._latency or self._paging or self._window)

    # ---- the request path -----------------------------------------------------------------------

    def admit(self, path: str) -> _Admission:
        """Decide, as a request for `path` arrives, which fault answers it, how long it waits and which
        headers its answer gets; a one-shot fault it takes is used up."""
        with self._lock:
            delay = 0.0
            if self._latency is not None and (self._latency[1] is None or self._latency[1].search(path)):
                delay = self._latency[0]
            headers: dict[str, str] = {}
            if self._window is not None:
                allowed, headers = self._window.take(self.clock())
                if not allowed:
                    self.rate_limited_count += 1
                    reply = Reply(429, RATE_LIMITED, headers, fault="rate_limit_window")
                    return _Admission("rate_limit_window", reply, delay)
            for shot in self._one_shots:
                if shot.only is None or shot.only.search(path):
                    shot.left -= 1
                    if not shot.left:
                        self._one_shots.remove(shot)
                        self._update()
                    self.rate_limited_count += shot.name == "rate_limit"
                    return _Admission(shot.name, shot.reply, delay, {} if shot.reply else headers)
            return _Admission(None, None, delay, headers) if delay or headers else NO_FAULT

    def served(self, account: Account, method: str, path: str, query: dict[str, str], status: int) -> None:
        """After a request was answered without a fault, and before the answer goes out (so before the
        client can ask for the next page): fire insert_while_paging if this was its page. `query` is
        the one the handler saw (_given_query)."""
        change = self._paging
        if change is None or path != change.path or method != "GET" or status != 200:
            return
        if int(query.get("page", 1)) != change.after_page:  # a 200 means page was a valid number
            return
        with self._lock:
            if self._paging is not change:  # another request fired it, or it was switched off
                return
            self._paging = None
            self._update()
            first_number = len(self.inserted) + 1
        with account.lock:
            inserted, removed = _change_while_paging(account, change, query, first_number)
        with self._lock:
            self.inserted += inserted
            self.removed += removed


def _change_while_paging(
    account: Account, change: _PagingChange, query: dict[str, str], first_number: int
) -> tuple[list[str], list[str]]:
    """Carry out insert_while_paging on the account (holding its lock): the addresses inserted and removed.
    Rows and lists are replaced, never edited, as every write does."""
    members = account.subscribers[change.list_id]
    rows = members[change.state]
    spec = _page_spec(query, SUBSCRIBER_ORDER)
    since = _date_param(query, "date", SINCE_FORMATS) or None
    served = _ordered_members(account, change.list_id, change.state, spec, since)[: change.after_page * spec.size]
    gone = served[: change.remove]
    gone_ids = {id(row) for row in gone}
    now = account.system_date
    taken = {row["EmailAddress"].casefold() for state_rows in members.values() for row in state_rows}
    lowest = min((row["EmailAddress"].casefold() for row in rows), default=None)
    new_rows: list[dict] = []
    number = first_number
    while len(new_rows) < change.count:
        email = _first_address(number, lowest)
        if email.casefold() not in taken:
            new_rows.append({**_new_row(email, now), "Name": f"Inserted {number}", "State": change.state})
        number += 1
    target = "Deleted" if change.state == "Unsubscribed" else "Unsubscribed"
    members[change.state] = new_rows + [row for row in rows if id(row) not in gone_ids]
    members[target] = members[target] + [{**row, "State": target, "Date": now} for row in gone]
    return [row["EmailAddress"] for row in new_rows], [row["EmailAddress"] for row in gone]


def _first_address(number: int, lowest: str | None) -> str:
    """An address that sorts (case-folded) before `lowest`: "0000-inserted-N@example.com", or when some
    address already sorts before that, one made of "!" (the lowest character an address can hold) up to
    where `lowest` has its "@"."""
    email = f"{INSERTED_PREFIX}{number}@example.com"
    if lowest is None or email.casefold() < lowest:
        return email
    return "!" * (lowest.index("@") + 1) + f"inserted-{number}@example.com"


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """An answer before it is encoded: JSON (no body at all for a payload of None), unless a fault says
    how to mangle or replace it."""

    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    # None for an ordinary answer; "truncate" sends half the body, "garbage" sends payload (text) as HTML,
    # "reset_connection" sends nothing; any other fault name is an ordinary JSON answer.
    fault: str | None = None


JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into Sandbox.handle calls and encodes the replies as UTF-8 JSON."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait between them
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line: benchmarks send thousands."""

    def _dispatch(self) -> None:
        """Answer any method; the body is always read in full so the connection stays usable."""
        sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = self.server.sandbox.handle(self.command, self.path, self.headers.get("Authorization"), sent)
        if reply.fault is not None:
            self._send_fault(reply)
            return
        body = _json_bytes(reply.payload)
        self._send_head(reply, JSON_CONTENT_TYPE, len(body))
        self.wfile.write(body)

    def _send_head(self, reply: Reply, content_type: str, length: int) -> None:
        """Status line and headers."""
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_fault(self, reply: Reply) -> None:
        """Send what a fault makes of the answer. Only truncate and reset_connection end the connection;
        every other answer is whole, so keep-alive goes on."""
        if reply.fault == "reset_connection":
            self.close_connection = True  # the server closes the socket; not a byte was sent
            return
        if reply.fault == "garbage":
            page = str(reply.payload).encode("utf-8")
            self._send_head(reply, "text/html; charset=utf-8", len(page))
            self.wfile.write(page)
            return
        body = _json_bytes(reply.payload)
        self._send_head(reply, JSON_CONTENT_TYPE, len(body))
        if reply.fault == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


def _json_bytes(payload: Any) -> bytes:
    """A payload as compact UTF-8 JSON (non-ASCII as is, not \\u escapes); None is no body at all."""
    if payload is None:
        return b""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Server(ThreadingHTTPServer):
    """A threading server that knows its sandbox; its threads never block shutdown."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sandbox: Sandbox):
        super().__init__(address, _RequestHandler)
        self.sandbox = sandbox


# How often the serving thread looks for stop(); the default 0.5 s made every stop() take that long.
SHUTDOWN_POLL_SECONDS = 0.05


class Sandbox:
    """Serves an Account on 127.0.0.1 in a background thread; use as a context manager or start()/stop()."""

    def __init__(self, account: Account, port: int = 0):
        self.account = account
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.faults = Faults()
        self._requests_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def api_key(self) -> str:
        """The administrator key, which sees every client."""
        return self.account.api_key

    @property
    def base_url(self) -> str:
        """The API base of the running server, e.g. http://127.0.0.1:54321/api/v3.3."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    def start(self) -> Sandbox:
        """Bind (port 0 picks a free one) and serve in a daemon thread."""
        self._server = _Server(("127.0.0.1", self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="cm-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handle(self, method: str, target: str, authorization: str | None, body: bytes = b"") -> Reply:
        """Record the request with its query as sent, then route, authenticate and run its handler
        under the account's lock with the query as _given_query() makes it (an empty parameter is one
        not sent); when a fault switch is on, let the faults have their say first."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        sent = dict(parse_qsl(parts.query, keep_blank_values=True))  # recorded as sent, `date=` included
        query = _given_query(sent)
        in_api = path.startswith(API_PREFIX + "/")
        api_path = path[len(API_PREFIX):] if in_api else path
        document = _decode_body(body)
        if self.faults.armed:
            return self._handle_with_faults(method, path, in_api, api_path, sent, query, authorization, document)
        with self._requests_lock:
            self.requests.append(RecordedRequest(method, api_path, sent, document))
        return self._serve(method, path, in_api, api_path, query, authorization, document)

    def _handle_with_faults(
        self, method: str, path: str, in_api: bool, api_path: str, sent: dict[str, str], query: dict[str, str],
        authorization: str | None, document: Any,
    ) -> Reply:
        """handle() while a fault switch is on: decide and record (the query as `sent`) in one step, so
        requests take faults in the order they are recorded; wait (holding no lock); then answer as the
        fault says."""
        with self._requests_lock:
            admission = self.faults.admit(api_path)
            self.requests.append(RecordedRequest(method, api_path, sent, document, admission.fault))
        if admission.delay:
            time.sleep(admission.delay)
        if admission.reply is not None:
            return admission.reply
        reply = self._serve(method, path, in_api, api_path, query, authorization, document)
        if admission.fault is None:
            self.faults.served(self.account, method, api_path, query, reply.status)
        else:  # truncate
            reply = replace(reply, fault=admission.fault)
        if admission.headers:
            reply = replace(reply, headers={**reply.headers, **admission.headers})
        return reply

    def _serve(
        self, method: str, path: str, in_api: bool, api_path: str, query: dict[str, str],
        authorization: str | None, document: Any,
    ) -> Reply:
        """Route, authenticate and run the handler, with the query _given_query() made, under the
        account's lock."""
        try:
            if not in_api:
                raise ApiError(404, 404, f"Unknown endpoint: {path}")
            handler, params, status = _find_route(method, api_path)
            scope = _authenticate(self.account, authorization)
            with self.account.lock:
                return Reply(status, handler(ApiRequest(self.account, scope, params, query, document)))
        except ApiError as error:
            return Reply(error.status, error.payload(), error.headers)


def _decode_body(raw: bytes) -> Any:
    """A request body as UTF-8 JSON; None when empty or undecodable, and handlers that need one say so."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:  # also UnicodeDecodeError
        return None


def main(argv: list[str] | None = None) -> None:
    """Run a sandbox in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Serve a generated Campaign Monitor v3.3 account locally.")
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (default: a free one)")
    parser.add_argument("--subscribers", type=int, default=3000, help="total subscriber rows (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated account (default 7)")
    parser.add_argument("--clients", type=int, default=2, help="number of clients (default 2)")
    parser.add_argument("--lists-per-client", type=int, default=3, help="lists of each client, at least 2 (default 3)")
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="wait this long before every answer (default 0)"
    )
    parser.add_argument(
        "--rate-limit", type=int, default=None, metavar="N",
        help="allow N requests per second and answer 429 beyond (default: no limit)",
    )
    args = parser.parse_args(argv)
    try:
        account = generate_account(
            seed=args.seed, clients=args.clients, lists_per_client=args.lists_per_client, subscribers=args.subscribers
        )
    except ValueError as error:
        parser.error(str(error))
    sandbox = Sandbox(account, port=args.port)
    try:
        sandbox.faults.latency(args.latency)
        if args.rate_limit is not None:
            sandbox.faults.rate_limit_window(args.rate_limit, per_seconds=1.0)
    except ValueError as error:
        parser.error(str(error))
    with sandbox:
        print(f"base URL: {sandbox.base_url}", flush=True)
        print(f"API key:  {sandbox.api_key}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
