"""The GET handlers: clients and their collections, the account's administrators, sent campaigns,
suppressions, lists, list stats, subscribers by state, segments, campaign and journey reports, webhooks
and the system date. (GET /subscribers/{lid}.json, one subscriber, is with the writes, whose address index
it uses.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from .account import DATE_FORMAT
from .messages import ApiError, ApiRequest
from .paging import (
    CAMPAIGN_EVENT_ORDER,
    CAMPAIGN_ORDER,
    CAMPAIGN_RECIPIENT_ORDER,
    JOURNEY_EVENT_ORDER,
    JOURNEY_RECIPIENT_ORDER,
    SUBSCRIBER_ORDER,
    SUPPRESSION_ORDER,
    PageSpec,
    date_param,
    flag,
    on_or_after,
    ordered_members,
    paged,
    since_param,
)

# The API's documentation gives no Code for an unknown campaign, segment, journey or journey email; these
# are the sandbox's choice, answered with 400 like an unknown list (101). As for lists, an ID belonging to
# a client the key may not see is answered as unknown.
INVALID_LIST = (101, "Invalid ListID")
INVALID_CAMPAIGN = (301, "Invalid CampaignID")
INVALID_SEGMENT = (302, "Invalid SegmentID")
INVALID_JOURNEY = (380, "Invalid JourneyID")
INVALID_JOURNEY_EMAIL = (381, "Invalid EmailID")


def client_in_path(request: ApiRequest) -> str:
    """The path's client ID if it exists and the key may see it; the API answers 401 102 for both."""
    value = request.params["cid"]
    if value not in request.account.client_details or request.scope not in (None, value):
        raise ApiError(401, 102, "Invalid ClientID")
    return value


def _owned(request: ApiRequest, param: str, owner: Callable[[str], str | None], invalid: tuple[int, str]) -> str:
    """The path's ID if it exists and its client is one the key may see, else 400 with `invalid`."""
    value = request.params[param]
    owning_client = owner(value)
    if owning_client is None or request.scope not in (None, owning_client):
        raise ApiError(400, *invalid)
    return value


def list_in_path(request: ApiRequest) -> str:
    """The path's list ID if it exists and belongs to a client the key may see, else 400 101."""
    return _owned(request, "lid", request.account.list_owner, INVALID_LIST)


def _campaign_id(request: ApiRequest) -> str:
    """The path's sent campaign, else 400 301."""
    return _owned(request, "campaign", request.account.campaign_owner, INVALID_CAMPAIGN)


def _account_key_only(request: ApiRequest, reading: str) -> None:
    """The account's own data is the administrator key's: a client's key is answered 401 Code 100."""
    if request.scope is not None:
        raise ApiError(401, 100, f"Invalid API key: a client API key cannot {reading}")


def get_clients(request: ApiRequest) -> list[dict]:
    """GET /clients.json: only the administrator key may list clients."""
    _account_key_only(request, "list clients")
    return request.account.clients


def get_administrators(request: ApiRequest) -> list[dict]:
    """GET /admins.json: the account's administrators, for the administrator key only."""
    _account_key_only(request, "list the account's administrators")
    return request.account.administrators


def get_client_details(request: ApiRequest) -> dict:
    """GET /clients/{cid}.json."""
    return request.account.client_details[client_in_path(request)]


def get_client_collection(request: ApiRequest) -> list[dict]:
    """GET /clients/{cid}/{scheduled,drafts,lists,segments,templates,tags,journeys,people}.json: bare,
    unpaged arrays."""
    return getattr(request.account, request.params["collection"])[client_in_path(request)]


def get_sent_campaigns(request: ApiRequest) -> dict:
    """GET /clients/{cid}/campaigns.json: paged, newest first; sentfromdate/senttodate bound SentDate's day."""
    rows = request.account.campaigns[client_in_path(request)]
    since = date_param(request.query, "sentfromdate", ("%Y-%m-%d",))
    until = date_param(request.query, "senttodate", ("%Y-%m-%d",))
    if since or until:
        rows = [
            row
            for row in rows
            if (not since or row["SentDate"][:10] >= since[:10]) and (not until or row["SentDate"][:10] <= until[:10])
        ]
    return paged(rows, request.query, CAMPAIGN_ORDER)


def get_suppression_list(request: ApiRequest) -> dict:
    """GET /clients/{cid}/suppressionlist.json: paged, by email or date."""
    return paged(request.account.suppression_list[client_in_path(request)], request.query, SUPPRESSION_ORDER)


def get_list_details(request: ApiRequest) -> dict:
    """GET /lists/{lid}.json."""
    return request.account.list_details[list_in_path(request)]


def get_custom_fields(request: ApiRequest) -> list[dict]:
    """GET /lists/{lid}/customfields.json."""
    return request.account.custom_fields[list_in_path(request)]


STATS_COUNTERS = (
    ("TotalActiveSubscribers", "NewActiveSubscribers", "Active"),
    ("TotalUnsubscribes", "Unsubscribes", "Unsubscribed"),
    ("TotalDeleted", "Deleted", "Deleted"),
    ("TotalBounces", "Bounces", "Bounced"),
)


def get_list_stats(request: ApiRequest) -> dict:
    """GET /lists/{lid}/stats.json: totals per state and how many rows entered it in each recent window
    of the account's system date (week from Monday)."""
    members = request.account.subscribers[list_in_path(request)]
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


def _subscriber_view(query: dict[str, str]) -> Callable[[dict], dict]:
    """Shape a stored subscriber for a page: the consent and SMS fields only when the query asks for them
    (includetrackingpreference, includesmspreference)."""
    tracking, sms = flag(query, "includetrackingpreference"), flag(query, "includesmspreference")

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


def get_subscribers(request: ApiRequest) -> dict:
    """GET /lists/{lid}/{state}.json for all five states: paged, filtered to Date >= `date`."""
    account = request.account
    list_id = list_in_path(request)
    state = request.params["state"].capitalize()
    since = since_param(request.query)

    def ordered(spec: PageSpec) -> list[dict]:
        return ordered_members(account, list_id, state, spec, since)

    rows = account.subscribers[list_id][state]
    return paged(rows, request.query, SUBSCRIBER_ORDER, _subscriber_view(request.query), ordered)


def get_system_date(request: ApiRequest) -> dict:
    """GET /systemdate.json: the account's fixed local "now"."""
    return {"SystemDate": request.account.system_date}


def get_campaign_summary(request: ApiRequest) -> dict:
    """GET /campaigns/{id}/summary.json."""
    return request.account.campaign_summaries[_campaign_id(request)]


def get_campaign_report(request: ApiRequest) -> dict:
    """GET /campaigns/{id}/{recipients,opens,clicks,bounces,unsubscribes,spam}.json: paged; recipients by
    email (no `date`), the others by date with a `date` filter (on or after)."""
    report = request.params["report"]
    rows = request.account.campaign_reports[_campaign_id(request)][report]
    if report == "recipients":
        return paged(rows, request.query, CAMPAIGN_RECIPIENT_ORDER)
    return paged(on_or_after(rows, request.query), request.query, CAMPAIGN_EVENT_ORDER)


def get_campaign_lists_and_segments(request: ApiRequest) -> dict:
    """GET /campaigns/{id}/listsandsegments.json."""
    return request.account.campaign_lists_and_segments[_campaign_id(request)]


def get_email_client_usage(request: ApiRequest) -> list[dict]:
    """GET /campaigns/{id}/emailclientusage.json."""
    return request.account.email_client_usage[_campaign_id(request)]


def get_segment_details(request: ApiRequest) -> dict:
    """GET /segments/{sid}.json: ActiveSubscribers counts the members served by its active.json now."""
    return request.account.segment_detail(_owned(request, "sid", request.account.segment_owner, INVALID_SEGMENT))


def get_segment_subscribers(request: ApiRequest) -> dict:
    """GET /segments/{sid}/active.json: the segment's members, paged and shaped as a list's Active ones."""
    segment_id = _owned(request, "sid", request.account.segment_owner, INVALID_SEGMENT)
    rows = on_or_after(request.account.segment_members(segment_id), request.query)
    return paged(rows, request.query, SUBSCRIBER_ORDER, _subscriber_view(request.query))


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
        return paged(on_or_after(rows, request.query, "SentDate"), request.query, JOURNEY_RECIPIENT_ORDER)
    return paged(on_or_after(rows, request.query), request.query, JOURNEY_EVENT_ORDER)


def get_webhooks(request: ApiRequest) -> list[dict]:
    """GET /lists/{lid}/webhooks.json."""
    return request.account.webhooks[list_in_path(request)]
