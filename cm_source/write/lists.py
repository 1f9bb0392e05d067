"""A list by its name, as people know it, rather than by an ID copied from the web app; created on request."""

from __future__ import annotations

from ..errors import AccessRefused, InputError
from ..http import CampaignMonitorAPI


def list_named(
    api: CampaignMonitorAPI,
    name: str,
    client_id: str | None = None,
    create: bool = False,
    unsubscribe_setting: str = "AllClientLists",
    confirmed_opt_in: bool = False,
) -> str:
    """The ID of the one list called ``name`` (exactly, else ignoring case) among the clients the key sees,
    or ``client_id``'s. None found: created when ``create`` (in the one client), else refused in one line
    listing the lists there are; several found: refused, listing them."""
    clients = [client_id] if client_id else _client_ids(api)
    lists: dict[str, list[dict]] = {cid: api.get_array(f"clients/{cid}/lists.json") for cid in clients}
    everything = [(cid, row) for cid, rows in lists.items() for row in rows]
    found = [(cid, row) for cid, row in everything if row.get("Name") == name] or [
        (cid, row) for cid, row in everything if str(row.get("Name", "")).casefold() == name.casefold()
    ]
    if len(found) == 1:
        return str(found[0][1]["ListID"])
    if found:
        shown = "; ".join(f"{row['Name']!r} {row['ListID']} (client {cid})" for cid, row in found)
        raise InputError(f"{len(found)} lists are called {name!r}: {shown}: give client_id, or list_id")
    if create:
        if len(clients) != 1:
            raise InputError(f"create=True needs client_id: this key sees {len(clients)} clients")
        body = {
            "Title": name,
            "UnsubscribePage": "",
            "UnsubscribeSetting": unsubscribe_setting,
            "ConfirmedOptIn": confirmed_opt_in,
            "ConfirmationSuccessPage": "",
        }
        return str(api.post(f"lists/{clients[0]}.json", body))
    names = ", ".join(sorted(repr(row.get("Name")) for _, row in everything)) or "none"
    raise InputError(f"no list is called {name!r} (the lists: {names}): check the name, or add create=True")


def _client_ids(api: CampaignMonitorAPI) -> list[str]:
    try:
        return [str(row["ClientID"]) for row in api.get_array("clients.json")]
    except AccessRefused:
        raise InputError("this key cannot list clients (a client's own key): give client_id") from None
