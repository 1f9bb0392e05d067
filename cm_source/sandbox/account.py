"""What the sandbox serves: an Account of API-shaped dicts, and the facts its generator and its server
share (the date form, the ID form, the email order, how segment rules select subscribers)."""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from ..api_facts import SUBSCRIBER_STATES

STATES = SUBSCRIBER_STATES  # a list's five states, in the API's order
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# The account's "now": fixed, so that the generated data never depends on the wall clock.
SYSTEM_DATE = datetime(2024, 7, 15, 9, 30)
CAMPAIGN_REPORTS = ("recipients", "opens", "clicks", "bounces", "unsubscribes", "spam")
JOURNEY_REPORTS = ("recipients", "opens", "clicks", "bounces", "unsubscribes")


def stamp(moment: datetime) -> str:
    """The API's date form: local time, no offset (isoformat is DATE_FORMAT, and much faster than strftime)."""
    return moment.isoformat(sep=" ", timespec="seconds")


def new_id(rng: random.Random, length: int) -> str:
    """A random lower-case hex string, the form of every Campaign Monitor ID and API key."""
    return f"{rng.getrandbits(4 * length):0{length}x}"


def by_email(row: dict) -> tuple[str, str]:
    """Case-insensitive email order, the API's; also the tie-break that keeps every other order stable."""
    email = row["EmailAddress"]
    return email.casefold(), email


def matches_rules(row: dict, rule_groups: list[dict]) -> bool:
    """Whether a subscriber row meets a segment's rules: every group, through any one of its rules."""
    return all(any(_meets(row, rule["RuleType"], rule["Clause"]) for rule in group["Rules"]) for group in rule_groups)


def _meets(row: dict, rule_type: str, clause: str) -> bool:
    """One segment rule; only the kinds of segment_details.json (which the generator uses) are understood."""
    operator, _, operand = clause.partition(" ")
    if rule_type == "EmailAddress" and operator == "CONTAINS":
        return operand.casefold() in row["EmailAddress"].casefold()
    if rule_type == "Name" and operator == "PROVIDED":
        return bool(row["Name"])
    raise ValueError(f"unsupported segment rule: {rule_type} {clause}")


@dataclass(eq=False)
class Derived:
    """What the server works out from an account's rows and keeps, under the account's lock. Each entry
    holds the very list it was made from and is used only while that list is still the one stored
    (`is`), so replacing a list invalidates it."""

    # Sorted (and date-filtered) list-states, least recently used first: see paging.ordered_members.
    orders: OrderedDict = field(default_factory=OrderedDict)
    # Per list, where each address is stored: see writes.member_index.
    member_indexes: dict = field(default_factory=dict)
    # Per client, its suppression list and the set of its case-folded addresses: see writes.
    suppressed: dict = field(default_factory=dict)


@dataclass
class Account:
    """Everything the sandbox serves, as PascalCase dicts shaped exactly like API responses.

    `subscribers[list_id]` holds the five STATES, each row in the list of its own State and no address
    (case-folded) twice in a list, as the generator makes them and every write keeps them (a write to a
    list that breaks this is refused with a ValueError).

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

    Who works in it (the fields of the samples administrators.json and people.json):

    - `administrators`: GET /admins.json, `[{"EmailAddress", "Name", "Status"}]`, only for the
      administrator key; Status "Active", or "Invited" for one not yet accepted.
    - `people[client_id]`: GET /clients/{cid}/people.json, `[{"EmailAddress", "Name", "Status",
      "AccessLevel"}]`, AccessLevel an int (a bit mask: docs/tables.md).
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
    administrators: list[dict] = field(default_factory=list)
    people: dict[str, list[dict]] = field(default_factory=dict)
    # Per client, its transactional email (smart emails, groups, the timeline): see transactional.Transactional.
    transactional: dict = field(default_factory=dict)
    # Every handler runs holding it, so a read never sees a write half done. Writes replace rows and
    # lists rather than changing them in place, because replies are encoded after the lock is released,
    # and because `derived` tells a list that changed by its identity.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    derived: Derived = field(default_factory=Derived, init=False, repr=False, compare=False)

    def client_for_key(self, api_key: str) -> str | None:
        """The client whose own API key this is, if any."""
        for client_id, details in self.client_details.items():
            if details["ApiKey"] == api_key:
                return client_id
        return None

    def list_owner(self, list_id: str) -> str | None:
        """The client a list belongs to; list rows do not carry it."""
        return _owner(self.lists, "ListID", list_id)

    def campaign_owner(self, campaign_id: str) -> str | None:
        """The client a sent campaign belongs to (only sent campaigns have reports)."""
        return _owner(self.campaigns, "CampaignID", campaign_id)

    def segment_owner(self, segment_id: str) -> str | None:
        """The client a segment belongs to."""
        return _owner(self.segments, "SegmentID", segment_id)

    def journey_owner(self, journey_id: str) -> str | None:
        """The client a journey belongs to."""
        return _owner(self.journeys, "JourneyID", journey_id)

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
        return [row for row in rows if matches_rules(row, details["RuleGroups"])]

    def segment_detail(self, segment_id: str) -> dict:
        """GET /segments/{sid}.json as served now: the stored details with ActiveSubscribers recounted."""
        return {**self.segment_details[segment_id], "ActiveSubscribers": len(self.segment_members(segment_id))}


def _owner(by_client: dict[str, list[dict]], key: str, value: str) -> str | None:
    """The client whose rows include one with `key` equal to `value`."""
    for client_id, rows in by_client.items():
        if any(row[key] == value for row in rows):
            return client_id
    return None
