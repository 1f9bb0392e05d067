"""Transactional email in the sandbox: smart emails, classic groups, the message timeline and statistics.

This corner of the API differs from the rest: answers are bare arrays or objects (no paged envelope),
the timeline is newest first and paged by message ID (``sentBeforeID``/``sentAfterID``, at most 200 a
call, a short page ends it), and times are ISO 8601 with their own offset, not client-local text.
An agency (administrator) key must say ``clientID``; a client's own key may leave it out.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .account import DATE_FORMAT, Account
from .messages import ApiError, ApiRequest

MAX_COUNT = 200
DEFAULT_COUNT = 50
STATUSES = ("Delivered", "Bounced", "Spam")
# The generated clients' zones (generate.CLIENT_PROFILES), as IANA zones: the offsets move with daylight saving.
ZONES = {
    "(GMT+10:00) Canberra, Melbourne, Sydney": "Australia/Sydney",
    "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London": "Europe/London",
    "(GMT-05:00) Eastern Time (US & Canada)": "America/New_York",
    "(GMT+09:00) Osaka, Sapporo, Tokyo": "Asia/Tokyo",
}
SMART_EMAIL_NAMES = ("Welcome email", "Reset password", "Order shipped", "Receipt")
GROUP_NAMES = ("Password Reset", "Credit card expired", "Order shipped")


@dataclass
class Transactional:
    """One client's transactional email. ``messages`` is newest first, as the timeline serves it."""

    smart_emails: list[dict] = field(default_factory=list)  # details, as GET /transactional/smartEmail/{id}
    groups: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    refused: bool = False  # the client may not use transactional email: every call for it answers 401


def stamp(moment: datetime, zone: ZoneInfo) -> str:
    """An instant as the API writes it here: ISO 8601 in the client's zone, with that moment's offset."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def add_transactional(rng: random.Random, account: Account, now: datetime) -> None:
    """Every client but the last gets smart emails, groups and a timeline of several pages (the first a
    long one that crosses daylight-saving changes); the last uses no transactional email at all."""
    for number, client in enumerate(account.clients):
        data = Transactional()
        account.transactional[client["ClientID"]] = data
        if number == len(account.clients) - 1 and number > 0:
            continue
        zone = ZoneInfo(ZONES.get(account.client_details[client["ClientID"]]["BasicDetails"]["TimeZone"], "UTC"))
        for position, name in enumerate(SMART_EMAIL_NAMES):
            created = now - timedelta(days=400 + 30 * position)
            data.smart_emails.append(
                _smart_email(rng, name, stamp(created, zone), "Active" if position < 3 else "Draft")
            )
        data.groups = [
            {"Group": name, "CreatedAt": stamp(now - timedelta(days=500 + k), zone)}
            for k, name in enumerate(GROUP_NAMES)
        ]
        count = 450 if number == 0 else 60
        moment = now - timedelta(minutes=5)
        for _ in range(count):  # newest first: each one sent a little before the last
            data.messages.append(_message(rng, data, stamp(moment, zone)))
            moment -= timedelta(hours=rng.randint(1, 30))


def _smart_email(rng: random.Random, name: str, created: str, status: str) -> dict:
    return {
        "SmartEmailID": str(uuid.UUID(int=rng.getrandbits(128))),
        "Name": name,
        "CreatedAt": created,
        "Status": status,
        "Properties": {
            "From": '"Team" <team@example.com>',
            "ReplyTo": "support@example.com",
            "Subject": f"{name} for [username]",
            "Content": {
                "HTML": "Content managed in Email Builder",
                "Text": "Content managed in Email Builder",
                "EmailVariables": ["username"] + (["reset_token"] if "password" in name.lower() else []),
                "InlineCss": True,
            },
            "TextPreviewUrl": "https://example.createsend.com/t/r-PREVIEW/T",
            "HtmlPreviewUrl": "https://example.createsend.com/t/r-PREVIEW/",
        },
        "AddRecipientsToList": rng.random() < 0.5,
    }


def _message(rng: random.Random, data: Transactional, sent_at: str) -> dict:
    smart = rng.random() < 0.6
    row = {
        "MessageID": str(uuid.UUID(int=rng.getrandbits(128))),
        "Status": rng.choices(STATUSES, weights=(90, 8, 2))[0],
        "SentAt": sent_at,
        "Recipient": f"Person {rng.randint(1, 9999)} <person{rng.randint(1, 9999)}@example.com>",
        "From": "Team <team@example.com>",
        "Subject": "Your receipt" if smart else "Your password has been reset",
        "TotalOpens": rng.randint(0, 5),
        "TotalClicks": rng.randint(0, 3),
        "CanBeResent": True,
    }
    if smart:
        row["SmartEmailID"] = rng.choice(data.smart_emails)["SmartEmailID"]
    elif rng.random() < 0.8:
        row["Group"] = rng.choice(data.groups)["Group"]
    return row


def send_message(account: Account, client_id: str, row: dict) -> None:
    """A new message at the top of the timeline (what an account does between two syncs)."""
    account.transactional[client_id].messages = [row] + account.transactional[client_id].messages


def transactional_activity(
    rng: random.Random, account: Account, start: datetime, minutes: int, sends: int
) -> tuple[dict[str, list[str]], list[str]]:
    """One round on every client that uses transactional email: ``sends`` new messages over the round,
    and one more open on each of its three latest earlier messages. Returns the new message IDs per
    client and the IDs of the messages opened again."""
    sent: dict[str, list[str]] = {}
    opened: list[str] = []
    for client in account.clients:
        data = account.transactional.get(client["ClientID"])
        if data is None or not data.messages:
            continue
        zone = ZoneInfo(ZONES.get(account.client_details[client["ClientID"]]["BasicDetails"]["TimeZone"], "UTC"))
        for earlier in data.messages[:3]:
            earlier["TotalOpens"] += 1
            opened.append(earlier["MessageID"])
        moments = sorted((start + timedelta(seconds=rng.randint(1, minutes * 60)) for _ in range(sends)), reverse=True)
        new = [_message(rng, data, stamp(moment.replace(tzinfo=timezone.utc), zone)) for moment in moments]
        data.messages = new + data.messages
        sent[client["ClientID"]] = [row["MessageID"] for row in new]
    return sent, opened


def _client(request: ApiRequest) -> Transactional:
    """The client the call is for: ``clientID`` (required with the administrator key), else the key's own."""
    wanted = request.query.get("clientid") or request.scope
    if wanted is None:
        raise ApiError(400, 400, "A clientID is required when using an account API key")
    if wanted not in request.account.client_details or request.scope not in (None, wanted):
        raise ApiError(401, 102, "Invalid ClientID")
    data = request.account.transactional.get(wanted, Transactional())
    if data.refused:
        raise ApiError(401, 50, "This client does not have access to transactional email")
    return data


def get_smart_emails(request: ApiRequest) -> list[dict]:
    """GET /transactional/smartEmail?status=all|active|draft: a bare array of {ID, Name, CreatedAt, Status}."""
    status = request.query.get("status", "all").lower()
    if status not in ("all", "active", "draft"):
        raise ApiError(400, 400, "status must be all, active or draft")
    return [
        {"ID": row["SmartEmailID"], "Name": row["Name"], "CreatedAt": row["CreatedAt"], "Status": row["Status"]}
        for row in _client(request).smart_emails
        if status == "all" or row["Status"].lower() == status
    ]


def get_smart_email(request: ApiRequest) -> dict:
    """GET /transactional/smartEmail/{id}: one smart email's details."""
    wanted = request.params["smartid"]
    for data in _visible(request):
        for row in [] if data.refused else data.smart_emails:
            if row["SmartEmailID"] == wanted:
                return row
    raise ApiError(404, 404, f"Smart email {wanted} not found")


def _visible(request: ApiRequest) -> list[Transactional]:
    transactional = request.account.transactional
    return (
        list(transactional.values()) if request.scope is None else [transactional.get(request.scope, Transactional())]
    )


def get_classic_groups(request: ApiRequest) -> list[dict]:
    """GET /transactional/classicEmail/groups: a bare array of {Group, CreatedAt}."""
    return _client(request).groups


def get_messages(request: ApiRequest) -> list[dict]:
    """GET /transactional/messages: the timeline, newest first, at most ``count`` (default 50, at most
    200). ``sentBeforeID`` gives the messages older than that one, ``sentAfterID`` those newer (the ones
    just newer than it, oldest of them last, so that walking back with sentBeforeID from the first of
    them meets it again); ``status``, ``smartEmailID`` and ``group`` filter."""
    data = _client(request)
    query = request.query
    try:
        count = int(query.get("count", DEFAULT_COUNT))
    except ValueError:
        raise ApiError(400, 400, "count must be a number") from None
    if not 1 <= count <= MAX_COUNT:
        raise ApiError(400, 400, f"count must be between 1 and {MAX_COUNT}")
    status = query.get("status", "all").lower()
    rows = [
        row
        for row in data.messages
        if (status == "all" or row["Status"].lower() == status)
        and ("smartemailid" not in query or row.get("SmartEmailID") == query["smartemailid"])
        and ("group" not in query or row.get("Group") == query["group"])
    ]
    ids = [row["MessageID"] for row in rows]
    if "sentbeforeid" in query:
        if query["sentbeforeid"] not in ids:
            raise ApiError(400, 400, "sentBeforeID is not a message of this client")
        return rows[ids.index(query["sentbeforeid"]) + 1 :][:count]
    if "sentafterid" in query:
        if query["sentafterid"] not in ids:
            raise ApiError(400, 400, "sentAfterID is not a message of this client")
        newer = rows[: ids.index(query["sentafterid"])]
        return newer[-count:]
    return rows[:count]


def get_statistics(request: ApiRequest) -> dict:
    """GET /transactional/statistics: {Query, Sent, Bounces, Delivered, Opened, Clicked} over ``from``..``to``
    (ISO dates, default the last 30 days), for one smart email or group, or all of the client's messages.
    Days are UTC days whichever ``timezone`` is asked for: the sandbox's simplification, echoed in Query."""
    data = _client(request)
    query = request.query
    today = datetime.strptime(request.account.system_date, DATE_FORMAT).date()
    start = query.get("from") or (today - timedelta(days=30)).isoformat()
    end = query.get("to") or today.isoformat()
    rows = [
        row
        for row in data.messages
        if start <= _utc_day(row["SentAt"]) <= end
        and ("smartemailid" not in query or row.get("SmartEmailID") == query["smartemailid"])
        and ("group" not in query or row.get("Group") == query["group"])
    ]
    chosen = (
        {"SmartEmailID": query["smartemailid"]}
        if "smartemailid" in query
        else ({"Group": query["group"]} if "group" in query else {})
    )
    return {
        "Query": {
            **chosen,
            "From": start,
            "To": end,
            "TimeZone": "UTC" if query.get("timezone") == "utc" else "client",
        },
        "Sent": len(rows),
        "Bounces": sum(row["Status"] == "Bounced" for row in rows),
        "Delivered": sum(row["Status"] == "Delivered" for row in rows),
        "Opened": sum(row["TotalOpens"] > 0 for row in rows),
        "Clicked": sum(row["TotalClicks"] > 0 for row in rows),
    }


def _utc_day(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(timezone.utc).date().isoformat()
