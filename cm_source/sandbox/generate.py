"""The generator of a sandbox account: clients, campaigns, lists, custom fields, subscribers and who works in
the account (administrators, each client's people), the same for the same arguments; reports.py adds what
is worked out from them (segments' details, campaign and journey reports, tags, webhooks)."""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone

from .account import DATE_FORMAT, STATES, SYSTEM_DATE, Account, new_id, stamp
from .reports import add_reports
from .transactional import add_transactional

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
    "Olivia",
    "Liam",
    "Zoë",
    "Łukasz",
    "José",
    "Mia",
    "Noah",
    "Søren",
    "Amélie",
    "Chloé",
    "Jürgen",
    "Ava",
    "Ethan",
    "Ingrid",
    "Björn",
    "Grace",
    "Hiroshi",
    "Priya",
    "Mateo",
    "Aoife",
    "Nikolai",
    "Sofía",
)
LAST_NAMES = (
    "Smith",
    "Ångström",
    "Żółć",
    "García",
    "Müller",
    "Nguyen",
    "O'Brien",
    "Kowalski",
    "Brown",
    "Østergaard",
    "Dubois",
    "Jensen",
    "Papadopoulos",
    "Wilson",
    "Çelik",
    "Novák",
    "Taylor",
    "Lefèvre",
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
# People's AccessLevel, a bit mask: the values Campaign Monitor's own samples use (person_details.json,
# people.json, client_details.json), from full access to none.
ACCESS_LEVELS = (1023, 31, 23, 0)
ACCOUNT_ADMINISTRATORS = 3  # a few, as an agency has: GET /admins.json is one short array


def generate_account(
    seed: int = 7,
    clients: int = 2,
    lists_per_client: int = 3,
    subscribers: int = 3000,
    sent_campaigns: int = BIG_CLIENT_CAMPAIGNS,
) -> Account:
    """Build a deterministic account: the same arguments always give identical data.

    The first list of the first client takes most subscriber rows (mostly Active), the last list of
    the last client is empty in every state, and the other lists share the rest with every state
    present. `subscribers` is the total number of generated subscriber rows across all lists and
    states; the first Sydney and London clients' first lists also get the two TIME_ROWS each.
    Reports (campaigns', journeys') are capped, so they do not grow with `subscribers`. The first client
    has `sent_campaigns` sent campaigns (each with its reports), the others a handful.
    """
    if clients < 1 or lists_per_client < 2 or subscribers < 0:
        raise ValueError("need clients >= 1, lists_per_client >= 2 and subscribers >= 0")
    rng = random.Random(seed)
    client_ids = [new_id(rng, 32) for _ in range(clients)]
    list_ids = {cid: [new_id(rng, 32) for _ in range(lists_per_client)] for cid in client_ids}
    layout = _state_counts(clients * lists_per_client, subscribers)
    people = _people(rng, max(sum(counts.values()) for counts in layout))

    account = Account(
        api_key=new_id(rng, 48),
        clients=[],
        client_details={},
        campaigns={},
        scheduled={},
        drafts={},
        lists={},
        segments={},
        templates={},
        suppression_list={},
        list_details={},
        custom_fields={},
        subscribers={},
        system_date=SYSTEM_DATE.strftime(DATE_FORMAT),
    )
    for index, cid in enumerate(client_ids):
        name, country, time_zone = CLIENT_PROFILES[index % len(CLIENT_PROFILES)]
        if index >= len(CLIENT_PROFILES):
            name = f"{name} {index // len(CLIENT_PROFILES) + 1}"
        big = index == 0
        account.clients.append({"ClientID": cid, "Name": name})
        account.client_details[cid] = _client_details(rng, cid, name, country, time_zone)
        account.campaigns[cid] = _sent_campaigns(rng, sent_campaigns if big else 5 + index)
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
    add_reports(random.Random(f"{seed}/reports"), account)
    add_transactional(random.Random(f"{seed}/transactional"), account, SYSTEM_DATE.replace(tzinfo=timezone.utc))
    add_team(random.Random(f"{seed}/team"), account)
    return account


def add_team(rng: random.Random, account: Account) -> None:
    """Who works in the account: a few administrators, and per client a few people (three to five) with
    every sampled AccessLevel in turn; the last of each is invited and has not yet accepted."""
    account.administrators = _team(rng, ACCOUNT_ADMINISTRATORS, "agency.example.com")
    for index, client in enumerate(account.clients):
        domain = account.client_details[client["ClientID"]]["BasicDetails"]["EmailAddress"].partition("@")[2]
        people = _team(rng, 3 + index % 3, domain)
        account.people[client["ClientID"]] = [
            {**person, "AccessLevel": ACCESS_LEVELS[number % len(ACCESS_LEVELS)]}
            for number, person in enumerate(people)
        ]


def _team(rng: random.Random, count: int, domain: str) -> list[dict]:
    """``count`` people at ``domain`` with unique addresses, all active but the last, who is invited."""
    team = []
    for number in range(count):
        name = _random_name(rng)
        status = "Invited" if number == count - 1 else "Active"
        team.append(
            {"EmailAddress": f"{_ascii_slug(name) or 'person'}.{number}@{domain}", "Name": name, "Status": status}
        )
    return team


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
        "ApiKey": new_id(rng, 48),
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
        "CampaignID": new_id(rng, 32),
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
        web = f"https://createsend.com/t/r-{new_id(rng, 16).upper()}"
        row = {"WebVersionURL": web, "WebVersionTextURL": f"{web}/t", **_campaign_basics(rng, number)}
        row["SentDate"] = stamp(sent)
        row["TotalRecipients"] = rng.randint(50, 25000)
        if number % 6:
            row["Tags"] = rng.sample(TAGS, rng.randint(0, 2))
        rows.append(row)
    return rows


def _preview_urls(rng: random.Random) -> dict:
    """PreviewURL and PreviewTextURL of a campaign that has not been sent."""
    url = f"https://createsend.com/t/r-{new_id(rng, 16).upper()}"
    return {"PreviewURL": url, "PreviewTextURL": f"{url}/t"}


def _scheduled_campaigns(rng: random.Random, time_zone: str, count: int) -> list[dict]:
    """Campaigns scheduled after the account's system date, in the client's time zone except every second
    one, which is scheduled in another zone (as a user may pick one when scheduling)."""
    rows = []
    elsewhere = EASTERN if time_zone != EASTERN else SYDNEY
    for number in range(1, count + 1):
        created = _minutes_before(rng, SYSTEM_DATE, 60, 7 * 24 * 60)
        scheduled = SYSTEM_DATE + timedelta(days=number, minutes=rng.randint(0, 600))
        rows.append(
            {
                "DateScheduled": stamp(scheduled),
                "ScheduledTimeZone": time_zone if number % 2 else elsewhere,
                **_campaign_basics(rng, number),
                "DateCreated": stamp(created),
                **_preview_urls(rng),
                "Tags": rng.sample(TAGS, rng.randint(0, 2)),
            }
        )
    return rows


def _draft_campaigns(rng: random.Random, count: int) -> list[dict]:
    """Draft campaigns."""
    return [
        {
            **_campaign_basics(rng, number),
            "DateCreated": stamp(_minutes_before(rng, SYSTEM_DATE, 60, 90 * 24 * 60)),
            **_preview_urls(rng),
            "Tags": rng.sample(TAGS, rng.randint(0, 2)),
        }
        for number in range(1, count + 1)
    ]


def _templates(rng: random.Random, count: int) -> list[dict]:
    """Templates with preview and screenshot URLs."""
    rows = []
    for name in TEMPLATE_NAMES[:count]:
        code = new_id(rng, 16).upper()
        rows.append(
            {
                "TemplateID": new_id(rng, 32),
                "Name": name,
                "PreviewURL": f"https://preview.createsend.com/createsend/templates/previewTemplate.aspx?ID={code}",
                "ScreenshotURL": f"https://preview.createsend.com/ts/r/{code[:2]}/{code[2:5]}/{code[5:8]}/{code}.jpg",
            }
        )
    return rows


def _suppressions(rng: random.Random, count: int) -> list[dict]:
    """A client's suppression list: unique addresses, second-precision dates as in the samples."""
    return [
        {
            "SuppressionReason": rng.choice(("Unsubscribed", "Bounced")),
            "EmailAddress": _email(rng, _random_name(rng), f"s{number}"),
            "Date": stamp(SYSTEM_DATE - timedelta(seconds=rng.randint(60, 3 * 365 * 86400))),
            "State": "Suppressed",
        }
        for number in range(count)
    ]


def _segments(rng: random.Random, list_id: str, count: int) -> list[dict]:
    """Segments defined on one list."""
    return [
        {"ListID": list_id, "SegmentID": new_id(rng, 32), "Title": SEGMENT_TITLES[k % len(SEGMENT_TITLES)]}
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
        "Date": stamp(changed),
        "ListJoinedDate": stamp(joined),
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
            chosen = [f"https://{new_id(rng, 6)}.example.com"]
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
        "EmailAddress": email,
        "Name": name,
        "Date": local_time,
        "ListJoinedDate": local_time,
        "State": "Active",
        "CustomFields": [],
        "ReadsEmailWith": "Gmail",
        "ConsentToTrack": "Yes",
        "ConsentToSendSms": "No",
    }
