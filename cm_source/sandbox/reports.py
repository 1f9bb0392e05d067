"""The generated account's reports: segment details, webhooks, every sent campaign's reports and
summary, tags and journeys, all worked out from the clients, lists and subscribers already generated."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

from .account import DATE_FORMAT, SYSTEM_DATE, Account, by_email, matches_rules, new_id, stamp

# Only this many of each client's newest sent campaigns go to whole lists and segments; older ones reached
# 0-3 people, so reports exist for every sent campaign but stay cheap.
RECENT_CAMPAIGNS = 8
# At most this many recipients per campaign and per journey email, whatever `subscribers` is.
CAMPAIGN_AUDIENCE_CAP = 1500
JOURNEY_AUDIENCE_CAP = 400
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


def _minutes_after(rng: random.Random, moment: datetime, low: int, high: int) -> datetime:
    """A random whole minute between `low` and `high` minutes after `moment`, never past the system date."""
    room = int((SYSTEM_DATE - moment).total_seconds() // 60)
    return moment + timedelta(minutes=max(0, min(rng.randint(low, high), room)))


def add_reports(rng: random.Random, account: Account) -> None:
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
        "ActiveSubscribers": sum(matches_rules(row, rule_groups) for row in active),
        "RuleGroups": rule_groups,
        "ListID": segment["ListID"],
        "SegmentID": segment["SegmentID"],
        "Title": segment["Title"],
    }


def _webhooks(rng: random.Random, count: int) -> list[dict]:
    """A list's webhooks, shaped like list_webhooks.json."""
    return [
        {
            "WebhookID": new_id(rng, 16),
            "Events": list(rng.choice(WEBHOOK_EVENTS)),
            "Url": f"https://hooks.example.com/cm/{new_id(rng, 12)}",
            "Status": "Active",
            "PayloadFormat": rng.choice(("Json", "Xml")),
        }
        for _ in range(count)
    ]


def _add_campaign_reports(rng: random.Random, account: Account, client_id: str, campaign: dict, position: int) -> None:
    """One sent campaign's reports. One of the client's RECENT_CAMPAIGNS newest (position 0 is the newest)
    went to one or two lists, sometimes plus a segment of another list: the newest to the client's first
    list, at most CAMPAIGN_AUDIENCE_CAP people (so on the big list more than 1000), the others to at most
    a fifth of that, to keep the default account cheap; an older one reached 0-3 people of one list.
    Recipients had joined by SentDate and are Active now; someone on two targeted lists gets it once."""
    lists, segments = account.lists[client_id], account.segments[client_id]
    if position < RECENT_CAMPAIGNS:
        targets = [lists[0]] if position == 0 else rng.sample(lists, rng.randint(1, min(2, len(lists))))
        spare = [row for row in segments if row["ListID"] not in {target["ListID"] for target in targets}]
        chosen_segments = [rng.choice(spare)] if spare and rng.random() < 0.4 else []
        size = CAMPAIGN_AUDIENCE_CAP if position == 0 else CAMPAIGN_AUDIENCE_CAP // 5
    else:
        targets, chosen_segments, size = [rng.choice(lists)], [], rng.randint(0, 3)
    sources = [(target["ListID"], None) for target in targets]
    sources += [
        (segment["ListID"], account.segment_details[segment["SegmentID"]]["RuleGroups"]) for segment in chosen_segments
    ]
    audience: dict[str, tuple[dict, str]] = {}
    for list_id, rules in sources:
        active = account.subscribers[list_id]["Active"]
        for row in rng.sample(active, min(len(active), size)):
            if row["ListJoinedDate"] <= campaign["SentDate"] and (rules is None or matches_rules(row, rules)):
                audience.setdefault(row["EmailAddress"].casefold(), (row, list_id))
    people = sorted(audience.values(), key=lambda pair: by_email(pair[0]))[:size]
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
    reports: dict[str, list[dict]] = {"opens": [], "clicks": [], "bounces": [], "unsubscribes": []}
    if campaign:
        reports["spam"] = []
    openers: list[dict] = []
    for row, list_id, sent in audience:
        tag = {"ListID": list_id} if campaign else {}
        if rng.random() < 0.03:
            bounce_type, reason = rng.choice(BOUNCES)
            when = stamp(_minutes_after(rng, sent, 1, 120))
            reports["bounces"].append(
                {"EmailAddress": row["EmailAddress"], **tag, "BounceType": bounce_type, "Date": when, "Reason": reason}
            )
        elif rng.random() < 0.45:
            openers.append(row)
            _add_opener_events(rng, reports, row["EmailAddress"], tag, sent)
    if force_repeats:
        for rows in (reports["opens"], reports["clicks"]):
            if rows and not _has_repeat(rows):
                rows.append(dict(rows[0]))
    for rows in reports.values():
        rows.sort(key=lambda event: event["Date"])  # stable: a repeat stays next to its original
    return reports, openers


def _add_opener_events(
    rng: random.Random, reports: dict[str, list[dict]], email: str, tag: dict, sent: datetime
) -> None:
    """The opens, and perhaps clicks, an unsubscribe and (in a campaign's `reports`, which have "spam") a
    spam complaint, of someone who opened an email sent at `sent`; `tag` is the campaign rows' ListID."""
    campaign = "spam" in reports
    city, region, code, country, latitude, longitude = rng.choice(LOCATIONS)
    ip = f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}"
    geo = {
        "IPAddress": ip,
        "Latitude": latitude,
        "Longitude": longitude,
        "City": city,
        "Region": region,
        "CountryCode": code,
        "CountryName": country,
    }
    first = seen = _minutes_after(rng, sent, 1, 3 * 24 * 60)
    for _ in range(1 + (rng.random() < 0.4) + (rng.random() < 0.15)):
        opened = {"EmailAddress": email, **tag, "Date": stamp(seen), **geo}
        reports["opens"] += [opened, dict(opened)] if rng.random() < 0.03 else [opened]
        seen = _minutes_after(rng, seen, 1, 2 * 24 * 60)
    if rng.random() < 0.35:
        for url in rng.sample(CLICKED_URLS, rng.randint(1, 2)):
            when = stamp(_minutes_after(rng, first, 0, 30))
            if campaign:
                clicked = {"EmailAddress": email, "URL": url, **tag, "Date": when, **geo}
            else:
                clicked = {"EmailAddress": email, "Date": when, "URL": url, **geo}
            reports["clicks"] += [clicked, dict(clicked)] if rng.random() < 0.03 else [clicked]
    if rng.random() < 0.03:
        when = stamp(_minutes_after(rng, first, 0, 60))
        reports["unsubscribes"].append({"EmailAddress": email, **tag, "Date": when, "IPAddress": ip})
    if campaign and rng.random() < 0.01:
        reports["spam"].append({"EmailAddress": email, **tag, "Date": stamp(_minutes_after(rng, first, 0, 60))})


def _has_repeat(rows: list[dict]) -> bool:
    """Whether two rows are identical in every field."""
    seen = {tuple(row.items()) for row in rows}
    return len(seen) < len(rows)


def _counts(reports: dict[str, list[dict]], **names: str) -> dict[str, int]:
    """Each named count of a summary, in the order given: the rows of its report (`Clicks="clicks"`), or
    for UniqueOpened how many different people (case-folded addresses) opened."""
    return {
        name: len({row["EmailAddress"].casefold() for row in reports[report]})
        if name == "UniqueOpened"
        else len(reports[report])
        for name, report in names.items()
    }


def _campaign_summary(rng: random.Random, campaign: dict, reports: dict[str, list[dict]], openers: int) -> dict:
    """GET /campaigns/{id}/summary.json, its counts those of the reports (Forwards, Likes and Mentions
    have no rows to count)."""
    code = campaign["WebVersionURL"].rpartition("r-")[2]
    return {
        "Name": campaign["Name"],
        **_counts(
            reports,
            Recipients="recipients",
            TotalOpened="opens",
            Clicks="clicks",
            Unsubscribed="unsubscribes",
            Bounced="bounces",
            UniqueOpened="opens",
        ),
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
        {"Client": client, "Version": version, "Percentage": round(100 * count / len(openers), 2), "Subscribers": count}
        for (client, version), count in ranked
    ]


def _tags(account: Account, client_id: str, as_text: bool) -> list[dict]:
    """GET /clients/{cid}/tags.json: each tag on the client's sent, scheduled and draft campaigns with how
    many carry it, by name; the count as a string such as "120" when `as_text` (the Ruby and PHP
    libraries' samples) else an int (the Python library's)."""
    counts = Counter(
        tag
        for kind in (account.campaigns, account.scheduled, account.drafts)
        for row in kind[client_id]
        for tag in row.get("Tags", [])
    )
    return [
        {"Name": name, "NumberOfCampaigns": str(count) if as_text else count} for name, count in sorted(counts.items())
    ]


def _add_journey(rng: random.Random, account: Account, client_id: str) -> None:
    """A journey "On Subscription" of the client's first list (a second one of any of its lists, perhaps an
    empty one), started 4-18 months ago: each of its 1-3 emails goes to the list's Active subscribers who
    joined since (at most JOURNEY_AUDIENCE_CAP), its JOURNEY_EMAIL_DELAYS after they joined, if that
    moment has come."""
    number = len(account.journeys[client_id])
    target = account.lists[client_id][0] if number == 0 else rng.choice(account.lists[client_id])
    journey_id, name = new_id(rng, 32), JOURNEY_NAMES[number % len(JOURNEY_NAMES)]
    account.journeys[client_id].append(
        {"ListID": target["ListID"], "JourneyID": journey_id, "Name": name, "Status": "Active"}
    )
    started = stamp(SYSTEM_DATE - timedelta(days=rng.randint(120, 540)))
    active = account.subscribers[target["ListID"]]["Active"]
    candidates = rng.sample(active, min(len(active), 3 * JOURNEY_AUDIENCE_CAP))
    people = sorted((row for row in candidates if row["ListJoinedDate"] >= started), key=by_email)
    people = people[:JOURNEY_AUDIENCE_CAP]
    emails = []
    for position in range(rng.randint(1, len(JOURNEY_EMAIL_DELAYS))):
        delay = timedelta(minutes=JOURNEY_EMAIL_DELAYS[position])
        sends: list[tuple[dict, str | None, datetime]] = [
            (row, None, datetime.strptime(row["ListJoinedDate"], DATE_FORMAT) + delay) for row in people
        ]
        sends = sorted((send for send in sends if send[2] <= SYSTEM_DATE), key=lambda send: send[2])  # as served
        events, _ = _events(rng, sends, False, False)
        email_id = new_id(rng, 32)
        reports = {
            "recipients": [{"EmailAddress": row["EmailAddress"], "SentDate": stamp(when)} for row, _, when in sends]
        }
        reports.update(events)
        account.journey_email_reports[email_id] = reports
        emails.append(
            {
                "EmailID": email_id,
                "Name": JOURNEY_EMAIL_NAMES[position],
                **_counts(
                    reports,
                    Bounced="bounces",
                    Clicked="clicks",
                    Opened="opens",
                    Sent="recipients",
                    UniqueOpened="opens",
                    Unsubscribed="unsubscribes",
                ),
            }
        )
    account.journey_details[journey_id] = {
        "JourneyID": journey_id,
        "Name": name,
        "TriggerType": "On Subscription",
        "Status": "Active",
        "Emails": emails,
    }
