"""The catalogue: one row per table the source loads, and everything that is particular to a table.

Adding a table is adding a row here; ``source.py`` builds every resource from these rows and
``rows.py`` shapes every page by them, with no table named anywhere else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..api_facts import STATISTICS_DAYS, SUBSCRIBER_PARAMS, SUBSCRIBER_STATES


class Shape(Enum):
    """How the API answers."""

    ARRAY = "array"  # a bare JSON array
    PAGED = "paged"  # a v3.3 paged envelope
    OBJECT = "object"  # one object: one row, or the array found under ``rows_at``
    TIMELINE = "timeline"  # the transactional timeline: bare arrays paged by message ID


class Sync(Enum):
    """How an incremental run reads a table; a full refresh (the default) reads every table in full."""

    IN_FULL = "in_full"  # in full every run (one or a few requests)
    STATE_CHANGES = "state_changes"  # a list's subscribers in one state, from the list's cursor, leavers removed
    NEW_EVENTS = "new_events"  # events appended from a cursor per parent
    ONCE = "once"  # read once per parent, then kept
    RECENT = "recent"  # re-read for recently sent campaigns, else kept
    TIMELINE = "timeline"  # messages sent after the newest loaded, and those sent recently again, merged by key


TRANSACTIONAL = "transactional email"  # a feature an account may not have (see Endpoint.feature)
ADMINISTRATORS = "the account's administrators"  # the account's own key reads them; a client's key is refused

# Report events oldest first: events arriving during the read land on the last page, not mid-read.
EVENT_PARAMS: Mapping[str, str] = {"orderfield": "date", "orderdirection": "asc"}


@dataclass(frozen=True)
class Each:
    """One request per row of another listing, that row's ``field`` sent as the query parameter
    ``param`` and stamped on the answer's row as ``stamp_as`` (the answer does not say what it is for)."""

    path: str
    params: Mapping[str, str]
    field: str
    param: str
    stamp_as: str


@dataclass(frozen=True)
class RowZones:
    """Where a table's times take their zone from beyond the client's (the default): a field naming the
    zone of the tables read under each row (a client's ``TimeZone``), and timestamps that name their own
    (a scheduled campaign's ``DateScheduled`` in ``ScheduledTimeZone``)."""

    for_children: str = ""
    per_timestamp: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AskedPerListing:
    """An object endpoint asked once per row of other listings instead of once (transactional statistics,
    per smart email and per group), over the last ``window_days`` days up to the account's today."""

    listings: tuple[Each, ...]
    window_days: int = 0


@dataclass(frozen=True)
class CountedBy:
    """Where a table's rows under a parent are counted before they are read: ``field`` of the parent's row
    (a journey email's ``Clicked``), or of an ``answer`` read under the same parent (a campaign's summary).
    A zero there means the endpoint is empty, and it is not asked (see ``report_counts``)."""

    field: str
    answer: str = ""  # a path read under the same parent (``{CampaignID}`` …); "" for the parent's own row

    def says_empty(self, counts: Any) -> bool:
        """Whether ``counts`` (the parent's row, or the answer) count no rows: a 0, as a number or as the
        numeric string the API sometimes sends; anything else (missing, not a number) counts as some."""
        if not isinstance(counts, Mapping):
            return False
        try:
            return int(counts.get(self.field)) == 0  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False


CAMPAIGN_SUMMARY = "campaigns/{CampaignID}/summary.json"


@dataclass(frozen=True)
class Endpoint:
    """How one table is read: where from, in what shape, its key and what it is read under."""

    table: str
    path: str  # relative to the base URL; {ClientID}, {ListID}, … are the IDs the row is read under
    shape: Shape
    primary_key: tuple[str, ...]  # empty for event rows, which have no natural key
    parent: str | None = None  # the table whose rows this one is read under, one request per row
    hands_down: tuple[str, ...] = ()  # the fields of this table's rows that its children are read under
    campaign_report: bool = False  # read only under campaigns sent on or after ``reports_sent_after``
    details: str = ""  # a GET per row whose answer completes it ({ClientID}, … from the row)
    with_details: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None  # row + that answer -> row
    zones: RowZones = RowZones()  # where times take their zone from, when not only the client's
    rows_at: str = ""  # for an "object" answer: the array in it that holds the rows
    params: Mapping[str, str] = field(default_factory=dict)
    timestamps: tuple[str, ...] = ()  # API fields holding "YYYY-MM-DD HH:MM:SS" local times
    integers: tuple[str, ...] = ()  # fields the API sends as a number or as a numeric string
    always_text: tuple[str, ...] = ()  # text fields the API may leave out; their columns exist regardless
    floats: tuple[str, ...] = ()  # numbers that are sometimes whole: typed so pages agree
    custom_fields: str = ""  # the field holding a list of {Key, Value}: one JSON column, never a child table
    columnar: bool = False  # millions of rows: pages go to dlt as Arrow tables (see columnar.py)
    row_key: tuple[str, ...] = ()  # the API fields that tell rows of a paged read apart (to re-read safely)
    changed_since_param: str = ""  # the filter for rows changed since a time, to catch up after paging
    sync: Sync = Sync.IN_FULL  # how an incremental run reads it (see Sync)
    query_ids: Mapping[str, str] = field(default_factory=dict)  # query parameter → the ID it carries (clientID)
    instants: tuple[str, ...] = ()  # ISO 8601 times with their own offset: that instant in UTC, never the client's zone
    columns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # column hints beyond the derived ones
    feature: str = ""  # refused (401/403) to the key: its rows (for that client) are empty, with one noted line
    asked_per: AskedPerListing | None = None  # asked once per row of other listings, not once
    counted_by: CountedBy | None = None  # the count that says before it is read whether it has rows


def client_with_details(listed: dict[str, Any], details: Any) -> dict[str, Any]:
    """A client's row: its details flattened (contact, country, time zone), billing and access nested,
    and never an API key, which client details carry."""
    blocks = details if isinstance(details, dict) else {}
    basic = without_api_key(blocks.get("BasicDetails"))
    return {
        **listed,
        **basic,
        "ClientID": listed["ClientID"],
        "Name": listed.get("Name") or basic.get("CompanyName"),
        "BillingDetails": without_api_key(blocks.get("BillingDetails")),
        "AccessDetails": without_api_key(blocks.get("AccessDetails")),
    }


def without_api_key(details: Any) -> dict[str, Any]:
    """A details block with any API key left out."""
    return {key: value for key, value in details.items() if key != "ApiKey"} if isinstance(details, dict) else {}


def smart_email_with_details(listed: dict[str, Any], details: Any) -> dict[str, Any]:
    """A smart email's row: the listing's name, status and creation time, with the details' sender,
    subject and email variables flattened beside them (the content itself is left out)."""
    body = details if isinstance(details, dict) else {}
    properties: dict[str, Any] = body["Properties"] if isinstance(body.get("Properties"), dict) else {}
    content: dict[str, Any] = properties["Content"] if isinstance(properties.get("Content"), dict) else {}
    row = {key: value for key, value in listed.items() if key != "ID"}
    return {
        **row,
        "SmartEmailID": listed.get("ID") or body.get("SmartEmailID"),
        "From": properties.get("From"),
        "ReplyTo": properties.get("ReplyTo"),
        "Subject": properties.get("Subject"),
        "EmailVariables": content.get("EmailVariables") or [],
        "InlineCss": content.get("InlineCss"),
        "TextPreviewUrl": properties.get("TextPreviewUrl"),
        "HtmlPreviewUrl": properties.get("HtmlPreviewUrl"),
        "AddRecipientsToList": body.get("AddRecipientsToList"),
    }


def _transactional(
    table: str, path: str, primary_key: tuple[str, ...], shape: Shape = Shape.ARRAY, **more: Any
) -> Endpoint:
    """A transactional table: read under each client, which an agency key must name as ``clientID``."""
    return Endpoint(
        table,
        path,
        shape,
        primary_key,
        parent="clients",
        query_ids={"clientID": "ClientID"},
        feature=TRANSACTIONAL,
        **more,
    )


def _subscribers(table: str, path: str, key: str, parent: str, sync: Sync = Sync.IN_FULL) -> Endpoint:
    return Endpoint(
        table,
        path,
        Shape.PAGED,
        primary_key=(key, "email_address"),
        parent=parent,
        params=SUBSCRIBER_PARAMS,
        sync=sync,
        timestamps=("Date", "ListJoinedDate"),
        row_key=("EmailAddress",),
        changed_since_param="date",
        always_text=("ConsentToTrack", "MobileNumber", "ConsentToSendSms"),
        custom_fields="CustomFields",
        columnar=True,
    )


def _events(
    table: str,
    path: str,
    parent: str,
    counted_by: CountedBy,
    timestamp: str = "Date",
    params: Mapping[str, str] = EVENT_PARAMS,
    campaign_report: bool = False,
) -> Endpoint:
    return Endpoint(
        table,
        path,
        Shape.PAGED,
        primary_key=(),
        parent=parent,
        params=params,
        timestamps=(timestamp,),
        floats=("Latitude", "Longitude"),
        columnar=True,
        campaign_report=campaign_report,
        sync=Sync.NEW_EVENTS,
        counted_by=counted_by,
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    # The account itself
    Endpoint("administrators", "admins.json", Shape.ARRAY, ("email_address",), feature=ADMINISTRATORS),
    # A client
    Endpoint(
        "clients",
        "clients.json",
        Shape.ARRAY,
        primary_key=("client_id",),
        hands_down=("ClientID",),
        details="clients/{ClientID}.json",
        with_details=client_with_details,
        zones=RowZones(for_children="TimeZone"),
    ),
    Endpoint(
        "campaigns",
        "clients/{ClientID}/campaigns.json",
        Shape.PAGED,
        primary_key=("campaign_id",),
        parent="clients",
        hands_down=("CampaignID",),
        timestamps=("SentDate",),
        row_key=("CampaignID",),
    ),
    Endpoint(
        "scheduled_campaigns",
        "clients/{ClientID}/scheduled.json",
        Shape.ARRAY,
        primary_key=("campaign_id",),
        parent="clients",
        timestamps=("DateScheduled", "DateCreated"),
        zones=RowZones(per_timestamp={"DateScheduled": "ScheduledTimeZone"}),
    ),
    Endpoint(
        "draft_campaigns",
        "clients/{ClientID}/drafts.json",
        Shape.ARRAY,
        primary_key=("campaign_id",),
        parent="clients",
        timestamps=("DateCreated",),
    ),
    Endpoint(
        "lists", "clients/{ClientID}/lists.json", Shape.ARRAY, ("list_id",), parent="clients", hands_down=("ListID",)
    ),
    Endpoint(
        "segments",
        "clients/{ClientID}/segments.json",
        Shape.ARRAY,
        ("segment_id",),
        parent="clients",
        hands_down=("ListID", "SegmentID"),
    ),
    Endpoint("templates", "clients/{ClientID}/templates.json", Shape.ARRAY, ("template_id",), parent="clients"),
    Endpoint(
        "suppression_list",
        "clients/{ClientID}/suppressionlist.json",
        Shape.PAGED,
        primary_key=("client_id", "email_address"),
        parent="clients",
        timestamps=("Date",),
        params={"orderfield": "email", "orderdirection": "asc"},
        row_key=("EmailAddress",),
        columnar=True,
    ),
    Endpoint(
        "tags",
        "clients/{ClientID}/tags.json",
        Shape.ARRAY,
        ("client_id", "name"),
        parent="clients",
        integers=("NumberOfCampaigns",),
    ),
    Endpoint(
        "journeys",
        "clients/{ClientID}/journeys.json",
        Shape.ARRAY,
        ("journey_id",),
        parent="clients",
        hands_down=("JourneyID",),
    ),
    Endpoint(
        "people",
        "clients/{ClientID}/people.json",
        Shape.ARRAY,
        ("client_id", "email_address"),
        parent="clients",
        integers=("AccessLevel",),  # a bit mask (docs/tables.md)
    ),
    # A client's transactional email
    _transactional(
        "transactional_smart_emails",
        "transactional/smartEmail",
        ("client_id", "smart_email_id"),
        params={"status": "all"},
        details="transactional/smartEmail/{ID}",
        with_details=smart_email_with_details,
        instants=("CreatedAt",),
        # Flattened from the details, which may leave any of them out: typed, so the columns never
        # depend on the account's data
        always_text=("Name", "Status", "From", "ReplyTo", "Subject", "TextPreviewUrl", "HtmlPreviewUrl"),
        columns={
            "email_variables": {"data_type": "json"},
            "inline_css": {"data_type": "bool", "nullable": True},
            "add_recipients_to_list": {"data_type": "bool", "nullable": True},
        },
    ),
    _transactional(
        "transactional_classic_groups",
        "transactional/classicEmail/groups",
        ("client_id", "group"),
        instants=("CreatedAt",),
    ),
    _transactional(
        "transactional_messages",
        "transactional/messages",
        ("message_id",),
        Shape.TIMELINE,
        params={"status": "all"},
        instants=("SentAt",),
        integers=("TotalOpens", "TotalClicks"),
        always_text=("SmartEmailID", "Group"),
        sync=Sync.TIMELINE,
    ),
    # One row per smart email and per classic group; the one a row is not for is null.
    _transactional(
        "transactional_statistics",
        "transactional/statistics",
        ("client_id", "smart_email_id", "group", "from", "to"),
        Shape.OBJECT,
        params={"timezone": "utc"},
        asked_per=AskedPerListing(
            listings=(
                Each("transactional/smartEmail", {"status": "all"}, "ID", "smartEmailID", "SmartEmailID"),
                Each("transactional/classicEmail/groups", {}, "Group", "group", "Group"),
            ),
            window_days=STATISTICS_DAYS,
        ),
        columns={
            "smart_email_id": {"data_type": "text", "nullable": True},
            "group": {"data_type": "text", "nullable": True},
            "from": {"data_type": "date", "nullable": False},
            "to": {"data_type": "date", "nullable": False},
        },
        integers=("Sent", "Bounces", "Delivered", "Opened", "Clicked"),
    ),
    # A list
    *(
        _subscribers(f"{state}_subscribers", f"lists/{{ListID}}/{state}.json", "list_id", "lists", Sync.STATE_CHANGES)
        for state in (name.lower() for name in SUBSCRIBER_STATES)
    ),
    Endpoint("list_details", "lists/{ListID}.json", Shape.OBJECT, ("list_id",), parent="lists"),
    Endpoint("list_stats", "lists/{ListID}/stats.json", Shape.OBJECT, ("list_id",), parent="lists"),
    Endpoint("list_custom_fields", "lists/{ListID}/customfields.json", Shape.ARRAY, ("list_id", "key"), parent="lists"),
    Endpoint("list_webhooks", "lists/{ListID}/webhooks.json", Shape.ARRAY, ("list_id", "webhook_id"), parent="lists"),
    # A segment
    Endpoint("segment_details", "segments/{SegmentID}.json", Shape.OBJECT, ("segment_id",), parent="segments"),
    _subscribers("segment_subscribers", "segments/{SegmentID}/active.json", "segment_id", "segments"),
    # A sent campaign (only those sent on or after ``reports_sent_after``)
    Endpoint(
        "campaign_summaries",
        CAMPAIGN_SUMMARY,
        Shape.OBJECT,
        ("campaign_id",),
        parent="campaigns",
        campaign_report=True,
        sync=Sync.RECENT,
    ),
    Endpoint(
        "campaign_recipients",
        "campaigns/{CampaignID}/recipients.json",
        Shape.PAGED,
        primary_key=("campaign_id", "list_id", "email_address"),
        parent="campaigns",
        campaign_report=True,
        params={"orderfield": "email", "orderdirection": "asc"},
        row_key=("ListID", "EmailAddress"),
        columnar=True,
        sync=Sync.ONCE,  # recipients do not change after sending
        counted_by=CountedBy("Recipients", CAMPAIGN_SUMMARY),
    ),
    *(
        _events(
            f"campaign_{report}",
            f"campaigns/{{CampaignID}}/{path}.json",
            "campaigns",
            CountedBy(count, CAMPAIGN_SUMMARY),
            campaign_report=True,
        )
        for report, path, count in (
            ("opens", "opens", "TotalOpened"),
            ("clicks", "clicks", "Clicks"),
            ("bounces", "bounces", "Bounced"),
            ("unsubscribes", "unsubscribes", "Unsubscribed"),
            ("spam_complaints", "spam", "SpamComplaints"),
        )
    ),
    Endpoint(
        "campaign_email_client_usage",
        "campaigns/{CampaignID}/emailclientusage.json",
        Shape.ARRAY,
        ("campaign_id", "client", "version"),
        parent="campaigns",
        campaign_report=True,
        sync=Sync.RECENT,
        counted_by=CountedBy("UniqueOpened", CAMPAIGN_SUMMARY),  # the openers, by the email client they read with
    ),
    Endpoint(
        "campaign_lists",
        "campaigns/{CampaignID}/listsandsegments.json",
        Shape.OBJECT,
        ("campaign_id", "list_id"),
        parent="campaigns",
        campaign_report=True,
        rows_at="Lists",
        sync=Sync.RECENT,
    ),
    Endpoint(
        "campaign_segments",
        "campaigns/{CampaignID}/listsandsegments.json",
        Shape.OBJECT,
        ("campaign_id", "segment_id"),
        parent="campaigns",
        campaign_report=True,
        rows_at="Segments",
        sync=Sync.RECENT,
    ),
    # A journey and its emails
    Endpoint(
        "journey_emails",
        "journeys/{JourneyID}.json",
        Shape.OBJECT,
        ("journey_id", "email_id"),
        parent="journeys",
        rows_at="Emails",
        hands_down=("EmailID",),
    ),
    # Journey reports take only a sort direction; they are sorted by date already.
    *(
        _events(
            f"journey_email_{report}",
            f"journeys/email/{{EmailID}}/{report}.json",
            "journey_emails",
            CountedBy(count),  # the journey email's own row counts them
            timestamp="SentDate" if report == "recipients" else "Date",
            params={"orderdirection": "asc"},
        )
        for report, count in (
            ("recipients", "Sent"),
            ("opens", "Opened"),
            ("clicks", "Clicked"),
            ("bounces", "Bounced"),
            ("unsubscribes", "Unsubscribed"),
        )
    ),
)

ENDPOINTS_BY_TABLE: Mapping[str, Endpoint] = {endpoint.table: endpoint for endpoint in ENDPOINTS}
TABLES: tuple[str, ...] = tuple(ENDPOINTS_BY_TABLE)
PARENT_TABLES: frozenset[str] = frozenset(endpoint.parent for endpoint in ENDPOINTS if endpoint.parent)


@functools.cache
def count_fields(path: str) -> tuple[str, ...]:
    """The fields of the answer at ``path`` (a template) that tables count their rows by."""
    return tuple(e.counted_by.field for e in ENDPOINTS if e.counted_by is not None and e.counted_by.answer == path)


def counted_tables(path: str, answer: Mapping[str, Any], among: tuple[str, ...]) -> dict[str, bool]:
    """Table → whether the answer at ``path`` (a template) counts rows for it, for the tables ``among``
    that count by it."""
    return {
        table: not counted.says_empty(answer)
        for table in among
        if (counted := ENDPOINTS_BY_TABLE[table].counted_by) is not None and counted.answer == path
    }


@functools.cache  # asked for every take of a shared answer: once per campaign and table
def answer_readers(path: str, among: tuple[str, ...] = TABLES) -> int:
    """How many of the tables ``among`` read the answer at ``path`` (a template): as their own rows, or
    for the count they take from it. Two or more share it (``shared_answers``)."""
    endpoints = [ENDPOINTS_BY_TABLE[table] for table in among]
    return sum(e.path == path or (e.counted_by is not None and e.counted_by.answer == path) for e in endpoints)


@functools.cache  # asked once per summary fetched for its counts
def read_as_rows(path: str, among: tuple[str, ...] = TABLES) -> bool:
    """Whether one of the tables ``among`` loads the answer at ``path`` (a template) as its own rows."""
    return any(ENDPOINTS_BY_TABLE[table].path == path for table in among)


def read_under(endpoint: Endpoint) -> tuple[str, ...]:
    """The API names of the IDs a table's rows are read under, outermost first (``ClientID``, …)."""
    ids: dict[str, None] = {}
    parent = ENDPOINTS_BY_TABLE[endpoint.parent] if endpoint.parent else None
    if parent is not None:
        ids.update(dict.fromkeys(read_under(parent)))
        ids.update(dict.fromkeys(parent.hands_down))
    return tuple(ids)


def carries_client_id(endpoint: Endpoint) -> bool:
    """Whether a table's rows belong to one client (``client_id``): the clients and every table read under
    them, but not a table of the account itself (its administrators)."""
    return "ClientID" in (*read_under(endpoint), *endpoint.hands_down)


def query_ids(endpoint: Endpoint, ids: Mapping[str, str]) -> dict[str, str]:
    """The query parameters that name the IDs a table is read under (``clientID`` for transactional email)."""
    return {param: ids[name] for param, name in endpoint.query_ids.items()}


def shares_an_earlier_answer(endpoint: Endpoint) -> bool:
    """Whether a table earlier in the catalogue reads the same object answer (asked once for both)."""
    return endpoint.table in _ANSWER_SHARED_EARLIER


_ANSWER_SHARED_EARLIER = frozenset(
    later.table
    for number, later in enumerate(ENDPOINTS)
    if any(other.path == later.path and other.shape is Shape.OBJECT for other in ENDPOINTS[:number])
)
