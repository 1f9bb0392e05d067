"""What the sandbox's tests (tests/sandbox) share: HTTP shortcuts, a fresh small sandbox per test for the
tests that change one (Writer, Faulty), subscriber entries to write, Campaign Monitor's response samples
from the shared API notes, and the fixtures below, which a test module takes as
`session, ids = shared.session, shared.ids` after `from helpers import sandbox as shared` (pytest finds
fixtures in a test module's namespace; conftest is not the place for these)."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import requests

from cm_source.sandbox import Account, Sandbox, generate_account

SUBSCRIBER_KEYS = {"EmailAddress", "Name", "Date", "ListJoinedDate", "State", "CustomFields", "ReadsEmailWith"}
# The order of ruby/subscriber_details_with_track_and_sms_pref.json; MobileNumber only when there is one.
DETAIL_KEYS = [
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
]
LONDON = "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London"
SYDNEY = "(GMT+10:00) Canberra, Melbourne, Sydney"
CAMPAIGN_EVENTS = ("opens", "clicks", "bounces", "unsubscribes", "spam")
JOURNEY_REPORTS = ("recipients", "opens", "clicks", "bounces", "unsubscribes")
API_FIXTURES = Path("/work/shared/api/fixtures")


@contextlib.contextmanager
def admin_session(sandbox: Sandbox) -> Iterator[requests.Session]:
    """A keep-alive session authenticated with the sandbox's administrator key."""
    with requests.Session() as http:
        http.auth = (sandbox.api_key, "x")
        yield http


def get(session: requests.Session, sandbox: Sandbox, path: str, **params: object) -> requests.Response:
    return session.get(sandbox.base_url + path, params=params)


def read_all_pages(session: requests.Session, sandbox: Sandbox, path: str, **params: object) -> list[dict]:
    """The Results of every page of `path`, the page count taken from the first."""
    first = get(session, sandbox, path, **params).json()
    rows = first["Results"]
    for page in range(2, first["NumberOfPages"] + 1):
        rows += get(session, sandbox, path, page=page, **params).json()["Results"]
    return rows


def all_rows(account: Account) -> Iterator[tuple[str, str, dict]]:
    """(list_id, state, row) for every subscriber row."""
    for list_id, by_state in account.subscribers.items():
        for state, rows in by_state.items():
            for row in rows:
                yield list_id, state, row


def client_in(account: Account, time_zone: str) -> str:
    """The first client in `time_zone`."""
    zones = {cid: details["BasicDetails"]["TimeZone"] for cid, details in account.client_details.items()}
    return next(cid for cid, zone in zones.items() if zone == time_zone)


def newest_campaign(account: Account, client_id: str) -> str:
    return max(account.campaigns[client_id], key=lambda row: row["SentDate"])["CampaignID"]


def api_fixture(name: str) -> Any:
    """A response sample of Campaign Monitor's client libraries, from the shared API notes."""
    return json.loads((API_FIXTURES / name).read_text(encoding="utf-8"))


def fixture_row_keys(name: str) -> set[str]:
    """The keys of the first row of a sample, a bare array or a paged envelope."""
    body = api_fixture(name)
    return set((body["Results"] if isinstance(body, dict) else body)[0])


def as_key(row: dict) -> tuple:
    """A row as a hashable value, to count exact repeats."""
    return tuple(sorted((name, json.dumps(value, ensure_ascii=False)) for name, value in row.items()))


def person(email: Any, **details: Any) -> dict:
    """A subscriber entry that passes validation unless `details` break it."""
    return {"EmailAddress": email, "ConsentToTrack": "Yes", **details}


def field(key: str, value: str, **extra: Any) -> dict:
    return {"Key": key, "Value": value, **extra}


def counts(result: dict) -> tuple[int, int, int]:
    return result["TotalUniqueEmailsSubmitted"], result["TotalExistingSubscribers"], result["TotalNewSubscribers"]


def basic_auth(sandbox: Sandbox) -> dict[str, str]:
    """The Authorization header of the administrator key, for raw connections."""
    token = base64.b64encode(f"{sandbox.api_key}:x".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Writer:
    """A fresh sandbox and shortcuts for its first list, which has every field type and every state."""

    def __init__(self, sandbox: Sandbox, http: requests.Session):
        self.sandbox, self.http, self.account = sandbox, http, sandbox.account
        self.client_id = self.account.clients[0]["ClientID"]
        self.list_id = self.account.lists[self.client_id][0]["ListID"]
        self.url = f"{sandbox.base_url}/subscribers/{self.list_id}"
        self.now = self.account.system_date

    def import_(self, subscribers: list, **options: Any) -> requests.Response:
        return self.http.post(self.url + "/import.json", json={"Subscribers": subscribers, **options})

    def add(self, subscriber: dict, **options: Any) -> requests.Response:
        return self.http.post(self.url + ".json", json={**subscriber, **options})

    def details(self, email: str) -> dict:
        return self.http.get(self.url + ".json", params={"email": email}).json()

    def served(self, state: str = "active") -> list[dict]:
        """What GET /lists/{lid}/{state}.json serves, in its order, with consents and mobile numbers."""
        path = f"/lists/{self.list_id}/{state}.json"
        flags = {"includetrackingpreference": "true", "includesmspreference": "true"}
        return read_all_pages(self.http, self.sandbox, path, **flags)

    def emails(self, state: str = "active") -> list[str]:
        return [row["EmailAddress"] for row in self.served(state)]

    def generated(self, state: str) -> dict:
        """A generated row in `state` with an ASCII address (so upper() is the same address)."""
        return next(row for row in self.account.subscribers[self.list_id][state] if row["EmailAddress"].isascii())


class Faulty:
    """A fresh sandbox, its switches, and shortcuts for its first list (148 Active rows: 15 pages of 10)."""

    def __init__(self, sandbox: Sandbox, http: requests.Session):
        self.sandbox, self.http, self.faults, self.account = sandbox, http, sandbox.faults, sandbox.account
        self.list_id = self.account.lists[self.account.clients[0]["ClientID"]][0]["ListID"]
        self.active = f"/lists/{self.list_id}/active.json"

    def get(self, path: str, **params: object) -> requests.Response:
        return self.http.get(self.sandbox.base_url + path, params=params, timeout=10)

    def recorded_faults(self) -> list[str | None]:
        return [request.fault for request in self.sandbox.requests]

    def stored_emails(self, state: str = "Active") -> list[str]:
        """The list's addresses in `state`, in the API's default order (email, case-insensitive)."""
        emails = [row["EmailAddress"] for row in self.account.subscribers[self.list_id][state]]
        return sorted(emails, key=lambda email: (email.casefold(), email))

    def read_pages(self, path: str, size: int = 10) -> list[str]:
        """Page through `path` as a connector does (page 1, 2, … up to NumberOfPages of the latest answer)."""
        emails, page = [], 1
        while True:
            body = self.get(path, page=page, pagesize=size).json()
            emails += [row["EmailAddress"] for row in body["Results"]]
            if page >= body["NumberOfPages"]:
                return emails
            page += 1

    def connection(self) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
        """A raw keep-alive connection, the API base path and auth headers."""
        base = urlsplit(self.sandbox.base_url)
        connection = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
        return connection, base.path, basic_auth(self.sandbox)


Fresh = TypeVar("Fresh", Writer, Faulty)


@contextlib.contextmanager
def _fresh_sandbox(kind: type[Fresh]) -> Iterator[Fresh]:
    """A sandbox of its own (200 subscribers) for a test that changes it, running, as a Writer or Faulty."""
    with Sandbox(generate_account(subscribers=200)) as running, admin_session(running) as http:
        yield kind(running, http)


@pytest.fixture(scope="module")
def session(sandbox: Sandbox) -> Iterator[requests.Session]:
    """An administrator session on the module's sandbox (conftest's, over the default account)."""
    with admin_session(sandbox) as http:
        yield http


@pytest.fixture(scope="module")
def ids(account: Account) -> dict[str, str]:
    """Handy IDs: the big client and list, the small client, its empty list and one of its lists."""
    big_client, small_client = (client["ClientID"] for client in account.clients)
    return {
        "big_client": big_client,
        "small_client": small_client,
        "big_list": account.lists[big_client][0]["ListID"],
        "small_list": account.lists[small_client][0]["ListID"],
        "empty_list": account.lists[small_client][-1]["ListID"],
    }


@pytest.fixture
def writer() -> Iterator[Writer]:
    """A fresh sandbox to write to (every test that writes gets its own, so the module's stays as generated)."""
    with _fresh_sandbox(Writer) as fresh:
        yield fresh


@pytest.fixture
def faulty() -> Iterator[Faulty]:
    """A fresh sandbox whose fault switches a test flips (switches and insert_while_paging change it)."""
    with _fresh_sandbox(Faulty) as fresh:
        yield fresh
