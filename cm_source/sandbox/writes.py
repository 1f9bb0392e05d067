"""The /subscribers/{lid} endpoints: read one subscriber back, add one, import up to 1000, unsubscribe
or delete one; and a client's suppression list: suppress many, unsuppress one. Every write goes through
ListWrite, which finds rows by address in the list's member index and stores what changed as new lists."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api_facts import IMPORT_LIMIT as MAX_IMPORT
from .account import STATES, Account
from .messages import ApiError, ApiRequest
from .reads import client_in_path, list_in_path
from .validation import SubscriberWrite, checked_email, entry_address, subscriber_write

INACTIVE_STATES = ("Unsubscribed", "Bounced", "Deleted")
# Stored rows a write changes above which their places are looked up in a map rather than one by one.
MANY_ROWS = 16
NOT_IN_LIST = "Subscriber not in list or has already been removed."
SUBSCRIBER_DETAIL_FIELDS = (
    "EmailAddress",
    "Name",
    "MobileNumber",
    "Date",
    "ListJoinedDate",
    "State",
    "CustomFields",
    "ReadsEmailWith",
    "ConsentToTrack",
    "ConsentToSendSms",
)


def new_row(email: str, now: str) -> dict:
    """A subscriber about to join a list: Active as of `now`, consents "No" until given."""
    return {
        "EmailAddress": email,
        "Name": "",
        "Date": now,
        "ListJoinedDate": now,
        "State": "Active",
        "CustomFields": [],
        "ReadsEmailWith": "",
        "ConsentToTrack": "No",
        "ConsentToSendSms": "No",
    }


def _merged_custom_fields(stored: list[dict], changes: dict[str, list[str]], fields: list[dict]) -> list[dict]:
    """The stored values with the changed fields replaced, in the list's field order, a multi-select
    repeating its Key once per option as the API serves it."""
    values: dict[str, list[str]] = {definition["FieldName"]: [] for definition in fields}
    for item in stored:
        values.setdefault(item["Key"], []).append(item["Value"])
    values.update(changes)
    return [{"Key": name, "Value": value} for name, chosen in values.items() for value in chosen]


@dataclass(eq=False)
class _MemberIndex:
    """Where each address of one list is stored: case-folded address -> (state, the row), for exactly the
    state lists in `lists` (by identity, in the list's order of states), and per state the id() of each
    row in order, so that a row's place is found by a C-level scan of integers instead of keeping every
    row's position up to date (which made each write cost a pass over the whole list)."""

    lists: dict[str, list[dict]]
    where: dict[str, tuple[str, dict]]
    ids: dict[str, list[int]]

    def row(self, key: str) -> dict | None:
        """The row stored for a case-folded address, if any."""
        spot = self.where.get(key)
        return None if spot is None else spot[1]

    def position(self, state: str, row: dict) -> int:
        return self.ids[state].index(id(row))


def _member_index(account: Account, list_id: str) -> _MemberIndex:
    """The list's index, kept up to date by ListWrite and rebuilt (once) whenever something else has
    replaced one of its state lists (insert_while_paging, or a test). A ValueError when the stored rows
    break Account's rule for them (the five STATES, each row in its own State's list, no address twice),
    which every write relies on."""
    members = account.subscribers[list_id]
    index = account.derived.member_indexes.get(list_id)
    if (
        index is not None
        and list(members) == list(index.lists)
        and all(members[state] is rows for state, rows in index.lists.items())
    ):
        return index
    if sorted(members) != sorted(STATES):
        raise ValueError(f"list {list_id} holds the states {', '.join(members)}, not {', '.join(STATES)}")
    where: dict[str, tuple[str, dict]] = {}
    for state, rows in members.items():
        for row in rows:
            key = row["EmailAddress"].casefold()
            if row["State"] != state or key in where:
                raise ValueError(f"list {list_id}: {row['EmailAddress']} is stored twice or in another state's rows")
            where[key] = (state, row)
    index = _MemberIndex(dict(members), where, {state: [id(row) for row in rows] for state, rows in members.items()})
    account.derived.member_indexes[list_id] = index
    return index


def _without(items: list, positions: set[int]) -> list:
    """`items` less the given positions, joined from slices (C-level copies)."""
    kept: list = []
    start = 0
    for position in sorted(positions):
        kept.extend(items[start:position])
        start = position + 1
    kept.extend(items[start:])
    return kept


def _suppressed_addresses(account: Account, client_id: str) -> set[str]:
    """The client's suppressed addresses, case-folded; rebuilt when its suppression list was replaced."""
    rows = account.suppression_list[client_id]
    cached = account.derived.suppressed.get(client_id)
    if cached is None or cached[0] is not rows:
        cached = (rows, {row["EmailAddress"].casefold() for row in rows})
        account.derived.suppressed[client_id] = cached
    return cached[1]


@dataclass
class _StateChange:
    """What saving one write does to one state's rows."""

    updated: dict[int, dict] = field(default_factory=dict)  # position -> the row written over it
    leaving: set[int] = field(default_factory=set)  # positions of rows moving to another state
    arriving: list[tuple[int, int, str, dict]] = field(default_factory=list)  # (old state's rank, position, key, row)
    new: list[tuple[str, dict]] = field(default_factory=list)  # (key, row) of addresses new to the list


class ListWrite:
    """Upserts into one list, run under the account lock. The API matches addresses ignoring case, so
    rows are found by case-folded address through the list's member index and the client's suppressed
    addresses through _suppressed_addresses; save() stores the outcome as new lists, never editing what a
    reply may still be encoding; what it does per stored row of the list is C-level copying and scanning,
    its Python work grows with the rows written.

    The outcome is that of putting every row of the list (state by state, in stored order) into one
    dict by case-folded address, upserting into it, and storing each state's rows in the dict's order:
    an updated row keeps its place, a row that changes state goes after the rows of its new state that
    came from earlier states (by its old state, then its old place), and new rows come last."""

    def __init__(self, account: Account, list_id: str, resubscribe: bool):
        self.account, self.list_id, self.resubscribe = account, list_id, resubscribe
        self.fields = account.custom_fields[list_id]
        self.owner = account.list_owner(list_id) or ""  # never "": handlers check the list first
        self.index = _member_index(account, list_id)
        self.suppressed = _suppressed_addresses(account, self.owner)
        self.lifted: set[str] = set()  # suppressed addresses this write resubscribes
        self.changed: dict[str, dict] = {}  # the rows written, by case-folded address, in first-write order

    def _current(self, key: str) -> dict | None:
        """The row stored (or already written by this write) for a case-folded address."""
        return self.changed[key] if key in self.changed else self.index.row(key)

    def upsert(self, wanted: SubscriberWrite) -> bool:
        """Add or update one subscriber; True when it is new to the list. An existing row keeps its
        address spelling and its state unless resubscribing. A suppressed address new to the list is
        refused (204) unless resubscribing, which also lifts the suppression."""
        key = wanted.email.casefold()
        current = self._current(key)
        suppressed = key in self.suppressed and key not in self.lifted
        if current is None and suppressed and not self.resubscribe:
            raise ApiError(400, 204, "The email address is in the client's suppression list; use Resubscribe")
        if self.resubscribe and suppressed:
            self.lifted.add(key)
        self.changed[key] = self._merged(current or new_row(wanted.email, self.account.system_date), wanted)
        return current is None

    def unsubscribe(self, email: str) -> None:
        """Move the list's subscriber with this address to Unsubscribed as of the account's date; one
        that has already left (Unsubscribed, Bounced, Deleted) stays as it is. 203 when the list has no
        such address."""
        current = self._member(email)
        if current["State"] not in INACTIVE_STATES:
            self.changed[email.casefold()] = {**current, "State": "Unsubscribed", "Date": self.account.system_date}

    def delete(self, email: str) -> None:
        """Move the list's subscriber with this address to Deleted as of the account's date, from any
        state; one already Deleted stays as it is. 203 when the list has no such address."""
        current = self._member(email)
        if current["State"] != "Deleted":
            self.changed[email.casefold()] = {**current, "State": "Deleted", "Date": self.account.system_date}

    def _member(self, email: str) -> dict:
        current = self._current(email.casefold())
        if current is None:
            raise ApiError(400, 203, NOT_IN_LIST)
        return current

    def _merged(self, current: dict, wanted: SubscriberWrite) -> dict:
        """A new row: what was given replaces what is stored; resubscribing moves an inactive row back
        to Active as of the account's date (keeping ListJoinedDate)."""
        fields = _merged_custom_fields(current["CustomFields"], wanted.custom_fields, self.fields)
        row = {**current, "CustomFields": fields}
        if wanted.name is not None:
            row["Name"] = wanted.name
        if wanted.mobile_number is not None:
            row["MobileNumber"] = wanted.mobile_number
        consents = {"ConsentToTrack": wanted.consent_to_track, "ConsentToSendSms": wanted.consent_to_send_sms}
        row.update((name, value) for name, value in consents.items() if value != "Unchanged")
        if self.resubscribe and row["State"] in INACTIVE_STATES:
            row.update(State="Active", Date=self.account.system_date)
        return row

    def save(self) -> None:
        """Store the written rows in their states' lists, copying only the state lists that change, and
        drop lifted suppressions; the GET endpoints sort, so new rows take their place in any order."""
        if self.lifted:
            suppressions = self.account.suppression_list[self.owner]
            self.account.suppression_list[self.owner] = [
                row for row in suppressions if row["EmailAddress"].casefold() not in self.lifted
            ]
        rank = {state: number for number, state in enumerate(self.index.lists)}
        changes: dict[str, _StateChange] = {}
        position_of = self._positions()
        for key, row in self.changed.items():
            spot, state = self.index.where.get(key), row["State"]
            if spot is None:
                changes.setdefault(state, _StateChange()).new.append((key, row))
                continue
            position = position_of(*spot)
            if spot[0] == state:
                changes.setdefault(state, _StateChange()).updated[position] = row
            else:
                changes.setdefault(spot[0], _StateChange()).leaving.add(position)
                changes.setdefault(state, _StateChange()).arriving.append((rank[spot[0]], position, key, row))
        members = self.account.subscribers[self.list_id]
        for state, change in changes.items():
            rows, ids = self._stored(state, rank[state], change)
            members[state] = self.index.lists[state] = rows
            self.index.ids[state] = ids
        for key, row in self.changed.items():
            self.index.where[key] = (row["State"], row)

    def _positions(self) -> Callable[[str, dict], int]:
        """How to find a stored row's place: a scan per row for a few rows (one unsubscribe), one map
        of the states touched for many (an import of a thousand)."""
        touched = [spot for spot in map(self.index.where.get, self.changed) if spot is not None]
        if len(touched) <= MANY_ROWS:
            return self.index.position
        maps = {
            state: {ident: place for place, ident in enumerate(self.index.ids[state])}
            for state in {state for state, _ in touched}
        }
        return lambda state, row: maps[state][id(row)]

    def _stored(self, state: str, rank: int, change: _StateChange) -> tuple[list[dict], list[int]]:
        """The new rows of one state and their ids; always new lists, since replies may still be encoding
        the old ones."""
        own, ids = self.index.lists[state], self.index.ids[state]
        if change.updated:
            own, ids = list(own), list(ids)
            for position, row in change.updated.items():
                own[position] = row
                ids[position] = id(row)
        if change.leaving:
            own, ids = _without(own, change.leaving), _without(ids, change.leaving)
        moved = sorted(change.arriving, key=lambda arrival: arrival[:2])
        ahead = [row for number, _, _, row in moved if number < rank]
        behind = [row for number, _, _, row in moved if number > rank] + [row for _, row in change.new]
        if not ahead and not behind:
            return own, ids
        return ahead + own + behind, [id(row) for row in ahead] + ids + [id(row) for row in behind]


def _resubscribe(body: dict) -> bool:
    """Only a JSON true resubscribes: moving people back onto a list must be asked for explicitly."""
    return body.get("Resubscribe") is True


def _last_occurrences(entries: list[Any]) -> tuple[list[Any], list[str]]:
    """Entries unique by case-folded address, the last occurrence winning (in the first one's place),
    and each repeated address once, as last spelled. Entries without an address never repeat."""
    latest: dict[Any, Any] = {}
    repeated: dict[Any, None] = {}
    for position, entry in enumerate(entries):
        email = entry_address(entry)
        key = email.casefold() if email else position
        if key in latest:
            repeated[key] = None
        latest[key] = entry
    return list(latest.values()), [entry_address(latest[key]) for key in repeated]


def get_subscriber(request: ApiRequest) -> dict:
    """GET /subscribers/{lid}.json?email=: one subscriber from whichever state it is in, with its consents."""
    list_id = list_in_path(request)
    email = checked_email(request.query.get("email", ""))
    row = _member_index(request.account, list_id).row(email.casefold())
    if row is None:
        raise ApiError(400, 203, NOT_IN_LIST)
    return {name: row[name] for name in SUBSCRIBER_DETAIL_FIELDS if name in row}


def add_subscriber(request: ApiRequest) -> str:
    """POST /subscribers/{lid}.json: add or update one subscriber; answers with its address as sent."""
    list_id = list_in_path(request)
    body = request.body
    if not isinstance(body, dict):
        raise ApiError(400, 400, "The request body must be a JSON object describing one subscriber")
    write = ListWrite(request.account, list_id, _resubscribe(body))
    wanted = subscriber_write(body, write.fields)
    write.upsert(wanted)
    write.save()
    return wanted.email


def import_subscribers(request: ApiRequest) -> dict:
    """POST /subscribers/{lid}/import.json: upsert up to 1000 subscribers. A subscriber that fails is
    skipped and the others still land; then the answer is 400 Code 210 with the result as ResultData."""
    list_id = list_in_path(request)
    body = request.body
    entries = body.get("Subscribers") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise ApiError(400, 400, "The request body must be a JSON object with a Subscribers array")
    if len(entries) > MAX_IMPORT:
        raise ApiError(400, 209, f"At most {MAX_IMPORT} subscribers can be imported in one request")
    if not entries:
        raise ApiError(400, 212, "No subscribers to import: the Subscribers array is empty")
    unique, duplicates = _last_occurrences(entries)
    write = ListWrite(request.account, list_id, _resubscribe(body))
    new, failures = 0, []
    for entry in unique:
        try:
            new += write.upsert(subscriber_write(entry, write.fields))
        except ApiError as error:
            failures.append({"EmailAddress": entry_address(entry), "Code": error.code, "Message": error.message})
    write.save()
    result = {
        "TotalUniqueEmailsSubmitted": len(unique),
        "TotalExistingSubscribers": len(unique) - len(failures) - new,
        "TotalNewSubscribers": new,
        "DuplicateEmailsInSubmission": duplicates,
        "FailureDetails": failures,
    }
    if failures:
        raise ApiError(400, 210, "Subscriber Import had some failures", result_data=result)
    return result


def unsubscribe_subscriber(request: ApiRequest) -> None:
    """POST /subscribers/{lid}/unsubscribe.json {"EmailAddress"}: see ListWrite.unsubscribe; 200 with an
    empty body. The reference gives no error codes for it: an unusable address is 1 and one the list
    lacks is 203, as for GET /subscribers/{lid}.json. A list whose UnsubscribeSetting is AllClientLists
    unsubscribes the address from every list of its client and adds it to the client's suppression list."""
    list_id = list_in_path(request)
    body = request.body
    if not isinstance(body, dict):
        raise ApiError(400, 400, "The request body must be a JSON object with an EmailAddress")
    email = checked_email(entry_address(body))
    write = ListWrite(request.account, list_id, resubscribe=False)
    write.unsubscribe(email)
    write.save()
    account = request.account
    if account.list_details.get(list_id, {}).get("UnsubscribeSetting") != "AllClientLists":
        return
    for other in account.lists[write.owner]:
        if other["ListID"] != list_id and _member_index(account, other["ListID"]).row(email.casefold()) is not None:
            elsewhere = ListWrite(account, other["ListID"], resubscribe=False)
            elsewhere.unsubscribe(email)
            elsewhere.save()
    _suppress(account, write.owner, [email], "Unsubscribed")


def delete_subscriber(request: ApiRequest) -> None:
    """DELETE /subscribers/{lid}.json?email=: see ListWrite.delete; 200 with an empty body."""
    list_id = list_in_path(request)
    email = checked_email(request.query.get("email", ""))
    write = ListWrite(request.account, list_id, resubscribe=False)
    write.delete(email)
    write.save()


def _suppress(account: Account, client_id: str, emails: list[str], reason: str) -> None:
    """Add the addresses not yet suppressed to the client's suppression list, as of the account's date."""
    known = set(_suppressed_addresses(account, client_id))
    added = []
    for email in emails:
        if email.casefold() not in known:
            known.add(email.casefold())
            added.append(
                {"SuppressionReason": reason, "EmailAddress": email, "Date": account.system_date, "State": "Suppressed"}
            )
    if added:
        account.suppression_list[client_id] = account.suppression_list[client_id] + added


def suppress_addresses(request: ApiRequest) -> None:
    """POST /clients/{cid}/suppress.json {"EmailAddresses": [...]}: every address is checked first (400 Code 1
    names the first bad one and suppresses none); list memberships do not change. The reason the sandbox
    records ("Manually suppressed") is its own: the reference does not give the API's."""
    client_id = client_in_path(request)
    body = request.body
    emails = body.get("EmailAddresses") if isinstance(body, dict) else None
    if not isinstance(emails, list) or not emails:
        raise ApiError(400, 400, "The request body must be a JSON object with a non-empty EmailAddresses array")
    _suppress(
        request.account,
        client_id,
        [checked_email(e if isinstance(e, str) else "") for e in emails],
        "Manually suppressed",
    )


def unsuppress_address(request: ApiRequest) -> None:
    """PUT /clients/{cid}/unsuppress.json?email=: take one address off the client's suppression list; an
    address that is not on it is answered 200 as well (the reference gives no error for it)."""
    client_id = client_in_path(request)
    key = checked_email(request.query.get("email", "")).casefold()
    rows = request.account.suppression_list[client_id]
    kept = [row for row in rows if row["EmailAddress"].casefold() != key]
    if len(kept) != len(rows):
        request.account.suppression_list[client_id] = kept


UNSUBSCRIBE_SETTINGS = ("AllClientLists", "OnlyThisList")


def create_list(request: ApiRequest) -> str:
    """POST /lists/{cid}.json {"Title", "UnsubscribePage", "UnsubscribeSetting", "ConfirmedOptIn",
    "ConfirmationSuccessPage"}: a new, empty list with no custom fields; 201 with its ID as a JSON string.
    A missing title or an unknown setting is 400 (the reference gives no codes: the sandbox's are 400)."""
    client_id = client_in_path(request)
    body = request.body if isinstance(request.body, dict) else {}
    title = body.get("Title")
    if not isinstance(title, str) or not title.strip():
        raise ApiError(400, 400, "The list needs a Title")
    setting = body.get("UnsubscribeSetting", "AllClientLists")
    if setting not in UNSUBSCRIBE_SETTINGS:
        raise ApiError(400, 400, f"UnsubscribeSetting must be one of {', '.join(UNSUBSCRIBE_SETTINGS)}")
    account = request.account
    list_id = secrets.token_hex(16)
    account.lists[client_id] = account.lists[client_id] + [{"ListID": list_id, "Name": title}]
    account.list_details[list_id] = {
        "ConfirmedOptIn": body.get("ConfirmedOptIn") is True,
        "Title": title,
        "UnsubscribePage": str(body.get("UnsubscribePage") or ""),
        "ListID": list_id,
        "ConfirmationSuccessPage": str(body.get("ConfirmationSuccessPage") or ""),
        "UnsubscribeSetting": setting,
    }
    account.custom_fields[list_id] = []
    account.webhooks[list_id] = []
    account.subscribers[list_id] = {state: [] for state in STATES}
    return list_id
