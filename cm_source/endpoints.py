"""The catalogue: one row per table the source loads, and nothing else.

Adding a table is adding a row here; ``source.py`` builds every resource from these rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional, Tuple

Parent = Literal["client", "list"]

# Subscriber reads ask for every optional column the API can add, so nothing a row holds is lost.
SUBSCRIBER_PARAMS: Mapping[str, str] = {
    "includetrackingpreference": "true",
    "includesmspreference": "true",
    "orderfield": "email",
    "orderdirection": "asc",
}


@dataclass(frozen=True)
class Endpoint:
    """How one table is read: where from, whether paged, its key and what it is read under."""

    table: str
    path: str  # relative to the base URL; {client_id} / {list_id} are filled from the parent row
    paged: bool
    primary_key: Tuple[str, ...]
    parent: Optional[Parent] = None
    params: Mapping[str, str] = field(default_factory=dict)
    timestamps: Tuple[str, ...] = ()  # API fields holding "YYYY-MM-DD HH:MM:SS" local times
    row_key: str = ""  # the API field that tells rows of a paged read apart (to re-read safely)
    changed_since_param: str = ""  # the filter for rows changed since a time, to catch up after paging


ENDPOINTS: Tuple[Endpoint, ...] = (
    Endpoint("clients", "clients.json", paged=False, primary_key=("client_id",)),
    Endpoint(
        "campaigns", "clients/{client_id}/campaigns.json", paged=True,
        primary_key=("campaign_id",), parent="client", timestamps=("SentDate",), row_key="CampaignID",
    ),
    Endpoint(
        "scheduled_campaigns", "clients/{client_id}/scheduled.json", paged=False,
        primary_key=("campaign_id",), parent="client", timestamps=("DateScheduled", "DateCreated"),
    ),
    Endpoint(
        "draft_campaigns", "clients/{client_id}/drafts.json", paged=False,
        primary_key=("campaign_id",), parent="client", timestamps=("DateCreated",),
    ),
    Endpoint("lists", "clients/{client_id}/lists.json", paged=False, primary_key=("list_id",), parent="client"),
    Endpoint("segments", "clients/{client_id}/segments.json", paged=False, primary_key=("segment_id",), parent="client"),
    Endpoint("templates", "clients/{client_id}/templates.json", paged=False, primary_key=("template_id",), parent="client"),
    Endpoint(
        "suppression_list", "clients/{client_id}/suppressionlist.json", paged=True,
        primary_key=("client_id", "email_address"), parent="client", timestamps=("Date",),
        params={"orderfield": "email", "orderdirection": "asc"}, row_key="EmailAddress",
    ),
    *(
        Endpoint(
            f"{state}_subscribers", f"lists/{{list_id}}/{state}.json", paged=True,
            primary_key=("list_id", "email_address"), parent="list",
            params=SUBSCRIBER_PARAMS, timestamps=("Date", "ListJoinedDate"), row_key="EmailAddress",
            changed_since_param="date",
        )
        for state in ("active", "unsubscribed", "bounced")
    ),
)

ENDPOINTS_BY_TABLE: Mapping[str, Endpoint] = {endpoint.table: endpoint for endpoint in ENDPOINTS}
TABLES: Tuple[str, ...] = tuple(ENDPOINTS_BY_TABLE)
