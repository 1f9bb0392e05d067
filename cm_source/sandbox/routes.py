"""The route table, (method, path regex) -> handler and success status, and HTTP Basic authentication
with the account's administrator key or a client's own key."""

from __future__ import annotations

import base64
import binascii
import re
from typing import NamedTuple

from .account import CAMPAIGN_REPORTS, JOURNEY_REPORTS, STATES, Account
from .messages import KEY_REFUSED, ApiError, Handler
from .oauth import OAuthGrants
from .reads import (
    get_administrators,
    get_campaign_lists_and_segments,
    get_campaign_report,
    get_campaign_summary,
    get_client_collection,
    get_client_details,
    get_clients,
    get_custom_fields,
    get_email_client_usage,
    get_journey,
    get_journey_email_report,
    get_list_details,
    get_list_stats,
    get_segment_details,
    get_segment_subscribers,
    get_sent_campaigns,
    get_subscribers,
    get_suppression_list,
    get_system_date,
    get_webhooks,
)
from .transactional import get_classic_groups, get_messages, get_smart_email, get_smart_emails, get_statistics
from .writes import (
    add_subscriber,
    create_list,
    delete_subscriber,
    get_subscriber,
    import_subscribers,
    suppress_addresses,
    unsubscribe_subscriber,
    unsuppress_address,
)


class Route(NamedTuple):
    """One row of the routing table; `pattern` matches the whole path after the API base."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    status: int  # of a successful answer


def _route(method: str, template: str, handler: Handler, status: int = 200, **choices: tuple[str, ...]) -> Route:
    """A routing table row from a path in the API reference's form, "/lists/{lid}/stats.json": each {name}
    is a path parameter matching one path segment, or only one of `choices[name]` (lower-cased)."""
    parts = re.split(r"\{(\w+)\}", template)  # text, name, text, name, …, text
    pattern = "".join(
        _parameter(part, choices.get(part)) if number % 2 else re.escape(part) for number, part in enumerate(parts)
    )
    return Route(method, re.compile(pattern), handler, status)


def _parameter(name: str, choices: tuple[str, ...] | None) -> str:
    """The named group of one path parameter."""
    matches = "|".join(choice.lower() for choice in choices) if choices else "[^/]+"
    return f"(?P<{name}>{matches})"


COLLECTIONS = ("scheduled", "drafts", "lists", "segments", "templates", "tags", "journeys", "people")
ROUTES: list[Route] = [
    _route("GET", "/clients.json", get_clients),
    _route("GET", "/admins.json", get_administrators),
    _route("GET", "/clients/{cid}.json", get_client_details),
    _route("GET", "/clients/{cid}/campaigns.json", get_sent_campaigns),
    _route("GET", "/clients/{cid}/{collection}.json", get_client_collection, collection=COLLECTIONS),
    _route("GET", "/clients/{cid}/suppressionlist.json", get_suppression_list),
    _route("GET", "/lists/{lid}.json", get_list_details),
    _route("GET", "/lists/{lid}/customfields.json", get_custom_fields),
    _route("GET", "/lists/{lid}/stats.json", get_list_stats),
    _route("GET", "/lists/{lid}/{state}.json", get_subscribers, state=STATES),
    _route("GET", "/lists/{lid}/webhooks.json", get_webhooks),
    _route("GET", "/segments/{sid}.json", get_segment_details),
    _route("GET", "/segments/{sid}/active.json", get_segment_subscribers),
    _route("GET", "/campaigns/{campaign}/summary.json", get_campaign_summary),
    _route("GET", "/campaigns/{campaign}/{report}.json", get_campaign_report, report=CAMPAIGN_REPORTS),
    _route("GET", "/campaigns/{campaign}/listsandsegments.json", get_campaign_lists_and_segments),
    _route("GET", "/campaigns/{campaign}/emailclientusage.json", get_email_client_usage),
    _route("GET", "/journeys/{jid}.json", get_journey),
    _route("GET", "/journeys/email/{eid}/{report}.json", get_journey_email_report, report=JOURNEY_REPORTS),
    _route("GET", "/systemdate.json", get_system_date),
    _route("GET", "/subscribers/{lid}.json", get_subscriber),
    _route("POST", "/subscribers/{lid}.json", add_subscriber, status=201),
    _route("POST", "/subscribers/{lid}/import.json", import_subscribers, status=201),
    _route("POST", "/subscribers/{lid}/unsubscribe.json", unsubscribe_subscriber),
    _route("DELETE", "/subscribers/{lid}.json", delete_subscriber),
    _route("POST", "/clients/{cid}/suppress.json", suppress_addresses),
    _route("PUT", "/clients/{cid}/unsuppress.json", unsuppress_address),
    _route("POST", "/lists/{cid}.json", create_list, status=201),
    _route("GET", "/transactional/smartEmail", get_smart_emails),
    _route("GET", "/transactional/smartEmail/{smartid}", get_smart_email),
    _route("GET", "/transactional/classicEmail/groups", get_classic_groups),
    _route("GET", "/transactional/messages", get_messages),
    _route("GET", "/transactional/statistics", get_statistics),
]


def find_route(method: str, path: str) -> tuple[Handler, dict[str, str], int]:
    """The handler, path parameters and success status for a request; 404 for an unknown path, 405 for a
    wrong method."""
    allowed = []
    for route in ROUTES:
        match = route.pattern.fullmatch(path)
        if match and route.method == method:
            return route.handler, match.groupdict(), route.status
        if match:
            allowed.append(route.method)
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


def authenticate(account: Account, header: str | None, grants: OAuthGrants | None = None) -> str | None:
    """Check HTTP Basic auth (API key as username, any password), or an OAuth Bearer token, which acts for
    the whole account; return the key's client scope (None for the administrator key and for tokens)."""
    scheme, _, token = (header or "").partition(" ")
    if grants is not None and scheme.lower() == "bearer":
        grants.check(token.strip())
        return None
    api_key = _basic_username(header)
    if api_key is None:
        raise ApiError(401, 50, "Must supply a valid HTTP Basic Authorization header")
    if api_key == account.api_key:
        return None
    client_id = account.client_for_key(api_key)
    if client_id is None:
        raise ApiError(401, 100, KEY_REFUSED)
    return client_id
