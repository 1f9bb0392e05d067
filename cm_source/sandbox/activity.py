"""What happens in an account between two syncs, stamped with the account's "now": people join, move
between states (every kind of move the API knows), edit custom fields without their Date moving, a
new campaign is sent with its reports, a recent campaign gets new opens and clicks (a true repeat
among them), and every client that sends transactional email sends more and sees recent ones opened.
An incremental sync must see all of it but the field edits.

    activity = account_activity(account)  # one round; the account's now moves on by `minutes`
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .account import DATE_FORMAT, Account, new_id, stamp
from .reports import _campaign_summary, _email_client_usage
from .transactional import transactional_activity

# (from, to) for each kind of move one round makes on every list with someone to move.
MOVES = (
    ("Active", "Unsubscribed"),
    ("Active", "Bounced"),
    ("Active", "Deleted"),
    ("Unsubscribed", "Active"),
    ("Unconfirmed", "Active"),
)


@dataclass
class Activity:
    """What one round did, so a test can tell what a sync has to pick up."""

    now: str
    joined: list[tuple[str, str]] = field(default_factory=list)  # (ListID, EmailAddress)
    moved: list[tuple[str, str, str, str]] = field(default_factory=list)  # (ListID, EmailAddress, from, to)
    edited: list[tuple[str, str]] = field(
        default_factory=list
    )  # a custom field or the name changed, Date not; Active first
    sent_campaign: str = ""  # the CampaignID of the campaign sent in this round
    new_events: dict[str, int] = field(default_factory=dict)  # CampaignID -> events added to its reports
    sent_messages: dict[str, list[str]] = field(default_factory=dict)  # ClientID -> new transactional MessageIDs
    opened_messages: list[str] = field(default_factory=list)  # earlier transactional messages opened again


def account_activity(
    account: Account, minutes: int = 60, people: int = 2, moves: int = 1, messages: int = 30
) -> Activity:
    """One round of activity over the next `minutes`: on each list `people` join and `moves` people make
    each kind of move; each client with transactional email sends `messages`. Deterministic: the same
    account after the same rounds is the same account."""
    with account.lock:
        start = datetime.strptime(account.system_date, DATE_FORMAT)
        now = start + timedelta(minutes=minutes)
        rng = random.Random(f"activity {account.system_date}")
        activity = Activity(now=stamp(now))

        def moment() -> str:
            return stamp(start + timedelta(seconds=rng.randint(1, minutes * 60)))

        for client in account.clients:
            for row in account.lists[client["ClientID"]]:
                _list_activity(rng, account, row["ListID"], people, moves, moment, activity)
        _send_campaign(rng, account, account.clients[0]["ClientID"], start, now, activity)
        activity.sent_messages, activity.opened_messages = transactional_activity(
            random.Random(f"transactional activity {account.system_date}"), account, start, minutes, messages
        )
        account.system_date = activity.now
        return activity


def _list_activity(
    rng: random.Random,
    account: Account,
    list_id: str,
    people: int,
    moves: int,
    moment: Callable[[], str],
    activity: Activity,
) -> None:
    """Joins, `moves` moves of each kind and one field edit on one list; every changed state is a new list
    (the server tells a changed list by its identity)."""
    stored = account.subscribers[list_id]
    if not any(stored.values()):
        return  # the generator's empty list stays empty
    # Movers are drawn from the list as it was, so nobody moves twice in one round.
    leaving: dict[str, set[int]] = {state: set() for state in stored}
    arriving: list[tuple[str, dict]] = []
    for source, target in MOVES:
        rows = stored[source]
        taken = leaving[source]
        free = [number for number in range(len(rows)) if number not in taken] if taken else range(len(rows))
        for number in sorted(rng.sample(free, min(moves, len(free)))):
            leaving[source].add(number)
            arriving.append((target, {**rows[number], "State": target, "Date": moment()}))
            activity.moved.append((list_id, rows[number]["EmailAddress"], source, target))
    states = {
        state: [row for number, row in enumerate(rows) if number not in leaving[state]]
        if leaving[state]
        else list(rows)
        for state, rows in stored.items()
    }
    stayed = {state: len(rows) for state, rows in states.items()}  # who was there before the round and still is
    for target, row in arriving:
        states[target].append(row)
    for number in range(people):
        email = f"joined-{activity.now.replace(' ', '-').replace(':', '')}-{number}@{list_id[:6]}.example.com"
        when = moment()
        states["Active"].append(
            {
                "EmailAddress": email,
                "Name": f"Joined {number}",
                "Date": when,
                "ListJoinedDate": when,
                "State": "Active",
                "CustomFields": [],
                "ReadsEmailWith": "Gmail",
                "ConsentToTrack": "Yes",
                "ConsentToSendSms": "No",
            }
        )
        activity.joined.append((list_id, email))
    for state in stored:  # one quiet edit in every state, Active first: a custom field, else the name
        editable = range(stayed[state])
        if not editable:
            continue
        number = rng.choice(editable)
        row = states[state][number]
        if row["CustomFields"]:
            first, *rest = row["CustomFields"]
            states[state][number] = {**row, "CustomFields": [{**first, "Value": f"edited {activity.now}"}, *rest]}
        else:
            states[state][number] = {**row, "Name": f"{row['Name'] or 'Someone'} (renamed {activity.now})"}
        activity.edited.append((list_id, row["EmailAddress"]))
    account.subscribers[list_id] = states


def _send_campaign(
    rng: random.Random, account: Account, client_id: str, start: datetime, now: datetime, activity: Activity
) -> None:
    """A campaign sent to some of the client's first list as the round began, opened and clicked since;
    and new opens on the campaign before it, one of them a true repeat (same person, second and place)."""
    campaigns = account.campaigns[client_id]
    previous = campaigns[0]
    list_row = account.lists[client_id][0]
    audience = sorted(account.subscribers[list_row["ListID"]]["Active"], key=lambda row: row["EmailAddress"])[:20]
    web = f"https://createsend.com/t/r-{new_id(rng, 16).upper()}"
    campaign = {
        **previous,
        "CampaignID": new_id(rng, 32),
        "Name": f"Sent {activity.now}",
        "Subject": f"Sent {activity.now}",
        "WebVersionURL": web,
        "WebVersionTextURL": f"{web}/t",
        "SentDate": stamp(start),
        "TotalRecipients": len(audience),
    }
    template = _open_shape(account)
    opens = [
        {
            **template,
            "EmailAddress": row["EmailAddress"],
            "ListID": list_row["ListID"],
            "Date": stamp(start + timedelta(minutes=1 + number)),
        }
        for number, row in enumerate(audience[::3])
    ]
    reports = {
        "recipients": [{"EmailAddress": row["EmailAddress"], "ListID": list_row["ListID"]} for row in audience],
        "opens": opens,
        "clicks": [],
        "bounces": [],
        "unsubscribes": [],
        "spam": [],
    }
    account.campaigns[client_id] = [campaign, *campaigns]
    account.campaign_reports[campaign["CampaignID"]] = reports
    openers = audience[::3]
    account.campaign_summaries[campaign["CampaignID"]] = _campaign_summary(rng, campaign, reports, len(openers))
    account.campaign_lists_and_segments[campaign["CampaignID"]] = {
        "Lists": [{"ListID": list_row["ListID"], "Name": list_row["Name"]}],
        "Segments": [],
    }
    account.email_client_usage[campaign["CampaignID"]] = _email_client_usage(openers)
    activity.sent_campaign = campaign["CampaignID"]
    _add_opens(account, previous, now, activity)


def _add_opens(account: Account, campaign: dict, now: datetime, activity: Activity) -> None:
    """Three new opens of an earlier campaign in its report, the last a repeat of the one before."""
    reports = account.campaign_reports[campaign["CampaignID"]]
    recipients = reports["recipients"]
    if not recipients:
        return
    template = _open_shape(account)
    when = stamp(now - timedelta(seconds=30))
    added = [
        {**template, "EmailAddress": row["EmailAddress"], "ListID": row["ListID"], "Date": when}
        for row in recipients[:2]
    ]
    added.append(dict(added[-1]))
    reports = {**reports, "opens": [*reports["opens"], *added]}
    account.campaign_reports[campaign["CampaignID"]] = reports
    summary = account.campaign_summaries[campaign["CampaignID"]]
    account.campaign_summaries[campaign["CampaignID"]] = {
        **summary,
        "TotalOpened": len(reports["opens"]),
        "UniqueOpened": len({row["EmailAddress"].casefold() for row in reports["opens"]}),
    }
    activity.new_events[campaign["CampaignID"]] = len(added)


def _open_shape(account: Account) -> dict:
    """The shape of an open, from the generated reports (any campaign's first open)."""
    for reports in account.campaign_reports.values():
        if reports["opens"]:
            return dict(reports["opens"][0])
    raise ValueError("the account has no open to copy the shape of")
