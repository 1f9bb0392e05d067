"""The account a scenario serves, and what the connector should make of it: the rows it reads, the
fewest requests that read them, the requests the sandbox saw, the states the connector loads."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from benchmarks.workers import list_state
from cm_source import TABLES
from cm_source.api_facts import MAX_PAGE_SIZE
from cm_source.http import DEFAULT_MAX_CONCURRENT_REQUESTS
from cm_source.sandbox import Account, generate_account

SUBSCRIBER_PATH = re.compile(r"^/lists/[^/]+/(active|unconfirmed|unsubscribed|bounced|deleted)\.json$")
ID_PATTERN = re.compile(r"[0-9a-f]{32}")


def build_account(subscribers: int, lists: int, layout: str, seed: int = 7, **options: Any) -> Account:
    """`lists` non-empty lists in one client (plus the empty list the generator always puts last);
    ``options`` go to generate_account (``sent_campaigns``).

    generator: as generate_account spreads them (the first list takes 80%; with one list, every row).
    even: every list gets an equal share, each generated on its own (so addresses stay unique per list).
    """
    if layout == "generator":
        return generate_account(seed=seed, clients=1, lists_per_client=lists + 1, subscribers=subscribers, **options)
    account = generate_account(seed=seed, clients=1, lists_per_client=lists + 1, subscribers=0, **options)
    list_ids = [row["ListID"] for row in account.lists[account.clients[0]["ClientID"]]]
    for number, list_id in enumerate(list_ids[:lists]):
        share = subscribers // lists + (1 if number < subscribers % lists else 0)
        part = generate_account(seed=seed + 1 + number, clients=1, lists_per_client=2, subscribers=share)
        first = part.lists[part.clients[0]["ClientID"]][0]["ListID"]
        account.subscribers[list_id] = part.subscribers[first]
    return account


def account_facts(account: Account, states: Sequence[str]) -> dict[str, Any]:
    """What a scenario needs to know of the account a server process serves (it has no copy of its own):
    the floor's paths, the fewest requests, the rows to read, the layout and the rows per state table."""
    return {
        "paths": subscriber_paths(account, states),
        "expected": expected_requests(account, states),
        "rows": rows_to_read(account, states),
        "layout": layout_text(account, states),
        "counts": sandbox_counts(account, state_tables(states)),
        "report_least": report_least(account),
    }


def state_tables(states: Sequence[str]) -> list[str]:
    """The connector's table of each list state: "Active" -> "active_subscribers"."""
    return [f"{state.lower()}_subscribers" for state in states]


def concurrent_side(concurrency: Any) -> int:
    """The concurrency of the connector's concurrent side: --concurrency, else the connector's own default."""
    return concurrency or DEFAULT_MAX_CONCURRENT_REQUESTS


def rows_to_read(account: Account, states: Sequence[str]) -> int:
    return sum(len(members[state]) for members in account.subscribers.values() for state in states)


def layout_text(account: Account, states: Sequence[str]) -> str:
    sizes = [sum(len(members[state]) for state in states) for members in account.subscribers.values()]
    per_state = {state: sum(len(m[state]) for m in account.subscribers.values()) for state in states}
    shown = ", ".join(f"{size:,}" for size in sizes)
    return f"rows per list [{shown}]; per state {', '.join(f'{s} {n:,}' for s, n in per_state.items())}"


def subscriber_paths(account: Account, states: Sequence[str]) -> list[str]:
    """Every list-state's path, as the floor reads them."""
    return [
        f"lists/{row['ListID']}/{state.lower()}.json"
        for client in account.clients
        for row in account.lists[client["ClientID"]]
        for state in states
    ]


def changed_since_count(account: Account, rows: list[dict]) -> int:
    """Rows the connector's catch-up request returns: Date on or after the account's system date less one
    minute, at minute precision (see CampaignMonitorAPI.system_date)."""
    now = datetime.strptime(account.system_date, "%Y-%m-%d %H:%M:%S")
    since = (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M") + ":00"
    return sum(row["Date"] >= since for row in rows)


def expected_requests(account: Account, states: Sequence[str]) -> dict[str, int]:
    """The minimum, by CampaignMonitorAPI.get_pages (cm_source/http/paging.py): every list-state at
    pagesize=1000, max(1, ceil(n/1000)) pages; one catch-up request (rows changed since it began) after
    each list-state of several pages; one systemdate.json if there was any such read; clients.json and,
    per client, its details (for its time zone) and lists.json."""
    pages = catch_up = 0
    for members in account.subscribers.values():
        for state in states:
            read = max(1, math.ceil(len(members[state]) / MAX_PAGE_SIZE))
            pages += read
            if read > 1:
                catch_up += max(1, math.ceil(changed_since_count(account, members[state]) / MAX_PAGE_SIZE))
    other = 1 + 2 * len(account.clients) + (1 if catch_up else 0)
    return {"pages": pages, "catch_up": catch_up, "other": other, "total": pages + catch_up + other}


def report_least(account: Account) -> int:
    """The fewest requests that read every row of clients, campaigns and every campaign report: the client
    listing, each client's details and campaigns' pages, and per sent campaign its summary, its lists and
    segments once, and each report's pages only where it has rows."""
    least = 1 + sum(1 + max(1, math.ceil(len(rows) / MAX_PAGE_SIZE)) for rows in account.campaigns.values())
    for campaign_id, reports in account.campaign_reports.items():
        least += 2 + sum(math.ceil(len(rows) / MAX_PAGE_SIZE) for rows in reports.values())
        least += bool(account.email_client_usage.get(campaign_id))
    return least


def classify_requests(requests: list[Any]) -> dict[str, Any]:
    """The sandbox's recorded requests as page reads, catch-ups and the rest; reads not at
    pagesize=1000; pages read twice; 429s."""
    pages = catch_up = limited = bad_size = 0
    seen: Counter = Counter()
    other: Counter = Counter()
    for request in requests:
        if request.fault is not None:
            limited += request.fault in ("rate_limit_window", "rate_limit")
            continue
        query = {name.lower(): value for name, value in request.query.items()}
        if SUBSCRIBER_PATH.match(request.path):
            if "date" in query:
                catch_up += 1
                continue
            pages += 1
            bad_size += query.get("pagesize") != str(MAX_PAGE_SIZE)
            seen[(request.path, query.get("page", "1"))] += 1
        else:
            other[f"{request.method} {ID_PATTERN.sub('{id}', request.path)}"] += 1
    return {
        "total": len(requests),
        "pages": pages,
        "catch_up": catch_up,
        "other": sum(other.values()),
        "other_by_path": dict(other),
        "not_pagesize_1000": bad_size,
        "read_twice": sum(count - 1 for count in seen.values() if count > 1),
        "rate_limited": limited,
    }


def sandbox_counts(account: Account, tables: Sequence[str]) -> dict[str, int]:
    """Rows per list-state table in the sandbox, to hold the loaded tables against."""
    return {table: sum(len(members[list_state(table)]) for members in account.subscribers.values()) for table in tables}


def connector_states() -> tuple[list[str], str]:
    """The list states the connector loads, from its tables ending in _subscribers; and where from."""
    tables = [table for table in TABLES if table.endswith("_subscribers")]
    how = "cm_source.TABLES ending in _subscribers"
    others = [table for table in tables if not list_state(table)]
    if others:
        how += f"; not list states, left out: {', '.join(others)}"
    return [list_state(table) for table in tables if list_state(table)], how
