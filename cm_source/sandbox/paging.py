"""Query parameters and paging: the query as handlers see it, the orders each paged endpoint accepts,
page specs checked with the API's Codes, the paged envelope, and the cached order of a list-state."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..api_facts import MAX_PAGE_SIZE
from .account import DATE_FORMAT, Account, by_email
from .messages import ApiError

SortKey = Callable[[dict], Any]


@dataclass(frozen=True)
class Ordering:
    """The orders a paged endpoint accepts: orderfield -> (its ResultsOrderedBy label, sort key)."""

    fields: dict[str, tuple[str, SortKey]]
    default_field: str
    default_direction: str
    upper_direction: bool = False  # OrderDirection as "ASC"/"DESC" rather than "asc"/"desc"


SUBSCRIBER_ORDER = Ordering(
    {
        "email": ("email", by_email),
        "name": ("name", lambda row: (row["Name"].casefold(), by_email(row))),
        "date": ("date", lambda row: (row["Date"], by_email(row))),
    },
    "email",
    "asc",
)
SUPPRESSION_ORDER = Ordering(
    {"email": ("email", by_email), "date": ("date", lambda row: (row["Date"], by_email(row)))}, "email", "asc"
)
CAMPAIGN_ORDER = Ordering(
    {"sentdate": ("SentDate", lambda row: (row["SentDate"], row["CampaignID"]))}, "sentdate", "desc"
)
CAMPAIGN_RECIPIENT_ORDER = Ordering({"email": ("email", by_email)}, "email", "asc")
# Event rows have no ID: rows on the same minute keep their stored order, so repeats stay side by side.
CAMPAIGN_EVENT_ORDER = Ordering({"date": ("date", lambda row: row["Date"])}, "date", "asc")
# The journey samples say "SentDate"/"Date" and "ASC"/"DESC" where the campaign ones say "date" and "asc".
JOURNEY_RECIPIENT_ORDER = Ordering(
    {"sentdate": ("SentDate", lambda row: row["SentDate"])}, "sentdate", "asc", upper_direction=True
)
JOURNEY_EVENT_ORDER = Ordering({"date": ("Date", lambda row: row["Date"])}, "date", "asc", upper_direction=True)


# The paging numbers, whose empty value is a malformed number (Code 800/801) rather than one not sent:
# no library sends them empty, and the sandbox has always refused `page=` as an invalid page number.
EMPTY_IS_MALFORMED = frozenset({"page", "pagesize"})


def given_query(query: dict[str, str]) -> dict[str, str]:
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


def date_param(query: dict[str, str], name: str, formats: tuple[str, ...]) -> str | None:
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


SINCE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M")


def since_param(query: dict[str, str]) -> str | None:
    """The `date` filter of a report or subscriber page ("on or after"), normalised; None when not given."""
    return date_param(query, "date", SINCE_FORMATS)


def on_or_after(rows: list[dict], query: dict[str, str], name: str = "Date") -> list[dict]:
    """The rows a `date` filter keeps: `name` on or after it."""
    since = since_param(query)
    return [row for row in rows if row[name] >= since] if since else rows


def flag(query: dict[str, str], name: str) -> bool:
    """A boolean query parameter: only "true" (any case) turns it on."""
    return query.get(name, "").lower() == "true"


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


def page_spec(query: dict[str, str], ordering: Ordering) -> PageSpec:
    """page, pagesize, orderfield and orderdirection, or a 400 with the API's Code for the first bad one."""
    page = _int_param(query, "page", 1, 1, 2**31 - 1, 800, "Invalid page number")
    size = _int_param(
        query,
        "pagesize",
        MAX_PAGE_SIZE,
        10,
        MAX_PAGE_SIZE,
        801,
        f"Invalid page size. Page size must be between 10 and {MAX_PAGE_SIZE}",
    )
    field_name = query.get("orderfield", ordering.default_field).lower()
    if field_name not in ordering.fields:
        raise ApiError(400, 802, f"Invalid order field. Use one of: {', '.join(ordering.fields)}")
    direction = query.get("orderdirection", ordering.default_direction).lower()
    if direction not in ("asc", "desc"):
        raise ApiError(400, 803, "Invalid order direction. Use asc or desc")
    label, key = ordering.fields[field_name]
    return PageSpec(page, size, label, direction, key)


def paged(
    rows: list[dict],
    query: dict[str, str],
    ordering: Ordering,
    view: Callable[[dict], dict] | None = None,
    ordered: Callable[[PageSpec], list[dict]] | None = None,
) -> dict:
    """Sort, slice and wrap rows in the paged envelope; `view` shapes only the rows on the page.
    `ordered`, when given, returns `rows` in the spec's order (e.g. from a cache; never to be changed)."""
    spec = page_spec(query, ordering)
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


def ordered_members(account: Account, list_id: str, state: str, spec: PageSpec, since: str | None) -> list[dict]:
    """The list-state's rows with Date >= `since` (all when None) in the spec's order, as
    spec.ordered(on_or_after(...)) gives them; called holding the account's lock.

    Sorting every row for every page made paging a big list-state quadratic, so the result is cached
    per (list, state, order, direction, since) with the row list it came from, and used only while that
    very list is still stored: writes replace lists, never edit them. Filtering the cached full order
    equals sorting the filtered rows, as the sort is stable."""
    rows = account.subscribers[list_id][state]
    slot = (list_id, state, spec.key, spec.direction, since)
    cache = account.derived.orders
    hit = cache.get(slot)
    if hit is not None and hit[0] is rows:
        cache.move_to_end(slot)
        return hit[1]
    if since is None:
        result = spec.ordered(rows)
    else:
        result = [row for row in ordered_members(account, list_id, state, spec, None) if row["Date"] >= since]
    cache[slot] = (rows, result)
    cache.move_to_end(slot)
    while len(cache) > ORDER_CACHE_SIZE:
        cache.popitem(last=False)
    return result
