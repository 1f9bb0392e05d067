"""Who is on a list now, and who has left it: read with the read side's own catalogue and paging."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api_facts import SUBSCRIBER_STATES
from ..http import CampaignMonitorAPI
from ..read.catalogue import ENDPOINTS_BY_TABLE

MEMBER_STATES = ("Active", "Unconfirmed")


@dataclass
class ListMembers:
    """A list's addresses by lower-cased address: its members (Active or Unconfirmed) with the address
    as the list spells it, and those who left (Unsubscribed, Bounced, Deleted) with their state."""

    members: dict[str, str] = field(default_factory=dict)
    left: dict[str, str] = field(default_factory=dict)


def list_members(api: CampaignMonitorAPI, list_id: str) -> ListMembers:
    """Every state of the list, paged as the read side pages it (every row once while the data moves).

    The states are read one after another; an address met again in a later state moved while the list
    was read, and its later state is the one kept.
    """
    found = ListMembers()
    for state in SUBSCRIBER_STATES:
        endpoint = ENDPOINTS_BY_TABLE[f"{state.lower()}_subscribers"]
        path = endpoint.path.format(ListID=list_id)
        for page in api.get_pages(path, endpoint.params, endpoint.row_key, endpoint.changed_since_param):
            for row in page:
                email = str(row.get("EmailAddress") or "")
                key = email.lower()
                found.members.pop(key, None)
                found.left.pop(key, None)
                if state in MEMBER_STATES:
                    found.members[key] = email
                else:
                    found.left[key] = state
    return found
