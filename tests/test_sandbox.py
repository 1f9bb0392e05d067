"""The sandbox itself, over real HTTP: generated data, auth, paging, shapes, request recording and faults."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json
import math
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
import requests

from cm_source.sandbox import STATES, Account, Faults, RecordedRequest, Sandbox, generate_account
from helpers.samples import sample

SUBSCRIBER_KEYS = {"EmailAddress", "Name", "Date", "ListJoinedDate", "State", "CustomFields", "ReadsEmailWith"}
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
ENVELOPE_KEYS = {
    "Results", "ResultsOrderedBy", "OrderDirection", "PageNumber", "PageSize",
    "RecordsOnThisPage", "TotalNumberOfRecords", "NumberOfPages",
}


@pytest.fixture(scope="module")
def session(sandbox: Sandbox):
    with requests.Session() as http:
        http.auth = (sandbox.api_key, "x")
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


def get(session: requests.Session, sandbox: Sandbox, path: str, **params: object) -> requests.Response:
    return session.get(sandbox.base_url + path, params=params)


def all_rows(account: Account):
    """(list_id, state, row) for every subscriber row."""
    for list_id, by_state in account.subscribers.items():
        for state, rows in by_state.items():
            for row in rows:
                yield list_id, state, row


def read_all_pages(session, sandbox, path: str, **params: object) -> list[dict]:
    first = get(session, sandbox, path, **params).json()
    rows = first["Results"]
    for page in range(2, first["NumberOfPages"] + 1):
        rows += get(session, sandbox, path, page=page, **params).json()["Results"]
    return rows


# ---- generated data -------------------------------------------------------------------------------


def test_generation_is_deterministic(account: Account) -> None:
    assert generate_account() == account
    assert generate_account(seed=7, clients=2, lists_per_client=3, subscribers=3000) == account
    other = generate_account(seed=8)
    assert other.api_key != account.api_key
    assert other.subscribers != account.subscribers


def test_default_layout(account: Account) -> None:
    assert len(account.clients) == 2
    assert all(len(account.lists[client["ClientID"]]) >= 2 for client in account.clients)
    counts = {
        lid: {state: len(rows) for state, rows in by_state.items()} for lid, by_state in account.subscribers.items()
    }
    assert sum(sum(per_state.values()) for per_state in counts.values()) == 3000 + 4  # + the four TIME_ROWS
    assert max(per_state["Active"] for per_state in counts.values()) > 2000
    assert any(sum(per_state.values()) == 0 for per_state in counts.values())
    assert all(any(per_state[state] for per_state in counts.values()) for state in STATES)
    campaign_counts = sorted(len(rows) for rows in account.campaigns.values())
    assert campaign_counts[-1] == 1050 and campaign_counts[0] < 10
    assert max(len(rows) for rows in account.suppression_list.values()) > 1000
    assert any("Tags" not in row for rows in account.campaigns.values() for row in rows)
    assert all(isinstance(row["TotalRecipients"], int) for rows in account.campaigns.values() for row in rows)


def test_clients_have_distinct_keys_and_time_zones(account: Account) -> None:
    details = list(account.client_details.values())
    keys = {account.api_key, *(detail["ApiKey"] for detail in details)}
    assert len(keys) == len(details) + 1
    assert {detail["BasicDetails"]["TimeZone"] for detail in details} == {
        "(GMT+10:00) Canberra, Melbourne, Sydney",
        "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London",
    }


def test_list_ids_segments_and_details_are_consistent(account: Account) -> None:
    for client_id, lists in account.lists.items():
        list_ids = {row["ListID"] for row in lists}
        assert {row["ListID"] for row in account.segments[client_id]} <= list_ids
        for list_id in list_ids:
            assert account.list_details[list_id]["ListID"] == list_id
            assert account.list_owner(list_id) == client_id


def test_subscriber_rows(account: Account) -> None:
    memberships = Counter()
    for list_id, state, row in all_rows(account):
        assert row["State"] == state
        assert DATE_RE.fullmatch(row["Date"]) and DATE_RE.fullmatch(row["ListJoinedDate"])
        assert row["ListJoinedDate"] <= row["Date"] <= account.system_date
        assert row["ConsentToTrack"] in ("Yes", "No") and row["ConsentToSendSms"] in ("Yes", "No")
        assert "MobileNumber" not in row or re.fullmatch(r"\+[1-9][0-9]{7,14}", row["MobileNumber"])
        field_names = {field["FieldName"] for field in account.custom_fields[list_id]}
        assert all(value["Key"] in field_names and isinstance(value["Value"], str) for value in row["CustomFields"])
        memberships[row["EmailAddress"]] += 1
    for by_state in account.subscribers.values():
        emails = [row["EmailAddress"] for rows in by_state.values() for row in rows]
        assert len(emails) == len(set(emails))
    assert max(memberships.values()) > 1  # the same person is on several lists
    assert any("MobileNumber" in row for _, _, row in all_rows(account))
    assert any("MobileNumber" not in row for _, _, row in all_rows(account))


def test_non_ascii_names_and_addresses(account: Account) -> None:
    names = {row["Name"] for _, _, row in all_rows(account)}
    assert {"Zoë Ångström", "Łukasz Żółć", "山田 太郎"} <= names
    emails = [row["EmailAddress"] for _, _, row in all_rows(account)]
    assert any(not email.split("@")[0].isascii() for email in emails)
    assert any(not email.split("@")[1].isascii() for email in emails)


def test_custom_field_definitions(account: Account) -> None:
    for fields in account.custom_fields.values():
        assert all(re.fullmatch(r"\[[^\[\] ]+\]", field["Key"]) for field in fields)
    every_field = [field for fields in account.custom_fields.values() for field in fields]
    multi = [field for field in every_field if field["DataType"] == "MultiSelectMany"]
    assert multi and all(len(field["FieldOptions"]) >= 2 for field in multi)


# ---- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
    ],
)
def test_missing_or_malformed_auth_is_code_50(sandbox: Sandbox, headers: dict) -> None:
    response = requests.get(sandbox.base_url + "/systemdate.json", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"Code": 50, "Message": "Must supply a valid HTTP Basic Authorization header"}


def test_unknown_key_is_code_100(sandbox: Sandbox) -> None:
    response = requests.get(sandbox.base_url + "/clients.json", auth=("not-a-key", "x"))
    assert response.status_code == 401
    assert response.json() == {"Code": 100, "Message": "Invalid API key"}


def test_admin_key_sees_every_client(session, sandbox, account, ids) -> None:
    assert get(session, sandbox, "/clients.json").json() == account.clients
    for client_id in (ids["big_client"], ids["small_client"]):
        assert get(session, sandbox, f"/clients/{client_id}.json").json() == account.client_details[client_id]


def test_client_key_is_scoped_to_its_client(sandbox, account, ids) -> None:
    key = account.client_details[ids["small_client"]]["ApiKey"]

    def call(path: str) -> requests.Response:
        return requests.get(sandbox.base_url + path, auth=(key, "any password"))

    assert call(f"/clients/{ids['small_client']}/lists.json").json() == account.lists[ids["small_client"]]
    assert call(f"/lists/{ids['small_list']}.json").status_code == 200
    other_client = call(f"/clients/{ids['big_client']}/campaigns.json")
    assert (other_client.status_code, other_client.json()) == (401, {"Code": 102, "Message": "Invalid ClientID"})
    other_list = call(f"/lists/{ids['big_list']}/active.json")
    assert (other_list.status_code, other_list.json()) == (400, {"Code": 101, "Message": "Invalid ListID"})
    listing = call("/clients.json")
    assert listing.status_code == 401 and listing.json()["Code"] == 100
    assert "client API key" in listing.json()["Message"]


# ---- unknown things ---------------------------------------------------------------------------


def test_unknown_client_list_and_path(session, sandbox) -> None:
    client = get(session, sandbox, "/clients/0000/campaigns.json")
    assert (client.status_code, client.json()) == (401, {"Code": 102, "Message": "Invalid ClientID"})
    lst = get(session, sandbox, "/lists/0000/bounced.json")
    assert (lst.status_code, lst.json()) == (400, {"Code": 101, "Message": "Invalid ListID"})
    for path in ("/nope.json", "/lists/x/active"):
        missing = get(session, sandbox, path)
        assert missing.status_code == 404 and missing.json()["Code"] == 404
    outside = session.get(sandbox.base_url.replace("/api/v3.3", "/api/v3.2") + "/clients.json")
    assert outside.status_code == 404 and outside.json()["Code"] == 404


def test_wrong_method_is_405_json(session, sandbox) -> None:
    response = session.post(sandbox.base_url + "/clients.json", json={"Name": "x"})
    assert response.status_code == 405
    assert response.json()["Code"] == 405
    assert response.headers["Allow"] == "GET"
    assert get(session, sandbox, "/systemdate.json").status_code == 200  # connection still usable


# ---- responses -----------------------------------------------------------------------------------


def test_headers_and_utf8_round_trip(session, sandbox, account) -> None:
    list_id, state, row = next(
        (lid, state, row) for lid, state, row in all_rows(account)
        if row["Name"] == "Zoë Ångström" and len(account.subscribers[lid][state]) <= 1000
    )
    response = get(session, sandbox, f"/lists/{list_id}/{state.lower()}.json")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert "Zoë Ångström".encode("utf-8") in response.content and b"\\u00" not in response.content
    served = next(item for item in response.json()["Results"] if item["EmailAddress"] == row["EmailAddress"])
    assert served["Name"] == "Zoë Ångström"
    assert served["EmailAddress"] == "zoë.ångström@bücher.example"


def test_unpaged_collections(session, sandbox, account, ids) -> None:
    client_id = ids["big_client"]
    for collection in ("scheduled", "drafts", "lists", "segments", "templates"):
        response = get(session, sandbox, f"/clients/{client_id}/{collection}.json")
        assert response.json() == getattr(account, collection)[client_id]
    assert get(session, sandbox, f"/clients/{ids['small_client']}/scheduled.json").json() == []
    fields = get(session, sandbox, f"/lists/{ids['big_list']}/customfields.json").json()
    assert fields == account.custom_fields[ids["big_list"]]
    assert get(session, sandbox, f"/lists/{ids['big_list']}.json").json() == account.list_details[ids["big_list"]]
    assert get(session, sandbox, "/systemdate.json").json() == {"SystemDate": account.system_date}


def test_list_stats_count_states(session, sandbox, account, ids) -> None:
    stats = get(session, sandbox, f"/lists/{ids['big_list']}/stats.json").json()
    members = account.subscribers[ids["big_list"]]
    assert len(stats) == 24
    assert stats["TotalActiveSubscribers"] == len(members["Active"])
    assert stats["TotalUnsubscribes"] == len(members["Unsubscribed"])
    assert stats["TotalBounces"] == len(members["Bounced"])
    assert stats["TotalDeleted"] == len(members["Deleted"])
    today = account.system_date[:10]
    assert stats["NewActiveSubscribersToday"] == sum(row["Date"][:10] == today for row in members["Active"])
    windows = [stats[f"NewActiveSubscribers{window}"] for window in ("Today", "ThisWeek", "ThisMonth", "ThisYear")]
    assert windows == sorted(windows)


# ---- paging ----------------------------------------------------------------------------------------


def test_sent_campaigns_page_newest_first(session, sandbox, account, ids) -> None:
    path = f"/clients/{ids['big_client']}/campaigns.json"
    first = get(session, sandbox, path).json()
    assert set(first) == ENVELOPE_KEYS
    assert (first["ResultsOrderedBy"], first["OrderDirection"]) == ("SentDate", "desc")
    counts = (first["PageSize"], first["RecordsOnThisPage"], first["TotalNumberOfRecords"], first["NumberOfPages"])
    assert counts == (1000, 1000, 1050, 2)
    second = get(session, sandbox, path, page=2).json()
    assert (second["PageNumber"], second["RecordsOnThisPage"]) == (2, 50)
    rows = first["Results"] + second["Results"]
    assert [row["SentDate"] for row in rows] == sorted((row["SentDate"] for row in rows), reverse=True)
    assert {row["CampaignID"] for row in rows} == {row["CampaignID"] for row in account.campaigns[ids["big_client"]]}
    ascending = get(session, sandbox, path, orderdirection="asc", pagesize=10).json()
    assert ascending["Results"][0]["SentDate"] == rows[-1]["SentDate"]


def test_sent_campaigns_date_bounds(session, sandbox, account, ids) -> None:
    campaigns = account.campaigns[ids["big_client"]]
    day = campaigns[100]["SentDate"][:10]
    since = get(session, sandbox, f"/clients/{ids['big_client']}/campaigns.json", sentfromdate=day).json()
    assert since["TotalNumberOfRecords"] == sum(row["SentDate"][:10] >= day for row in campaigns)
    until = get(session, sandbox, f"/clients/{ids['big_client']}/campaigns.json", senttodate=day).json()
    assert until["TotalNumberOfRecords"] == sum(row["SentDate"][:10] <= day for row in campaigns)


def test_subscribers_read_in_full_match_the_account(session, sandbox, account, ids) -> None:
    rows = read_all_pages(session, sandbox, f"/lists/{ids['big_list']}/active.json")
    expected = sorted(account.subscribers[ids["big_list"]]["Active"], key=lambda row: row["EmailAddress"].casefold())
    assert len(rows) == len(expected) > 2000
    assert [row["EmailAddress"] for row in rows] == [row["EmailAddress"] for row in expected]
    assert rows[0] == {key: expected[0][key] for key in SUBSCRIBER_KEYS}


def test_page_size_10_and_beyond_last_page(session, sandbox, account, ids) -> None:
    path = f"/lists/{ids['big_list']}/active.json"
    total = len(account.subscribers[ids["big_list"]]["Active"])
    small = get(session, sandbox, path, pagesize=10, page=3).json()
    assert (small["PageSize"], small["PageNumber"], small["RecordsOnThisPage"]) == (10, 3, 10)
    assert small["NumberOfPages"] == math.ceil(total / 10)
    beyond = get(session, sandbox, path, page=4).json()
    assert beyond["Results"] == [] and beyond["RecordsOnThisPage"] == 0
    assert (beyond["PageNumber"], beyond["TotalNumberOfRecords"], beyond["NumberOfPages"]) == (4, total, 3)


def test_empty_list_pages(session, sandbox, ids) -> None:
    for state in STATES:
        body = get(session, sandbox, f"/lists/{ids['empty_list']}/{state.lower()}.json").json()
        assert body["Results"] == []
        assert (body["TotalNumberOfRecords"], body["NumberOfPages"], body["RecordsOnThisPage"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"page": 0}, 800), ({"page": "x"}, 800), ({"page": -1}, 800), ({"page": ""}, 800),
        ({"pagesize": 9}, 801), ({"pagesize": 1001}, 801), ({"pagesize": "ten"}, 801),
        ({"orderfield": "sentdate"}, 802), ({"orderdirection": "up"}, 803), ({"date": "yesterday"}, 5),
    ],
)
def test_paging_validation(session, sandbox, ids, params: dict, code: int) -> None:
    response = get(session, sandbox, f"/lists/{ids['big_list']}/active.json", **params)
    assert response.status_code == 400
    assert response.json()["Code"] == code and response.json()["Message"]


@pytest.mark.parametrize(("orderfield", "key"), [("name", "Name"), ("date", "Date")])
def test_subscriber_orders(session, sandbox, ids, orderfield: str, key: str) -> None:
    path = f"/lists/{ids['small_list']}/active.json"
    body = get(session, sandbox, path, orderfield=orderfield, orderdirection="DESC").json()
    assert (body["ResultsOrderedBy"], body["OrderDirection"]) == (orderfield, "desc")
    values = [row[key].casefold() for row in body["Results"]]
    assert values == sorted(values, reverse=True)


def test_suppression_list_pages(session, sandbox, account, ids) -> None:
    path = f"/clients/{ids['big_client']}/suppressionlist.json"
    rows = read_all_pages(session, sandbox, path, orderfield="date")
    assert len(rows) == len(account.suppression_list[ids["big_client"]]) > 1000
    assert [row["Date"] for row in rows] == sorted(row["Date"] for row in rows)
    assert set(rows[0]) == {"SuppressionReason", "EmailAddress", "Date", "State"}
    assert get(session, sandbox, path, orderfield="name").json()["Code"] == 802


@pytest.mark.parametrize("filter_value", ["2024-01-01", "2024-06-01 12:30"])
def test_date_filter_keeps_rows_on_or_after(session, sandbox, account, ids, filter_value: str) -> None:
    path = f"/lists/{ids['big_list']}/active.json"
    rows = read_all_pages(session, sandbox, path, date=filter_value, orderfield="date")
    stored = account.subscribers[ids["big_list"]]["Active"]
    expected = [row for row in stored if row["Date"][: len(filter_value)] >= filter_value]
    assert 0 < len(rows) == len(expected)
    assert min(row["Date"] for row in rows) >= filter_value


# ---- subscriber fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "extra"),
    [
        ({}, set()),
        ({"includetrackingpreference": "true"}, {"ConsentToTrack"}),
        ({"includesmspreference": "true"}, {"ConsentToSendSms"}),
        ({"includetrackingpreference": "false", "includesmspreference": "no"}, set()),
    ],
)
def test_include_flags(session, sandbox, account, ids, params: dict, extra: set) -> None:
    list_id = ids["small_list"]
    stored = {row["EmailAddress"]: row for row in account.subscribers[list_id]["Unsubscribed"]}
    rows = get(session, sandbox, f"/lists/{list_id}/unsubscribed.json", **params).json()["Results"]
    assert len(rows) == len(stored)
    for row in rows:
        has_mobile = "MobileNumber" in stored[row["EmailAddress"]]
        mobile = {"MobileNumber"} if "ConsentToSendSms" in extra and has_mobile else set()
        assert set(row) == SUBSCRIBER_KEYS | extra | mobile
        assert all(row[key] == stored[row["EmailAddress"]][key] for key in row)


def test_sms_flag_shows_mobile_numbers_where_present(session, sandbox, ids) -> None:
    path = f"/lists/{ids['big_list']}/active.json"
    rows = read_all_pages(session, sandbox, path, includesmspreference="true", includetrackingpreference="TRUE")
    with_mobile = [row for row in rows if "MobileNumber" in row]
    assert 0 < len(with_mobile) < len(rows)
    assert all({"ConsentToTrack", "ConsentToSendSms"} <= set(row) for row in rows)


def test_multi_select_values_repeat_the_key(session, sandbox, account, ids) -> None:
    list_id = ids["small_list"]
    stored = next(
        row for row in account.subscribers[list_id]["Active"]
        if sum(value["Key"] == "interests" for value in row["CustomFields"]) >= 2
    )
    rows = get(session, sandbox, f"/lists/{list_id}/active.json").json()["Results"]
    served = next(row for row in rows if row["EmailAddress"] == stored["EmailAddress"])
    interests = [value["Value"] for value in served["CustomFields"] if value["Key"] == "interests"]
    assert len(interests) >= 2 and len(set(interests)) == len(interests)
    assert served["CustomFields"] == stored["CustomFields"]


# ---- plumbing --------------------------------------------------------------------------------------


def test_requests_are_recorded(session, sandbox, ids) -> None:
    before = len(sandbox.requests)
    get(session, sandbox, f"/lists/{ids['small_list']}/deleted.json", page=2, pagesize=10)
    requests.get(sandbox.base_url + "/clients.json")  # refused for lack of auth, still recorded
    assert sandbox.requests[before:] == [
        RecordedRequest("GET", f"/lists/{ids['small_list']}/deleted.json", {"page": "2", "pagesize": "10"}),
        RecordedRequest("GET", "/clients.json", {}),
    ]


def test_start_and_stop_without_with() -> None:
    sandbox = Sandbox(generate_account(subscribers=50)).start()
    base_url = sandbox.base_url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v3\.3", base_url)
    assert requests.get(base_url + "/systemdate.json", auth=(sandbox.api_key, "x")).status_code == 200
    sandbox.stop()
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(base_url + "/systemdate.json", auth=(sandbox.api_key, "x"), timeout=2)


@contextlib.contextmanager
def sandbox_command(*options: str) -> Iterator[tuple[str, str]]:
    """``python -m cm_source.sandbox`` with ``options``: the base URL and key it prints; stopped after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cm_source.sandbox", *options],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = process.stdout.readline().split()[-1]
        api_key = process.stdout.readline().split()[-1]
        yield base_url, api_key
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_command_line_prints_url_and_key() -> None:
    with sandbox_command("--subscribers", "40", "--seed", "3") as (base_url, api_key):
        assert api_key == generate_account(seed=3, subscribers=40).api_key
        assert requests.get(base_url + "/clients.json", auth=(api_key, "x")).status_code == 200


# ---- one subscriber (read) ---------------------------------------------------------------------------

# The order of ruby/subscriber_details_with_track_and_sms_pref.json; MobileNumber only when there is one.
DETAIL_KEYS = [
    "EmailAddress", "Name", "MobileNumber", "Date", "ListJoinedDate", "State", "CustomFields", "ReadsEmailWith",
    "ConsentToTrack", "ConsentToSendSms",
]


@pytest.mark.parametrize("state", STATES)
def test_one_subscriber_from_any_state(session, sandbox, account, ids, state: str) -> None:
    list_id = ids["small_list"]
    for row in account.subscribers[list_id][state][:3]:
        url = f"{sandbox.base_url}/subscribers/{list_id}.json"
        response = session.get(url, params={"email": row["EmailAddress"].upper()})
        expected = {key: row[key] for key in DETAIL_KEYS if key in row}
        assert response.status_code == 200
        assert list(response.json()) == list(expected) and response.json() == expected
        assert set(DETAIL_KEYS) - {"MobileNumber"} <= set(expected)


def test_one_subscriber_unknown_or_malformed_address(session, sandbox, ids) -> None:
    url = f"{sandbox.base_url}/subscribers/{ids['small_list']}.json"
    unknown = session.get(url, params={"email": "nobody@example.com"})
    assert (unknown.status_code, unknown.json()) == (
        400, {"Code": 203, "Message": "Subscriber not in list or has already been removed."}
    )
    for params in ({}, {"email": "not-an-address"}):
        malformed = session.get(url, params=params)
        assert (malformed.status_code, malformed.json()) == (400, {"Code": 1, "Message": "Invalid Email Address"})


# ---- writes -------------------------------------------------------------------------------------------
# Every test that writes gets its own small sandbox, so the module's sandbox above stays as generated.


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


@pytest.fixture
def writer() -> Iterator[Writer]:
    with Sandbox(generate_account(subscribers=200)) as running, requests.Session() as http:
        http.auth = (running.api_key, "x")
        yield Writer(running, http)


def person(email: Any, **details: Any) -> dict:
    """A subscriber entry that passes validation unless `details` break it."""
    return {"EmailAddress": email, "ConsentToTrack": "Yes", **details}


def field(key: str, value: str, **extra: Any) -> dict:
    return {"Key": key, "Value": value, **extra}


def counts(result: dict) -> tuple[int, int, int]:
    return result["TotalUniqueEmailsSubmitted"], result["TotalExistingSubscribers"], result["TotalNewSubscribers"]


def test_import_all_good_is_201_and_new_rows_are_served_in_order(writer: Writer) -> None:
    new = [
        person("zz.new@example.org", Name="Zed"),
        person("Aa.New@example.com", Name="Ay", MobileNumber="+61412345678", ConsentToSendSms="Yes"),
        person("mm.new@example.net"),
    ]
    response = writer.import_(
        new, Resubscribe=False, QueueSubscriptionBasedAutoResponders=False, RestartSubscriptionBasedAutoresponders=True
    )
    assert response.status_code == 201
    assert response.json() == {
        "TotalUniqueEmailsSubmitted": 3, "TotalExistingSubscribers": 0, "TotalNewSubscribers": 3,
        "DuplicateEmailsInSubmission": [], "FailureDetails": [],
    }
    assert set(response.json()) == set(sample("import_subscribers.json"))
    emails = writer.emails()
    assert emails == sorted(emails, key=str.casefold)
    assert {"zz.new@example.org", "Aa.New@example.com", "mm.new@example.net"} <= set(emails)
    details = writer.details("aa.new@example.com")
    assert list(details) == DETAIL_KEYS
    assert details == {
        "EmailAddress": "Aa.New@example.com", "Name": "Ay", "MobileNumber": "+61412345678", "Date": writer.now,
        "ListJoinedDate": writer.now, "State": "Active", "CustomFields": [], "ReadsEmailWith": "",
        "ConsentToTrack": "Yes", "ConsentToSendSms": "Yes",
    }


def test_import_with_some_failures_is_400_210_and_keeps_the_good_rows(writer: Writer) -> None:
    existing = writer.generated("Active")
    before = len(writer.emails())
    response = writer.import_([
        person("fresh@example.com", Name="Fresh"),
        person("example+1@example"),
        person(existing["EmailAddress"].upper(), Name="Renamed"),
    ])
    assert response.status_code == 400
    assert response.json() == {
        "Code": 210,
        "Message": "Subscriber Import had some failures",
        "ResultData": {
            "TotalUniqueEmailsSubmitted": 3, "TotalExistingSubscribers": 1, "TotalNewSubscribers": 1,
            "DuplicateEmailsInSubmission": [],
            "FailureDetails": [{"EmailAddress": "example+1@example", "Code": 1, "Message": "Invalid Email Address"}],
        },
    }
    partial = sample("import_subscribers_partial_success.json")
    assert set(response.json()) == set(partial) and set(response.json()["ResultData"]) == set(partial["ResultData"])
    emails = writer.emails()
    assert len(emails) == before + 1 and "fresh@example.com" in emails
    assert writer.details("fresh@example.com")["Name"] == "Fresh"
    renamed = writer.details(existing["EmailAddress"])
    assert (renamed["EmailAddress"], renamed["Name"]) == (existing["EmailAddress"], "Renamed")


def test_import_of_more_than_1000_is_209_and_imports_nothing(writer: Writer) -> None:
    before = writer.emails()
    response = writer.import_([person(f"bulk{n}@example.com") for n in range(1001)])
    assert response.status_code == 400
    assert set(response.json()) == {"Code", "Message"} and response.json()["Code"] == 209
    assert writer.emails() == before
    exactly = writer.import_([person(f"bulk{n}@example.com") for n in range(1000)])
    assert exactly.status_code == 201 and counts(exactly.json()) == (1000, 0, 1000)
    assert len(writer.emails()) == len(before) + 1000


def test_an_empty_import_is_212(writer: Writer) -> None:
    response = writer.import_([])
    assert response.status_code == 400
    assert set(response.json()) == {"Code", "Message"} and response.json()["Code"] == 212


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("/import.json", {"data": b"not json"}),
        ("/import.json", {"data": b"\xff\xfe{}"}),
        ("/import.json", {}),
        ("/import.json", {"json": {}}),
        ("/import.json", {"json": {"Subscribers": "a@example.com"}}),
        ("/import.json", {"json": [person("a@example.com")]}),
        (".json", {"data": b"{not json"}),
        (".json", {}),
        (".json", {"json": [person("a@example.com")]}),
        (".json", {"json": "a@example.com"}),
    ],
)
def test_a_body_that_is_not_the_expected_json_is_400(writer: Writer, suffix: str, body: dict) -> None:
    response = writer.http.post(writer.url + suffix, **body)
    assert response.status_code == 400
    assert response.json()["Code"] == 400 and response.json()["Message"]
    assert writer.details("a@example.com")["Code"] == 203


DROP = object()  # an override that removes the key
INVALID_SUBSCRIBERS = [
    pytest.param({"ConsentToTrack": DROP}, 214, id="consent-missing"),
    pytest.param({"ConsentToTrack": None}, 214, id="consent-null"),
    pytest.param({"ConsentToTrack": "true"}, 215, id="consent-true"),
    pytest.param({"ConsentToTrack": "yes"}, 215, id="consent-lower-case"),
    pytest.param({"ConsentToTrack": True}, 215, id="consent-boolean"),
    pytest.param({"ConsentToSendSms": "maybe"}, 215, id="sms-consent"),
    pytest.param({"MobileNumber": "0412345678"}, 220, id="mobile-no-plus"),
    pytest.param({"MobileNumber": "+0412345678"}, 220, id="mobile-leading-zero"),
    pytest.param({"MobileNumber": "+123456"}, 220, id="mobile-too-short"),
    pytest.param({"MobileNumber": "+1234567890123456"}, 220, id="mobile-too-long"),
    pytest.param({"MobileNumber": "+61 412 345 678"}, 220, id="mobile-spaces"),
    pytest.param({"CustomFields": [field("website", "x")]}, 253, id="key-without-brackets"),
    pytest.param({"CustomFields": [{"Value": "x"}]}, 253, id="key-missing"),
    pytest.param({"CustomFields": [field("[website]", "x" * 251)]}, 250, id="value-too-long"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "2024-02-30")]}, 5, id="date-impossible"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "1899-12-31")]}, 5, id="date-too-early"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "2076-06-07")]}, 5, id="date-too-late"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "28/06/2024")]}, 5, id="date-format"),
    pytest.param({"CustomFields": [field("[subscriptiondate]", "2024-6-1")]}, 5, id="date-unpadded"),
]


def broken(email: str, override: dict) -> dict:
    return {key: value for key, value in {**person(email), **override}.items() if value is not DROP}


@pytest.mark.parametrize(("override", "code"), INVALID_SUBSCRIBERS)
def test_import_skips_an_invalid_subscriber_with_its_code(writer: Writer, override: dict, code: int) -> None:
    response = writer.import_([person("good@example.com"), broken("bad@example.com", override)])
    assert response.status_code == 400 and response.json()["Code"] == 210
    result = response.json()["ResultData"]
    [failure] = result["FailureDetails"]
    assert (failure["EmailAddress"], failure["Code"]) == ("bad@example.com", code) and failure["Message"]
    assert counts(result) == (2, 0, 1)
    assert writer.details("good@example.com")["State"] == "Active"
    assert writer.details("bad@example.com")["Code"] == 203


@pytest.mark.parametrize(("override", "code"), INVALID_SUBSCRIBERS)
def test_add_refuses_an_invalid_subscriber_with_its_code(writer: Writer, override: dict, code: int) -> None:
    response = writer.add(broken("bad@example.com", override))
    assert response.status_code == 400
    assert set(response.json()) == {"Code", "Message"} and response.json()["Code"] == code
    assert writer.details("bad@example.com")["Code"] == 203


def test_the_first_problem_wins_and_messages_match_the_api(writer: Writer) -> None:
    both = writer.add({"EmailAddress": "nope", "MobileNumber": "123"})
    assert both.json() == {"Code": 1, "Message": "Invalid Email Address"}
    mobile = writer.add(person("m@example.com", MobileNumber="123", CustomFields=[field("age", "1")]))
    assert mobile.json() == {"Code": 220, "Message": "Invalid mobile number"}


INVALID_EMAILS = [
    "example+1@example", "plainaddress", "", "a@b.c", "two@@example.com", "a b@example.com", "a..b@example.com",
    ".a@example.com", "a.@example.com", "a@-example.com", "a@example-.com", "a@example..com", "a@example.com.",
    "a@exa_mple.com", "<a@example.com>", "a@example.c0m", "@example.com", "a@",
]
VALID_EMAILS = [
    "zoë.neu@bücher.example", "新しい.購読者@例え.jp", "пользователь@пример.рф", "ÉLODIE+news@example.fr",
    "o'brien@example.ie", "josé@xn--bcher-kva.example", "first.last@sub.mail.example.com",
]


@pytest.mark.parametrize("email", INVALID_EMAILS)
def test_an_invalid_address_is_code_1(writer: Writer, email: str) -> None:
    response = writer.add(person(email))
    assert (response.status_code, response.json()) == (400, {"Code": 1, "Message": "Invalid Email Address"})


def test_import_names_every_invalid_address(writer: Writer) -> None:
    entries = [person(email) for email in INVALID_EMAILS] + [person(42), {"ConsentToTrack": "Yes"}, "not an object"]
    response = writer.import_(entries)
    result = response.json()["ResultData"]
    named = INVALID_EMAILS + ["", "", ""]
    failures = [{"EmailAddress": email, "Code": 1, "Message": "Invalid Email Address"} for email in named]
    assert result["FailureDetails"] == failures
    assert counts(result) == (len(entries), 0, 0) and result["DuplicateEmailsInSubmission"] == []


def test_non_ascii_and_idn_addresses_are_accepted(writer: Writer) -> None:
    response = writer.import_([person(email) for email in VALID_EMAILS])
    assert response.status_code == 201 and counts(response.json()) == (len(VALID_EMAILS), 0, len(VALID_EMAILS))
    served = writer.emails()
    for email in VALID_EMAILS:
        assert email in served and writer.details(email)["EmailAddress"] == email
    assert writer.add(person("ǆemal.neu@bücher.example")).json() == "ǆemal.neu@bücher.example"


def test_boundary_values_are_accepted(writer: Writer) -> None:
    longest = "x" * 250
    response = writer.import_([
        person("early@example.com", MobileNumber="+1234567",
               CustomFields=[field("[subscriptiondate]", "1900-01-01"), field("[Website]", longest)]),
        person("late@example.com", MobileNumber="+123456789012345", ConsentToSendSms="Unchanged",
               CustomFields=[field("[subscriptiondate]", "2076-06-06")]),
    ])
    assert response.status_code == 201 and counts(response.json()) == (2, 0, 2)
    early = writer.details("early@example.com")
    assert early["MobileNumber"] == "+1234567"
    assert early["CustomFields"] == [field("website", longest), field("subscription date", "1900-01-01")]
    assert writer.details("late@example.com")["ConsentToSendSms"] == "No"


def test_a_new_subscriber_gets_no_for_unchanged_consent_and_empty_defaults(writer: Writer) -> None:
    assert writer.add({"EmailAddress": "quiet@example.com", "ConsentToTrack": "Unchanged"}).status_code == 201
    assert writer.details("quiet@example.com") == {
        "EmailAddress": "quiet@example.com", "Name": "", "Date": writer.now, "ListJoinedDate": writer.now,
        "State": "Active", "CustomFields": [], "ReadsEmailWith": "", "ConsentToTrack": "No", "ConsentToSendSms": "No",
    }


def test_an_update_replaces_given_fields_and_keeps_the_rest(writer: Writer) -> None:
    row = next(
        row for row in writer.account.subscribers[writer.list_id]["Active"]
        if {"website", "age"} < {value["Key"] for value in row["CustomFields"]}
    )
    changes = [field("[age]", "41"), field("[website]", "", Clear=True), field("[interests]", "")]
    update = person(row["EmailAddress"], Name="New Name", ConsentToTrack="Unchanged", CustomFields=changes)
    response = writer.import_([update])
    assert response.status_code == 201 and counts(response.json()) == (1, 1, 0)
    kept = [value for value in row["CustomFields"] if value["Key"] not in ("website", "age")]
    assert writer.details(row["EmailAddress"]) == {
        **{key: row[key] for key in DETAIL_KEYS if key in row},
        "Name": "New Name",
        "CustomFields": [field("age", "41")] + kept,
    }


def test_multi_select_values_are_stored_as_repeated_keys(writer: Writer) -> None:
    values = [
        field("[interests]", "news"), field("[interests]", "not an option"), field("[interests]", "events"),
        field("[interests]", "news"), field("[salaryrange]", "bogus"), field("[salaryrange]", "£30k+"),
        field("[shoesize]", "44"),  # not a field of the list: ignored
    ]
    assert writer.add(person("multi@example.com", CustomFields=values)).status_code == 201
    expected = [field("interests", "news"), field("interests", "events"), field("salary range", "£30k+")]
    assert writer.details("multi@example.com")["CustomFields"] == expected
    served = next(row for row in writer.served() if row["EmailAddress"] == "multi@example.com")
    assert served["CustomFields"] == expected
    assert writer.add(person("multi@example.com", CustomFields=[field("[interests]", "offers")])).status_code == 201
    assert writer.details("multi@example.com")["CustomFields"] == [field("interests", "offers"), expected[2]]


@pytest.mark.parametrize("state", ["Unsubscribed", "Bounced", "Deleted"])
def test_resubscribe_false_updates_in_place_and_true_moves_back_to_active(writer: Writer, state: str) -> None:
    row = writer.account.subscribers[writer.list_id][state][0]
    email = row["EmailAddress"]
    kept = writer.import_([person(email, Name="Still away")], Resubscribe=False)
    assert kept.status_code == 201 and counts(kept.json()) == (1, 1, 0)
    details = writer.details(email)
    assert (details["State"], details["Name"], details["Date"]) == (state, "Still away", row["Date"])
    assert email not in writer.emails() and email in writer.emails(state.lower())
    back = writer.import_([person(email)], Resubscribe=True)
    assert back.status_code == 201 and counts(back.json()) == (1, 1, 0)
    details = writer.details(email)
    assert (details["State"], details["Date"]) == ("Active", writer.now)
    assert details["ListJoinedDate"] == row["ListJoinedDate"]
    assert email in writer.emails() and email not in writer.emails(state.lower())


def test_add_resubscribes_only_with_a_json_true(writer: Writer) -> None:
    email = writer.account.subscribers[writer.list_id]["Unsubscribed"][0]["EmailAddress"]
    for flag in (False, "true", None):
        assert writer.add(person(email), Resubscribe=flag).status_code == 201
        assert writer.details(email)["State"] == "Unsubscribed"
    assert writer.add(person(email), Resubscribe=True, RestartSubscriptionBasedAutoresponders=True).json() == email
    assert writer.details(email)["State"] == "Active"


def test_unconfirmed_is_updated_and_stays_unconfirmed(writer: Writer) -> None:
    row = writer.account.subscribers[writer.list_id]["Unconfirmed"][0]
    response = writer.import_([person(row["EmailAddress"], Name="Pending")], Resubscribe=True)
    assert response.status_code == 201 and counts(response.json()) == (1, 1, 0)
    details = writer.details(row["EmailAddress"])
    assert (details["State"], details["Name"], details["Date"]) == ("Unconfirmed", "Pending", row["Date"])


def test_a_suppressed_address_is_added_only_with_resubscribe(writer: Writer) -> None:
    path = f"/clients/{writer.client_id}/suppressionlist.json"
    suppressed = read_all_pages(writer.http, writer.sandbox, path)
    email = suppressed[0]["EmailAddress"]
    refused = writer.import_([person(email), person("ok@example.com")])
    assert refused.status_code == 400
    result = refused.json()["ResultData"]
    assert [(failure["EmailAddress"], failure["Code"]) for failure in result["FailureDetails"]] == [(email, 204)]
    assert counts(result) == (2, 0, 1)
    single = writer.add(person(email))
    assert single.status_code == 400 and single.json()["Code"] == 204
    assert writer.details(email)["Code"] == 203
    added = writer.import_([person(email)], Resubscribe=True)
    assert added.status_code == 201 and counts(added.json()) == (1, 0, 1)
    assert writer.details(email)["State"] == "Active"
    after = read_all_pages(writer.http, writer.sandbox, path)
    assert [row["EmailAddress"] for row in after] == [row["EmailAddress"] for row in suppressed[1:]]


def test_duplicates_in_one_import_last_wins_and_are_listed_once(writer: Writer) -> None:
    response = writer.import_([
        person("twice@example.com", Name="First"),
        person("other@example.com"),
        person("TWICE@example.com", Name="Second"),
        person("Twice@Example.com", Name="Last", ConsentToTrack="No"),
    ])
    assert response.status_code == 201
    assert response.json() == {
        "TotalUniqueEmailsSubmitted": 2, "TotalExistingSubscribers": 0, "TotalNewSubscribers": 2,
        "DuplicateEmailsInSubmission": ["Twice@Example.com"], "FailureDetails": [],
    }
    details = writer.details("twice@example.com")
    assert (details["EmailAddress"], details["Name"], details["ConsentToTrack"]) == ("Twice@Example.com", "Last", "No")
    assert [email.casefold() for email in writer.emails()].count("twice@example.com") == 1


def test_a_duplicate_whose_last_occurrence_is_invalid_fails(writer: Writer) -> None:
    response = writer.import_([person("dup@example.com"), person("dup@example.com", ConsentToTrack="true")])
    assert response.status_code == 400
    result = response.json()["ResultData"]
    assert result["DuplicateEmailsInSubmission"] == ["dup@example.com"]
    assert [(failure["EmailAddress"], failure["Code"]) for failure in result["FailureDetails"]] == [
        ("dup@example.com", 215)
    ]
    assert counts(result) == (1, 0, 0)
    assert writer.details("dup@example.com")["Code"] == 203


def test_an_existing_address_matches_ignoring_case_and_keeps_its_spelling(writer: Writer) -> None:
    row = writer.generated("Active")
    before = len(writer.emails())
    response = writer.add(person(row["EmailAddress"].upper(), Name="Shouty"))
    assert (response.status_code, response.json()) == (201, row["EmailAddress"].upper())
    assert len(writer.emails()) == before
    assert writer.details(row["EmailAddress"])["EmailAddress"] == row["EmailAddress"]


def test_add_subscriber_answers_201_with_the_address(writer: Writer) -> None:
    before = len(writer.emails())
    subscriber = person("single@example.com", Name="Single", CustomFields=[field("[website]", "https://s.example.com")])
    response = writer.add(subscriber, Resubscribe=True, RestartSubscriptionBasedAutoresponders=False)
    assert response.status_code == 201
    assert response.json() == "single@example.com" and isinstance(sample("add_subscriber.json"), str)
    assert writer.details("single@example.com")["CustomFields"] == [field("website", "https://s.example.com")]
    assert writer.add(person("single@example.com")).status_code == 201
    assert len(writer.emails()) == before + 1


def test_writes_check_the_list_and_the_key_scope(writer: Writer) -> None:
    other_client = writer.account.clients[1]["ClientID"]
    key = writer.account.client_details[other_client]["ApiKey"]
    calls = [
        ("POST", "/import.json", {"Subscribers": [person("x@example.com")]}),
        ("POST", ".json", person("x@example.com")),
        ("GET", ".json?email=x@example.com", None),
    ]
    for method, suffix, body in calls:
        scoped = requests.request(method, writer.url + suffix, json=body, auth=(key, "x"))
        unknown = writer.http.request(method, f"{writer.sandbox.base_url}/subscribers/0000{suffix}", json=body)
        for response in (scoped, unknown):
            assert (response.status_code, response.json()) == (400, {"Code": 101, "Message": "Invalid ListID"})
    assert writer.details("x@example.com")["Code"] == 203
    own_list = writer.account.lists[other_client][0]["ListID"]
    own_url = f"{writer.sandbox.base_url}/subscribers/{own_list}.json"
    own = requests.post(own_url, json=person("x@example.com"), auth=(key, "x"))
    assert own.status_code == 201


def test_other_methods_on_subscriber_paths_are_405(writer: Writer) -> None:
    put = writer.http.put(writer.url + ".json", json=person("x@example.com"))
    assert put.status_code == 405 and put.headers["Allow"] == "GET, POST"
    assert writer.http.get(writer.url + "/import.json").headers["Allow"] == "POST"


def test_write_bodies_are_recorded_as_decoded_json(writer: Writer) -> None:
    assert [f.name for f in dataclasses.fields(RecordedRequest)] == ["method", "path", "query", "body", "fault"]
    assert RecordedRequest("GET", "/x.json", {}).body is None
    subscribers = [person("zoë.neu@bücher.example", Name="Zoë Neu", CustomFields=[field("[interests]", "news")])]
    writer.import_(subscribers, Resubscribe=True)
    raw = json.dumps(subscribers[0], ensure_ascii=False).encode("utf-8")  # UTF-8 on the wire, not \u escapes
    writer.http.post(writer.url + ".json", data=raw, headers={"Content-Type": "application/json"})
    writer.details("zoë.neu@bücher.example")
    writer.http.post(writer.url + ".json", data=b"{not json")
    path = f"/subscribers/{writer.list_id}"
    assert writer.sandbox.requests[-4:] == [
        RecordedRequest("POST", path + "/import.json", {}, {"Subscribers": subscribers, "Resubscribe": True}),
        RecordedRequest("POST", path + ".json", {}, subscribers[0]),
        RecordedRequest("GET", path + ".json", {"email": "zoë.neu@bücher.example"}),
        RecordedRequest("POST", path + ".json", {}, None),
    ]
    assert writer.details("zoë.neu@bücher.example")["Name"] == "Zoë Neu"


def test_the_connection_stays_usable_after_a_write(writer: Writer) -> None:
    base = urlsplit(writer.sandbox.base_url)
    token = base64.b64encode(f"{writer.sandbox.api_key}:x".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    body = json.dumps({"Subscribers": [person(f"keep{n}@example.com") for n in range(300)]})
    connection = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
    try:
        connection.request("POST", f"{base.path}/subscribers/{writer.list_id}/import.json", body=body, headers=headers)
        first = connection.getresponse()
        first.read()
        socket = connection.sock
        path = f"{base.path}/subscribers/{writer.list_id}.json?email=keep299@example.com"
        connection.request("GET", path, headers=headers)
        second = connection.getresponse()
        assert (first.status, second.status) == (201, 200)
        assert json.loads(second.read())["EmailAddress"] == "keep299@example.com"
        assert socket is not None and connection.sock is socket
    finally:
        connection.close()


def test_concurrent_writes_all_land_and_reads_stay_consistent(writer: Writer) -> None:
    before = len(writer.emails())
    stats_path = f"/lists/{writer.list_id}/stats.json"
    stats_before = get(writer.http, writer.sandbox, stats_path).json()

    def worker(number: int) -> None:
        with requests.Session() as http:
            http.auth = writer.http.auth
            for item in range(20):
                assert http.post(writer.url + ".json", json=person(f"p{number}.{item}@example.com")).status_code == 201
                page = get(http, writer.sandbox, f"/lists/{writer.list_id}/active.json").json()
                assert page["RecordsOnThisPage"] == len(page["Results"]) == page["TotalNumberOfRecords"]
                assert before < page["TotalNumberOfRecords"] <= before + 160

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(8)))
    assert len(writer.emails()) == before + 160
    stats = get(writer.http, writer.sandbox, stats_path).json()
    assert stats["TotalActiveSubscribers"] == stats_before["TotalActiveSubscribers"] + 160
    assert stats["NewActiveSubscribersToday"] == stats_before["NewActiveSubscribersToday"] + 160


def test_reimporting_what_is_served_changes_nothing(writer: Writer) -> None:
    keys = {
        definition["FieldName"]: definition["Key"]
        for definition in get(writer.http, writer.sandbox, f"/lists/{writer.list_id}/customfields.json").json()
    }
    served = writer.served()
    sent = ("EmailAddress", "Name", "MobileNumber", "ConsentToTrack", "ConsentToSendSms")
    subscribers = [
        {
            **{name: row[name] for name in sent if name in row},
            "CustomFields": [field(keys[value["Key"]], value["Value"]) for value in row["CustomFields"]],
        }
        for row in served
    ]
    response = writer.import_(subscribers)
    assert response.status_code == 201 and counts(response.json()) == (len(served), len(served), 0)
    assert writer.served() == served


# ---- fault switches -------------------------------------------------------------------------------------
# Every fault test gets its own small sandbox: switches and insert_while_paging change it.

JSON_TYPE = "application/json; charset=utf-8"
RATE_LIMITED = {"Code": 429, "Message": "Rate limit exceeded"}


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
        token = base64.b64encode(f"{self.sandbox.api_key}:x".encode()).decode()
        connection = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
        return connection, base.path, {"Authorization": f"Basic {token}"}


@pytest.fixture
def faulty() -> Iterator[Faulty]:
    with Sandbox(generate_account(subscribers=200)) as running, requests.Session() as http:
        http.auth = (running.api_key, "x")
        yield Faulty(running, http)


def rate_limit_headers(response: requests.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower().startswith("x-ratelimit")}


def test_no_switch_is_on_until_armed_and_clear_turns_every_one_off(faulty: Faulty) -> None:
    faults = faulty.faults
    assert not faults.armed and faults.rate_limited_count == 0 and faults.inserted == faults.removed == []
    faults.rate_limit(1)
    faults.server_error(1)
    faults.truncate(1)
    faults.garbage(1)
    faults.reset_connection(1)
    faults.latency(30)
    faults.insert_while_paging(faulty.list_id)
    faults.rate_limit_window(1)
    assert faults.armed
    faults.clear()
    assert not faults.armed
    responses = [faulty.get(faulty.active) for _ in range(3)]
    answers = [(r.status_code, r.headers["Content-Type"], rate_limit_headers(r)) for r in responses]
    assert answers == [(200, JSON_TYPE, {})] * 3
    assert faulty.recorded_faults() == [None] * 3 and faults.inserted == []
    faults.rate_limit(0)  # nothing to arm
    assert not faults.armed


def test_rate_limit_answers_429_with_headers_to_matching_requests_only(faulty: Faulty) -> None:
    faulty.faults.rate_limit(2, reset_seconds=3, only=r"/active\.json$")
    other = faulty.get("/systemdate.json")
    limited = [faulty.get(faulty.active, page=1) for _ in range(2)]
    served = faulty.get(faulty.active)
    assert (other.status_code, served.status_code) == (200, 200)
    for response in limited:
        assert (response.status_code, response.json()) == (429, RATE_LIMITED)
        assert response.headers["Content-Type"] == JSON_TYPE
        headers = rate_limit_headers(response)
        assert (headers["X-RateLimit-Remaining"], headers["X-RateLimit-Reset"]) == ("0", "3")
        assert int(headers["X-RateLimit-Limit"]) > 0
    assert rate_limit_headers(served) == {}
    assert faulty.recorded_faults() == [None, "rate_limit", "rate_limit", None]
    assert faulty.faults.rate_limited_count == 2 and not faulty.faults.armed


def test_rate_limit_reset_is_whole_or_decimal_seconds_or_left_out(faulty: Faulty) -> None:
    faulty.faults.rate_limit(1, reset_seconds=0.25)
    faulty.faults.rate_limit(1, reset_seconds=2.0)
    faulty.faults.rate_limit(1)
    faulty.faults.rate_limit(1, reset_seconds=None)
    answers = [faulty.get("/systemdate.json") for _ in range(4)]
    assert [rate_limit_headers(r).get("X-RateLimit-Reset") for r in answers] == ["0.25", "2", "1", None]
    assert rate_limit_headers(answers[3]) == {}
    assert [(r.status_code, r.json()) for r in answers] == [(429, RATE_LIMITED)] * 4
    assert faulty.faults.rate_limited_count == 4


def test_server_errors_answer_their_status_with_a_json_error(faulty: Faulty) -> None:
    faulty.faults.server_error(1)
    faulty.faults.server_error(1, status=503)
    first, second, third = (faulty.get(faulty.active) for _ in range(3))
    assert (first.status_code, first.json()) == (500, {"Code": 500, "Message": "Internal Server Error"})
    assert (second.status_code, second.json()) == (503, {"Code": 503, "Message": "Service Unavailable"})
    assert third.status_code == 200 and third.json()["TotalNumberOfRecords"] == len(faulty.stored_emails())
    assert faulty.recorded_faults() == ["server_error", "server_error", None]
    assert faulty.faults.rate_limited_count == 0


def test_garbage_is_a_200_html_page(faulty: Faulty) -> None:
    path = f"/lists/{faulty.list_id}/customfields.json"
    faulty.faults.garbage(1, only="customfields")
    page = faulty.get(path)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.text.lower().startswith("<!doctype html") and "</html>" in page.text
    with pytest.raises(ValueError):
        page.json()
    assert faulty.get(path).json() == faulty.account.custom_fields[faulty.list_id]
    assert faulty.recorded_faults() == ["garbage", None]


def test_faults_that_answer_in_full_keep_the_connection_alive(faulty: Faulty) -> None:
    faulty.faults.rate_limit(1)
    faulty.faults.server_error(1, status=502)
    faulty.faults.garbage(1)
    faulty.faults.latency(0.01)
    connection, base_path, headers = faulty.connection()
    answers, sockets = [], set()
    try:
        for _ in range(4):
            connection.request("GET", base_path + "/systemdate.json", headers=headers)
            response = connection.getresponse()
            body = response.read()
            assert len(body) == int(response.getheader("Content-Length"))
            answers.append((response.status, response.getheader("Content-Type")))
            sockets.add(connection.sock)
    finally:
        connection.close()
    assert answers == [(429, JSON_TYPE), (502, JSON_TYPE), (200, "text/html; charset=utf-8"), (200, JSON_TYPE)]
    assert len(sockets) == 1 and None not in sockets


def test_truncate_sends_half_the_body_then_closes(faulty: Faulty) -> None:
    faulty.faults.truncate(1, only=r"/active\.json$")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        faulty.get(faulty.active)
    assert faulty.get(faulty.active).json()["TotalNumberOfRecords"] == len(faulty.stored_emails())
    faulty.faults.truncate(1)
    connection, base_path, headers = faulty.connection()
    try:
        connection.request("GET", f"{base_path}{faulty.active}", headers=headers)
        response = connection.getresponse()
        length = int(response.getheader("Content-Length"))
        assert (response.status, response.getheader("Content-Type")) == (200, JSON_TYPE)
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
        assert len(cut.value.partial) == length // 2 > 0
    finally:
        connection.close()
    assert faulty.recorded_faults() == ["truncate", None, "truncate"]


def test_a_truncated_write_still_lands(faulty: Faulty) -> None:
    faulty.faults.truncate(1, only="^/subscribers/")
    url = f"{faulty.sandbox.base_url}/subscribers/{faulty.list_id}.json"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        faulty.http.post(url, json={"EmailAddress": "cut@example.com", "ConsentToTrack": "Yes"})
    assert faulty.http.get(url, params={"email": "cut@example.com"}).json()["State"] == "Active"


def test_reset_connection_answers_nothing(faulty: Faulty) -> None:
    faulty.faults.reset_connection(1, only="systemdate")
    with pytest.raises(requests.exceptions.ConnectionError):
        faulty.get("/systemdate.json")
    assert faulty.get("/systemdate.json").status_code == 200
    faulty.faults.reset_connection(1)
    connection, base_path, headers = faulty.connection()
    try:
        connection.request("GET", base_path + "/clients.json", headers=headers)
        with pytest.raises(http.client.RemoteDisconnected):
            connection.getresponse()
    finally:
        connection.close()
    assert faulty.recorded_faults() == ["reset_connection", None, "reset_connection"]


def test_one_shot_faults_are_taken_in_arrival_order_first_armed_first(faulty: Faulty) -> None:
    faulty.faults.server_error(1, only="customfields")
    faulty.faults.rate_limit(2, reset_seconds=None)
    faulty.faults.garbage(1, only=re.compile("systemdate"))
    fields = f"/lists/{faulty.list_id}/customfields.json"
    paths = ["/systemdate.json", fields, "/systemdate.json", "/systemdate.json", "/systemdate.json", fields]
    answers = [faulty.get(path) for path in paths]
    assert [r.status_code for r in answers] == [429, 500, 429, 200, 200, 200]
    assert answers[3].headers["Content-Type"].startswith("text/html") and answers[4].json()["SystemDate"]
    assert faulty.recorded_faults() == ["rate_limit", "server_error", "rate_limit", "garbage", None, None]


def test_concurrent_requests_take_exactly_the_armed_faults(faulty: Faulty) -> None:
    faulty.faults.rate_limit(25, reset_seconds=None)
    faulty.faults.server_error(5)

    def worker(_: int) -> list[int]:
        with requests.Session() as http:
            http.auth = faulty.http.auth
            return [http.get(faulty.sandbox.base_url + "/systemdate.json").status_code for _ in range(10)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [status for batch in pool.map(worker, range(8)) for status in batch]
    assert Counter(statuses) == {429: 25, 500: 5, 200: 50}
    assert faulty.recorded_faults() == ["rate_limit"] * 25 + ["server_error"] * 5 + [None] * 50
    assert faulty.faults.rate_limited_count == 25 and not faulty.faults.armed


def test_latency_delays_matching_requests_side_by_side(faulty: Faulty) -> None:
    delay = 0.05
    sessions = [requests.Session() for _ in range(2)]
    try:
        for client in sessions:
            client.auth = faulty.http.auth
            assert client.get(faulty.sandbox.base_url + faulty.active).status_code == 200  # connect before timing
        faulty.faults.latency(delay, only=r"/active\.json$")
        barrier = threading.Barrier(2)

        def timed(client: requests.Session) -> tuple[float, float, int]:
            barrier.wait()
            start = time.perf_counter()
            status = client.get(faulty.sandbox.base_url + faulty.active).status_code
            return start, time.perf_counter(), status

        with ThreadPoolExecutor(2) as pool:
            timings = list(pool.map(timed, sessions))
    finally:
        for client in sessions:
            client.close()
    assert all(status == 200 and end - start >= delay for start, end, status in timings)
    span = max(end for _, end, _ in timings) - min(start for start, _, _ in timings)
    assert span < 2 * delay  # they waited at the same time, not one after the other
    faulty.faults.latency(30, only="^/nothing-matches$")
    assert faulty.http.get(faulty.sandbox.base_url + faulty.active, timeout=5).status_code == 200
    faulty.faults.latency(0)
    assert not faulty.faults.armed


def test_insert_while_paging_shifts_later_pages_forward(faulty: Faulty) -> None:
    before = faulty.stored_emails()
    faulty.faults.insert_while_paging(faulty.list_id, after_page=2, count=3)
    read = faulty.read_pages(faulty.active)
    inserted = faulty.faults.inserted
    assert inserted == [f"0000-inserted-{n}@example.com" for n in (1, 2, 3)] and faulty.faults.removed == []
    assert read == before[:20] + before[17:]  # the end of page 2 is read again; the new rows never
    truth = faulty.stored_emails()
    assert truth == inserted + before
    assert set(truth) - set(read) == set(inserted)
    assert faulty.read_pages(faulty.active) == truth  # it fired once
    assert not faulty.faults.armed
    details = faulty.http.get(
        f"{faulty.sandbox.base_url}/subscribers/{faulty.list_id}.json", params={"email": inserted[0]}
    ).json()
    assert (details["State"], details["Date"]) == ("Active", faulty.account.system_date)


def test_insert_and_remove_while_paging_shifts_later_pages_back(faulty: Faulty) -> None:
    before = faulty.stored_emails()
    unsubscribed_before = faulty.stored_emails("Unsubscribed")
    faulty.faults.insert_while_paging(faulty.list_id, "active", after_page=1, count=1, remove=3)
    read = faulty.read_pages(faulty.active)
    removed, inserted = faulty.faults.removed, faulty.faults.inserted
    assert removed == before[:3] and len(inserted) == 1
    assert read == before[:10] + before[12:]  # one in, three out: two rows slip past page 2 unread
    truth = set(faulty.stored_emails())
    assert truth == set(before[3:] + inserted)
    assert truth - set(read) == {before[10], before[11], *inserted}
    assert set(read) - truth == set(removed)
    assert faulty.stored_emails("Unsubscribed") == sorted(
        unsubscribed_before + removed, key=lambda email: (email.casefold(), email)
    )
    moved = {row["EmailAddress"]: row for row in faulty.account.subscribers[faulty.list_id]["Unsubscribed"]}
    assert all((moved[email]["State"], moved[email]["Date"]) == ("Unsubscribed", faulty.account.system_date)
               for email in removed)


def test_insert_while_paging_waits_for_a_page_served_in_full(faulty: Faulty) -> None:
    path = f"/lists/{faulty.list_id}/unsubscribed.json"
    before = faulty.stored_emails("Unsubscribed")
    deleted_before = len(faulty.stored_emails("Deleted"))
    faulty.faults.insert_while_paging(faulty.list_id, state="Unsubscribed", remove=1)
    faulty.faults.truncate(1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        faulty.get(path)
    assert faulty.get(path, page=2).status_code == 200 and faulty.faults.inserted == []
    first = faulty.get(path).json()["Results"]  # no page parameter: page 1
    assert [row["EmailAddress"] for row in first] == before
    assert faulty.faults.removed == before[:1]
    assert faulty.stored_emails("Unsubscribed") == faulty.faults.inserted + before[1:]
    assert len(faulty.stored_emails("Deleted")) == deleted_before + 1  # Unsubscribed rows move on to Deleted


def test_inserted_addresses_sort_first_even_before_unusual_ones(faulty: Faulty) -> None:
    url = f"{faulty.sandbox.base_url}/subscribers/{faulty.list_id}.json"
    for email in ("!a@example.com", "0000-inserted-1@example.com"):
        assert faulty.http.post(url, json={"EmailAddress": email, "ConsentToTrack": "Yes"}).status_code == 201
    faulty.faults.insert_while_paging(faulty.list_id, count=2)
    faulty.get(faulty.active, pagesize=10)
    inserted = faulty.faults.inserted
    assert len(inserted) == 2 and "0000-inserted-1@example.com" not in inserted
    assert faulty.stored_emails()[:3] == sorted(inserted, key=str.casefold) + ["!a@example.com"]


def test_rate_limit_window_counts_requests_by_the_clock(faulty: Faulty) -> None:
    now = [1000.0]
    faulty.faults.clock = lambda: now[0]
    faulty.faults.rate_limit_window(2, per_seconds=10)

    def call(**kwargs: Any) -> tuple:
        response = requests.get(faulty.sandbox.base_url + "/systemdate.json", timeout=10, **kwargs)
        headers = response.headers
        limit, remaining, reset = (headers[f"X-RateLimit-{name}"] for name in ("Limit", "Remaining", "Reset"))
        return response.status_code, limit, remaining, reset

    auth = {"auth": faulty.http.auth}
    assert call(**auth) == (200, "2", "1", "10")
    now[0] += 2.5
    assert call(**auth) == (200, "2", "0", "8")
    assert call(**auth) == (429, "2", "0", "8")
    now[0] = 1009.99
    assert call(**auth) == (429, "2", "0", "1")
    now[0] = 1010.0  # a new window
    assert call() == (401, "2", "1", "10")  # every answer carries the headers, errors too
    assert call(**auth) == (200, "2", "0", "10")
    faulty.faults.server_error(1)
    refused = faulty.get("/systemdate.json")
    assert (refused.status_code, refused.json()) == (429, RATE_LIMITED)  # refused before it reaches the switches
    now[0] = 1020.0
    failed = faulty.get("/systemdate.json")
    assert failed.status_code == 500 and rate_limit_headers(failed) == {}  # a one-shot fault answers as armed
    assert faulty.recorded_faults() == [
        None, None, "rate_limit_window", "rate_limit_window", None, None, "rate_limit_window", "server_error"
    ]
    assert faulty.faults.rate_limited_count == 3
    faulty.faults.rate_limit_window(None)
    assert not faulty.faults.armed and rate_limit_headers(faulty.get("/systemdate.json")) == {}


def test_a_short_window_still_says_at_least_one_second(faulty: Faulty) -> None:
    faulty.faults.clock = lambda: 50.0
    faulty.faults.rate_limit_window(1, per_seconds=0.25)
    first, second = faulty.get("/systemdate.json"), faulty.get("/systemdate.json")
    assert (first.status_code, second.status_code) == (200, 429)
    expected = {"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}
    assert rate_limit_headers(second) == expected


@pytest.mark.parametrize(
    "arm",
    [
        lambda faults: faults.rate_limit(-1),
        lambda faults: faults.rate_limit(1, reset_seconds=-1),
        lambda faults: faults.server_error(1, status=404),
        lambda faults: faults.truncate(1.5),
        lambda faults: faults.garbage(True),
        lambda faults: faults.latency(-0.1),
        lambda faults: faults.insert_while_paging("abc", state="Gone"),
        lambda faults: faults.insert_while_paging("abc", after_page=0),
        lambda faults: faults.insert_while_paging("abc", remove=-1),
        lambda faults: faults.rate_limit_window(0),
        lambda faults: faults.rate_limit_window(5, per_seconds=0),
    ],
)
def test_impossible_switch_settings_are_refused(arm: Any) -> None:
    faults = Faults()
    with pytest.raises(ValueError):
        arm(faults)
    assert not faults.armed


def test_command_line_latency_and_rate_limit() -> None:
    with sandbox_command("--subscribers", "40", "--latency", "0.02", "--rate-limit", "2") as (base_url, api_key):
        with requests.Session() as http:
            http.auth = (api_key, "x")
            answers = []
            for _ in range(3):
                start = time.perf_counter()
                response = http.get(base_url + "/systemdate.json", timeout=10)
                elapsed = time.perf_counter() - start
                answers.append((response.status_code, response.headers["X-RateLimit-Limit"], elapsed))
        assert [(status, limit) for status, limit, _ in answers] == [(200, "2"), (200, "2"), (429, "2")]
        assert all(elapsed >= 0.02 for _, _, elapsed in answers)


# ---- reports: campaigns, segments, journeys, webhooks, tags ----------------------------------------

API_FIXTURES = Path("/work/shared/api/fixtures")
LONDON = "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London"
SYDNEY = "(GMT+10:00) Canberra, Melbourne, Sydney"
CAMPAIGN_EVENTS = ("opens", "clicks", "bounces", "unsubscribes", "spam")
JOURNEY_REPORTS = ("recipients", "opens", "clicks", "bounces", "unsubscribes")


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


def client_in(account: Account, time_zone: str) -> str:
    zones = {cid: details["BasicDetails"]["TimeZone"] for cid, details in account.client_details.items()}
    return next(cid for cid, zone in zones.items() if zone == time_zone)


def sent_campaigns(account: Account) -> Iterator[tuple[str, dict]]:
    for client_id, rows in account.campaigns.items():
        for row in rows:
            yield client_id, row


def newest_campaign(account: Account, client_id: str) -> str:
    return max(account.campaigns[client_id], key=lambda row: row["SentDate"])["CampaignID"]


def key_for(account: Account, client_id: str) -> tuple[str, str]:
    return account.client_details[client_id]["ApiKey"], "x"


def test_time_zones_are_campaign_monitors_names(account: Account) -> None:
    assert client_in(account, LONDON) and client_in(account, SYDNEY)
    big_client = account.clients[0]["ClientID"]
    own_zone = account.client_details[big_client]["BasicDetails"]["TimeZone"]
    zones = [row["ScheduledTimeZone"] for row in account.scheduled[big_client]]
    assert own_zone in zones
    assert "(GMT-05:00) Eastern Time (US & Canada)" in zones


@pytest.mark.parametrize(
    ("time_zone", "email", "local_time"),
    [
        (LONDON, "summer.joiner@example.com", "2024-07-01 12:00:00"),
        (LONDON, "winter.joiner@example.com", "2024-01-15 12:00:00"),
        (SYDNEY, "sydney.summer@example.com", "2024-01-15 12:00:00"),
        (SYDNEY, "sydney.winter@example.com", "2024-07-01 12:00:00"),
    ],
)
def test_time_rows_are_served_as_active_subscribers(session, sandbox, account, time_zone, email, local_time) -> None:
    assert account.system_date == "2024-07-15 09:30:00"
    list_id = account.lists[client_in(account, time_zone)][0]["ListID"]
    rows = read_all_pages(session, sandbox, f"/lists/{list_id}/active.json", date=local_time[:16])
    row = next(row for row in rows if row["EmailAddress"] == email)
    assert (row["Date"], row["ListJoinedDate"], row["State"]) == (local_time, local_time, "Active")


def test_sent_campaigns_spread_over_two_years(account: Account) -> None:
    for rows in account.campaigns.values():
        dates = sorted(row["SentDate"] for row in rows)
        assert dates[0] < "2022-10-01" and dates[-1] > "2024-04-01"
        assert dates[-1] < account.system_date


def test_tags_count_campaigns_as_int_then_as_string(session, sandbox, account, ids) -> None:
    keys = fixture_row_keys("tags.json")
    assert keys == fixture_row_keys("ruby/tags.json")
    for client_id, kind in ((ids["big_client"], int), (ids["small_client"], str)):
        served = get(session, sandbox, f"/clients/{client_id}/tags.json").json()
        assert served == account.tags[client_id] and served
        assert all(set(row) == keys and type(row["NumberOfCampaigns"]) is kind for row in served)
        expected = Counter(
            tag for kind_rows in (account.campaigns, account.scheduled, account.drafts)
            for row in kind_rows[client_id] for tag in row.get("Tags", [])
        )
        assert {row["Name"]: int(row["NumberOfCampaigns"]) for row in served} == dict(expected)
    assert any(isinstance(row["NumberOfCampaigns"], str) and row["NumberOfCampaigns"].isdigit()
               for row in account.tags[ids["small_client"]])


def test_journeys_of_each_client(session, sandbox, account) -> None:
    keys = fixture_row_keys("journeys/client_journeys.json")
    summary = api_fixture("journeys/journey_summary.json")
    for client_id, lists in account.lists.items():
        served = get(session, sandbox, f"/clients/{client_id}/journeys.json").json()
        assert served == account.journeys[client_id] and 1 <= len(served) <= 2
        for journey in served:
            assert set(journey) == keys
            assert journey["ListID"] in {row["ListID"] for row in lists}
            details = get(session, sandbox, f"/journeys/{journey['JourneyID']}.json").json()
            assert details == account.journey_details[journey["JourneyID"]]
            assert set(details) == set(summary)
            assert (details["JourneyID"], details["Name"]) == (journey["JourneyID"], journey["Name"])
            assert 1 <= len(details["Emails"]) <= 3
            assert all(set(email) == set(summary["Emails"][0]) for email in details["Emails"])


def test_journey_email_counts_match_the_rows_served(session, sandbox, account) -> None:
    emails = [email for details in account.journey_details.values() for email in details["Emails"]]
    assert sum(email["Opened"] for email in emails) > 0 and sum(email["Clicked"] for email in emails) > 0
    for email in emails:
        served = {
            report: read_all_pages(session, sandbox, f"/journeys/email/{email['EmailID']}/{report}.json", pagesize=100)
            for report in JOURNEY_REPORTS
        }
        for report, rows in served.items():
            assert rows == account.journey_email_reports[email["EmailID"]][report]
            fixture_keys = fixture_row_keys(f"journeys/journey_email_{report}_with_params.json")
            assert all(set(row) == fixture_keys for row in rows)
        counts = {
            "Sent": len(served["recipients"]), "Opened": len(served["opens"]), "Clicked": len(served["clicks"]),
            "Bounced": len(served["bounces"]), "Unsubscribed": len(served["unsubscribes"]),
            "UniqueOpened": len({row["EmailAddress"].casefold() for row in served["opens"]}),
        }
        assert counts == {name: email[name] for name in counts}
        assert email["UniqueOpened"] <= email["Opened"]
        sent_at = {row["EmailAddress"]: row["SentDate"] for row in served["recipients"]}
        for report in JOURNEY_REPORTS[1:]:
            assert all(sent_at[row["EmailAddress"]] <= row["Date"] <= account.system_date for row in served[report])


def test_journey_email_paging_order_and_date_filter(session, sandbox, account) -> None:
    email_id, reports = max(account.journey_email_reports.items(), key=lambda item: len(item[1]["opens"]))
    opens = reports["opens"]
    assert len(opens) > 20
    path = f"/journeys/email/{email_id}/opens.json"
    second = get(session, sandbox, path, page=2, pagesize=10, orderdirection="desc").json()
    assert set(second) == set(api_fixture("journeys/journey_email_opens_with_params.json"))
    assert (second["ResultsOrderedBy"], second["OrderDirection"], second["PageNumber"]) == ("Date", "DESC", 2)
    assert (second["TotalNumberOfRecords"], second["NumberOfPages"]) == (len(opens), math.ceil(len(opens) / 10))
    descending = read_all_pages(session, sandbox, path, pagesize=10, orderdirection="desc")
    assert [row["Date"] for row in descending] == sorted((row["Date"] for row in opens), reverse=True)
    assert second["Results"] == descending[10:20]
    since = sorted(row["Date"] for row in opens)[len(opens) // 2][:16]
    filtered = read_all_pages(session, sandbox, path, date=since)
    assert filtered == [row for row in opens if row["Date"][:16] >= since] and 0 < len(filtered) < len(opens)
    recipients = get(session, sandbox, f"/journeys/email/{email_id}/recipients.json", date=since).json()
    assert (recipients["ResultsOrderedBy"], recipients["OrderDirection"]) == ("SentDate", "ASC")
    expected = [row for row in reports["recipients"] if row["SentDate"][:16] >= since]
    assert recipients["TotalNumberOfRecords"] == len(expected)
    assert [row["SentDate"] for row in recipients["Results"]] == sorted(row["SentDate"] for row in expected)


def test_webhooks_of_each_list(session, sandbox, account) -> None:
    keys = fixture_row_keys("list_webhooks.json")
    counts = []
    for lists in account.lists.values():
        for row in lists:
            served = get(session, sandbox, f"/lists/{row['ListID']}/webhooks.json").json()
            assert served == account.webhooks[row["ListID"]]
            assert all(set(hook) == keys and hook["PayloadFormat"] in ("Json", "Xml") for hook in served)
            counts.append(len(served))
    assert min(counts) == 0 and max(counts) >= 1 and max(counts) <= 2


def test_segment_details_count_the_members_served(session, sandbox, account) -> None:
    keys = set(api_fixture("segment_details.json"))
    sizes = {}
    for segments in account.segments.values():
        for segment in segments:
            segment_id = segment["SegmentID"]
            details = get(session, sandbox, f"/segments/{segment_id}.json").json()
            assert set(details) == keys
            assert details == account.segment_details[segment_id] == account.segment_detail(segment_id)
            assert (details["ListID"], details["Title"]) == (segment["ListID"], segment["Title"])
            rules = [rule for group in details["RuleGroups"] for rule in group["Rules"]]
            assert rules and all(set(rule) == {"RuleType", "Clause"} for rule in rules)
            members = read_all_pages(session, sandbox, f"/segments/{segment_id}/active.json")
            assert len(members) == details["ActiveSubscribers"]
            active = {row["EmailAddress"]: row for row in account.subscribers[segment["ListID"]]["Active"]}
            assert all(row == {key: active[row["EmailAddress"]][key] for key in SUBSCRIBER_KEYS} for row in members)
            sizes[segment_id] = len(members)
    assert max(sizes.values()) > 1000 and min(sizes.values()) == 0


def test_segment_members_page_like_list_subscribers(session, sandbox, account) -> None:
    segment_id = max(account.segment_details, key=lambda sid: account.segment_details[sid]["ActiveSubscribers"])
    members = account.segment_members(segment_id)
    path = f"/segments/{segment_id}/active.json"
    first = get(session, sandbox, path).json()
    assert set(first) == set(api_fixture("segment_subscribers.json"))
    assert (first["ResultsOrderedBy"], first["OrderDirection"], first["RecordsOnThisPage"]) == ("email", "asc", 1000)
    assert (first["TotalNumberOfRecords"], first["NumberOfPages"]) == (len(members), 2)
    expected = sorted(members, key=lambda row: (row["EmailAddress"].casefold(), row["EmailAddress"]))
    assert [row["EmailAddress"] for row in read_all_pages(session, sandbox, path)] == [
        row["EmailAddress"] for row in expected
    ]
    by_date = get(session, sandbox, path, orderfield="date", orderdirection="desc", pagesize=10).json()["Results"]
    assert [row["Date"] for row in by_date] == sorted((row["Date"] for row in members), reverse=True)[:10]
    flagged = get(session, sandbox, path, pagesize=10, includetrackingpreference="true").json()["Results"]
    assert all(set(row) == SUBSCRIBER_KEYS | {"ConsentToTrack"} for row in flagged)
    since = "2024-01-01 00:00"
    dated = read_all_pages(session, sandbox, path, date=since)
    assert 0 < len(dated) == sum(row["Date"] >= since for row in members) < len(members)
    assert get(session, sandbox, path, orderfield="sentdate").json()["Code"] == 802


def test_segment_members_follow_writes(writer: Writer) -> None:
    account = writer.account
    segment_id = next(
        sid for sid, details in account.segment_details.items()
        if details["ListID"] == writer.list_id and "@example.com" in json.dumps(details["RuleGroups"])
    )
    before = writer.http.get(f"{writer.sandbox.base_url}/segments/{segment_id}.json").json()["ActiveSubscribers"]
    assert writer.add(person("new.member@example.com", Name="New Member")).status_code == 201
    assert writer.add(person("outsider@elsewhere.test", Name="Outsider")).status_code == 201
    after = writer.http.get(f"{writer.sandbox.base_url}/segments/{segment_id}.json").json()
    assert after["ActiveSubscribers"] == before + 1 == len(account.segment_members(segment_id))
    served = read_all_pages(writer.http, writer.sandbox, f"/segments/{segment_id}/active.json")
    assert "new.member@example.com" in {row["EmailAddress"] for row in served}
    assert "outsider@elsewhere.test" not in {row["EmailAddress"] for row in served}


def test_every_sent_campaign_has_consistent_reports(account: Account) -> None:
    assert len(account.campaign_reports) == sum(len(rows) for rows in account.campaigns.values())
    for client_id, campaign in sent_campaigns(account):
        campaign_id = campaign["CampaignID"]
        reports = account.campaign_reports[campaign_id]
        summary = account.campaign_summaries[campaign_id]
        counts = {
            "Recipients": len(reports["recipients"]), "TotalOpened": len(reports["opens"]),
            "Clicks": len(reports["clicks"]), "Unsubscribed": len(reports["unsubscribes"]),
            "Bounced": len(reports["bounces"]), "SpamComplaints": len(reports["spam"]),
            "UniqueOpened": len({row["EmailAddress"].casefold() for row in reports["opens"]}),
        }
        assert counts == {name: summary[name] for name in counts}
        assert campaign["TotalRecipients"] == summary["Recipients"] <= 1500
        assert summary["Name"] == campaign["Name"] and summary["WebVersionURL"] == campaign["WebVersionURL"]
        recipients = {row["EmailAddress"] for row in reports["recipients"]}
        targets = account.campaign_lists_and_segments[campaign_id]
        target_lists = {row["ListID"] for row in targets["Lists"] + targets["Segments"]}
        assert {row["ListID"] for row in reports["recipients"]} <= target_lists
        assert target_lists <= {row["ListID"] for row in account.lists[client_id]}
        for report in CAMPAIGN_EVENTS:
            for row in reports[report]:
                assert row["EmailAddress"] in recipients
                assert campaign["SentDate"] <= row["Date"] <= account.system_date
                assert row["Date"].endswith(":00")
        usage = account.email_client_usage[campaign_id]
        assert sum(row["Subscribers"] for row in usage) == summary["UniqueOpened"]
        assert not usage or abs(sum(row["Percentage"] for row in usage) - 100) < 0.1


def test_only_recent_campaigns_have_real_audiences(account: Account) -> None:
    for rows in account.campaigns.values():
        newest_first = sorted(rows, key=lambda row: row["SentDate"], reverse=True)
        assert all(row["TotalRecipients"] <= 3 for row in newest_first[8:])
        assert sum(row["TotalRecipients"] for row in newest_first[:8]) > 8 * 3
    assert max(row["TotalRecipients"] for _, row in sent_campaigns(account)) > 1000


def test_reports_do_not_grow_with_subscribers() -> None:
    bigger = generate_account(subscribers=12000)
    assert 1000 < max(row["TotalRecipients"] for _, row in sent_campaigns(bigger)) <= 1500
    assert all(row["TotalRecipients"] <= 3 for rows in bigger.campaigns.values() for row in rows[8:])
    assert max(len(reports["recipients"]) for reports in bigger.journey_email_reports.values()) <= 400


def test_campaign_reports_served_match_the_summary(session, sandbox, account) -> None:
    for client_id in account.lists:
        for campaign in sorted(account.campaigns[client_id], key=lambda row: row["SentDate"])[-9:]:
            campaign_id = campaign["CampaignID"]
            summary = get(session, sandbox, f"/campaigns/{campaign_id}/summary.json").json()
            assert summary == account.campaign_summaries[campaign_id]
            assert set(summary) == set(api_fixture("campaign_summary.json"))
            served = {
                report: read_all_pages(session, sandbox, f"/campaigns/{campaign_id}/{report}.json")
                for report in ("recipients", *CAMPAIGN_EVENTS)
            }
            assert len(served["recipients"]) == summary["Recipients"] == campaign["TotalRecipients"]
            assert len(served["opens"]) == summary["TotalOpened"]
            assert len({row["EmailAddress"].casefold() for row in served["opens"]}) == summary["UniqueOpened"]
            assert len(served["clicks"]) == summary["Clicks"]
            assert len(served["bounces"]) == summary["Bounced"]
            assert len(served["unsubscribes"]) == summary["Unsubscribed"]
            assert len(served["spam"]) == summary["SpamComplaints"]
            for report, rows in served.items():
                assert Counter(map(as_key, rows)) == Counter(map(as_key, account.campaign_reports[campaign_id][report]))


@pytest.mark.parametrize("report", ["recipients", *CAMPAIGN_EVENTS])
def test_campaign_report_rows_have_the_samples_keys(account: Account, report: str) -> None:
    keys = fixture_row_keys(f"campaign_{report}.json")
    rows = [row for reports in account.campaign_reports.values() for row in reports[report]]
    assert rows and all(set(row) == keys for row in rows)


def test_campaign_recipients_page_twice_by_email(session, sandbox, account) -> None:
    campaign_id = max(account.campaign_summaries, key=lambda cid: account.campaign_summaries[cid]["Recipients"])
    stored = account.campaign_reports[campaign_id]["recipients"]
    path = f"/campaigns/{campaign_id}/recipients.json"
    first = get(session, sandbox, path).json()
    assert set(first) == set(api_fixture("campaign_recipients.json"))
    assert (first["ResultsOrderedBy"], first["OrderDirection"], first["RecordsOnThisPage"]) == ("email", "asc", 1000)
    assert (first["TotalNumberOfRecords"], first["NumberOfPages"]) == (len(stored), 2)
    second = get(session, sandbox, path, page=2).json()
    assert second["RecordsOnThisPage"] == len(stored) - 1000
    emails = [row["EmailAddress"] for row in first["Results"] + second["Results"]]
    assert emails == sorted((row["EmailAddress"] for row in stored), key=lambda email: (email.casefold(), email))
    descending = get(session, sandbox, path, orderdirection="desc", pagesize=10).json()["Results"]
    assert [row["EmailAddress"] for row in descending] == emails[::-1][:10]
    assert get(session, sandbox, path, orderfield="date").json()["Code"] == 802


def test_some_opens_and_clicks_are_exact_repeats(session, sandbox, account) -> None:
    for client_id in account.lists:
        campaign_id = newest_campaign(account, client_id)
        for report in ("opens", "clicks"):
            rows = read_all_pages(session, sandbox, f"/campaigns/{campaign_id}/{report}.json")
            repeats = [row for row, count in Counter(map(as_key, rows)).items() if count > 1]
            assert repeats, f"no repeated {report} in {campaign_id}"
            counted = "TotalOpened" if report == "opens" else "Clicks"
            assert len(rows) == account.campaign_summaries[campaign_id][counted]


def test_campaign_events_by_date_with_a_date_filter(session, sandbox, account, ids) -> None:
    campaign_id = newest_campaign(account, ids["big_client"])
    opens = account.campaign_reports[campaign_id]["opens"]
    path = f"/campaigns/{campaign_id}/opens.json"
    first = get(session, sandbox, path, pagesize=50).json()
    assert set(first) == set(api_fixture("campaign_opens.json"))
    assert (first["ResultsOrderedBy"], first["OrderDirection"]) == ("date", "asc")
    assert (first["TotalNumberOfRecords"], first["NumberOfPages"]) == (len(opens), math.ceil(len(opens) / 50))
    since = sorted(row["Date"] for row in opens)[len(opens) // 3][:16]
    rows = read_all_pages(session, sandbox, path, date=since, orderdirection="desc")
    expected = [row for row in opens if row["Date"][:16] >= since]
    assert 0 < len(rows) == len(expected) < len(opens)
    assert [row["Date"] for row in rows] == sorted((row["Date"] for row in expected), reverse=True)
    assert Counter(map(as_key, rows)) == Counter(map(as_key, expected))
    assert get(session, sandbox, path, orderfield="email").json()["Code"] == 802
    assert get(session, sandbox, path, date="last week").json()["Code"] == 5


@pytest.mark.parametrize(
    ("params", "code"), [({"pagesize": 9}, 801), ({"page": 0}, 800), ({"orderdirection": "up"}, 803)]
)
def test_new_paged_endpoints_validate_paging(session, sandbox, account, ids, params: dict, code: int) -> None:
    campaign_id = newest_campaign(account, ids["big_client"])
    email_id = next(iter(account.journey_email_reports))
    segment_id = next(iter(account.segment_details))
    for path in (f"/campaigns/{campaign_id}/recipients.json", f"/campaigns/{campaign_id}/clicks.json",
                 f"/journeys/email/{email_id}/bounces.json", f"/segments/{segment_id}/active.json"):
        response = get(session, sandbox, path, **params)
        assert (response.status_code, response.json()["Code"]) == (400, code)


def test_lists_and_segments_and_email_client_usage(session, sandbox, account) -> None:
    with_segment = 0
    for client_id in account.lists:
        for campaign in sorted(account.campaigns[client_id], key=lambda row: row["SentDate"])[-8:]:
            campaign_id = campaign["CampaignID"]
            targets = get(session, sandbox, f"/campaigns/{campaign_id}/listsandsegments.json").json()
            assert targets == account.campaign_lists_and_segments[campaign_id]
            sample_targets = api_fixture("campaign_listsandsegments.json")
            assert set(targets) == set(sample_targets) and targets["Lists"]
            assert all(set(row) == set(sample_targets["Lists"][0]) for row in targets["Lists"])
            assert all(set(row) == set(sample_targets["Segments"][0]) for row in targets["Segments"])
            assert all(row in account.lists[client_id] for row in targets["Lists"])
            assert all(row in account.segments[client_id] for row in targets["Segments"])
            with_segment += bool(targets["Segments"])
            usage = get(session, sandbox, f"/campaigns/{campaign_id}/emailclientusage.json").json()
            assert usage == account.email_client_usage[campaign_id]
            assert all(set(row) == fixture_row_keys("email_client_usage.json") for row in usage)
            assert sum(row["Subscribers"] for row in usage) == account.campaign_summaries[campaign_id]["UniqueOpened"]
            assert [row["Subscribers"] for row in usage] == sorted((row["Subscribers"] for row in usage), reverse=True)
    assert with_segment >= 1


def test_recipients_sent_through_a_segment_meet_its_rules(account: Account) -> None:
    checked = 0
    for campaign_id, targets in account.campaign_lists_and_segments.items():
        list_ids = {row["ListID"] for row in targets["Lists"]}
        only_segment_lists = {row["ListID"] for row in targets["Segments"]} - list_ids
        for segment in targets["Segments"]:
            members = {row["EmailAddress"] for row in account.segment_members(segment["SegmentID"])}
            for row in account.campaign_reports[campaign_id]["recipients"]:
                if row["ListID"] == segment["ListID"] and row["ListID"] in only_segment_lists:
                    assert row["EmailAddress"] in members
                    checked += 1
    assert checked > 0


def test_a_client_key_sees_only_its_own_reports(sandbox, account, ids) -> None:
    small, big = ids["small_client"], ids["big_client"]
    auth = key_for(account, small)

    def call(path: str) -> tuple[int, Any]:
        response = requests.get(sandbox.base_url + path, auth=auth)
        return response.status_code, response.json()

    own_campaign, other_campaign = newest_campaign(account, small), newest_campaign(account, big)
    assert call(f"/campaigns/{own_campaign}/summary.json") == (200, account.campaign_summaries[own_campaign])
    assert call(f"/clients/{small}/tags.json") == (200, account.tags[small])
    assert call(f"/clients/{small}/journeys.json") == (200, account.journeys[small])
    for report in ("summary", "recipients", "opens", "listsandsegments", "emailclientusage"):
        invalid = {"Code": 301, "Message": "Invalid CampaignID"}
        assert call(f"/campaigns/{other_campaign}/{report}.json") == (400, invalid)
    for collection in ("tags", "journeys"):
        assert call(f"/clients/{big}/{collection}.json") == (401, {"Code": 102, "Message": "Invalid ClientID"})
    other_segment = account.segments[big][0]["SegmentID"]
    own_segment = account.segments[small][0]["SegmentID"]
    assert call(f"/segments/{own_segment}.json") == (200, account.segment_detail(own_segment))
    for path in (f"/segments/{other_segment}.json", f"/segments/{other_segment}/active.json"):
        assert call(path) == (400, {"Code": 302, "Message": "Invalid SegmentID"})
    other_journey = account.journeys[big][0]["JourneyID"]
    assert call(f"/journeys/{other_journey}.json") == (400, {"Code": 380, "Message": "Invalid JourneyID"})
    other_email = account.journey_details[other_journey]["Emails"][0]["EmailID"]
    assert call(f"/journeys/email/{other_email}/opens.json") == (400, {"Code": 381, "Message": "Invalid EmailID"})
    own_journey = account.journeys[small][0]["JourneyID"]
    own_email = account.journey_details[own_journey]["Emails"][0]["EmailID"]
    assert call(f"/journeys/email/{own_email}/recipients.json")[0] == 200
    assert call(f"/lists/{ids['big_list']}/webhooks.json") == (400, {"Code": 101, "Message": "Invalid ListID"})
    assert call(f"/lists/{ids['small_list']}/webhooks.json") == (200, account.webhooks[ids["small_list"]])


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        ("/campaigns/0000/summary.json", 400, 301, "Invalid CampaignID"),
        ("/campaigns/0000/spam.json", 400, 301, "Invalid CampaignID"),
        ("/campaigns/0000/listsandsegments.json", 400, 301, "Invalid CampaignID"),
        ("/campaigns/0000/emailclientusage.json", 400, 301, "Invalid CampaignID"),
        ("/segments/0000.json", 400, 302, "Invalid SegmentID"),
        ("/segments/0000/active.json", 400, 302, "Invalid SegmentID"),
        ("/journeys/0000.json", 400, 380, "Invalid JourneyID"),
        ("/journeys/email/0000/clicks.json", 400, 381, "Invalid EmailID"),
        ("/lists/0000/webhooks.json", 400, 101, "Invalid ListID"),
        ("/clients/0000/tags.json", 401, 102, "Invalid ClientID"),
        ("/clients/0000/journeys.json", 401, 102, "Invalid ClientID"),
    ],
)
def test_unknown_report_ids(session, sandbox, path: str, status: int, code: int, message: str) -> None:
    response = get(session, sandbox, path)
    assert (response.status_code, response.json()) == (status, {"Code": code, "Message": message})


def test_unsent_campaigns_have_no_reports(session, sandbox, account, ids) -> None:
    draft = account.drafts[ids["big_client"]][0]["CampaignID"]
    response = get(session, sandbox, f"/campaigns/{draft}/summary.json")
    assert (response.status_code, response.json()["Code"]) == (400, 301)


def test_command_line_clients_and_lists_per_client() -> None:
    with sandbox_command("--subscribers", "60", "--clients", "3", "--lists-per-client", "2") as (base_url, api_key):
        expected = generate_account(clients=3, lists_per_client=2, subscribers=60)
        assert api_key == expected.api_key
        clients = requests.get(base_url + "/clients.json", auth=(api_key, "x")).json()
        assert clients == expected.clients and len(clients) == 3
        lists = requests.get(f"{base_url}/clients/{clients[2]['ClientID']}/lists.json", auth=(api_key, "x")).json()
        assert len(lists) == 2
    refused = subprocess.run(
        [sys.executable, "-m", "cm_source.sandbox", "--lists-per-client", "1"],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=30,
    )
    assert refused.returncode == 2 and "lists_per_client >= 2" in refused.stderr


# ---- what the sandbox caches --------------------------------------------------------------------------
# A list-state's sorted order is kept between pages (sorting every row for every page made paging a big
# list quadratic) and writes find rows through a per-list address index; both must follow every change.


def page_of(writer: Writer, state: str = "active", **params: object) -> dict:
    return get(writer.http, writer.sandbox, f"/lists/{writer.list_id}/{state}.json", pagesize=10, **params).json()


def emails_of(page: dict) -> list[str]:
    return [row["EmailAddress"] for row in page["Results"]]


def test_paging_sorts_a_list_state_once_until_it_changes(writer: Writer, monkeypatch) -> None:
    from cm_source.sandbox.paging import PageSpec

    sorted_sizes: list[int] = []
    ordered = PageSpec.ordered

    def counted(self: Any, rows: list[dict]) -> list[dict]:
        sorted_sizes.append(len(rows))
        return ordered(self, rows)

    monkeypatch.setattr(PageSpec, "ordered", counted)
    active = len(writer.account.subscribers[writer.list_id]["Active"])
    first = writer.emails()
    assert writer.emails() == first and page_of(writer, date="2024-01-01")["Results"]
    assert sorted_sizes == [active]  # every page and the date filter from one sort
    assert writer.import_([person("0000.new@example.com")]).status_code == 201
    assert writer.emails() == ["0000.new@example.com"] + first
    assert sorted_sizes == [active, active + 1]


def test_a_page_read_after_an_import_shows_it(writer: Writer) -> None:
    before = page_of(writer)
    since = page_of(writer, date=writer.now[:10])
    renamed = emails_of(before)[1]
    assert writer.import_([person("0000.first@example.com"), person(renamed, Name="Renamed")]).status_code == 201
    after = page_of(writer)
    assert emails_of(after) == ["0000.first@example.com"] + emails_of(before)[:9]
    assert after["TotalNumberOfRecords"] == before["TotalNumberOfRecords"] + 1
    assert after["Results"][2]["Name"] == "Renamed"
    assert emails_of(page_of(writer, date=writer.now[:10])) == ["0000.first@example.com"] + emails_of(since)


def test_a_page_read_after_an_add_shows_it(writer: Writer) -> None:
    before = page_of(writer)
    assert writer.add(person("0000.added@example.com", Name="Added")).status_code == 201
    after = page_of(writer)
    assert emails_of(after) == ["0000.added@example.com"] + emails_of(before)[:9]
    assert after["TotalNumberOfRecords"] == before["TotalNumberOfRecords"] + 1
    assert writer.add(person(emails_of(before)[0], Name="Changed")).status_code == 201
    assert page_of(writer)["Results"][1]["Name"] == "Changed"


def test_a_page_read_after_a_resubscribe_shows_the_row_moved(writer: Writer) -> None:
    unsubscribed = emails_of(page_of(writer, "unsubscribed"))
    active = page_of(writer)
    assert writer.add(person(unsubscribed[0]), Resubscribe=True).status_code == 201
    assert emails_of(page_of(writer, "unsubscribed"))[:9] == unsubscribed[1:]
    assert page_of(writer)["TotalNumberOfRecords"] == active["TotalNumberOfRecords"] + 1
    assert unsubscribed[0] in writer.emails()
    assert writer.details(unsubscribed[0])["State"] == "Active"


def test_a_page_read_after_insert_while_paging_shows_the_change(faulty: Faulty) -> None:
    unsubscribed = f"/lists/{faulty.list_id}/unsubscribed.json"
    faulty.get(unsubscribed, pagesize=10)  # cached, as the Active rows are by the first page below
    faulty.faults.insert_while_paging(faulty.list_id, after_page=1, count=1, remove=1)
    first = faulty.get(faulty.active, pagesize=10).json()  # fires once this page is served
    inserted, removed = faulty.faults.inserted, faulty.faults.removed
    again = faulty.get(faulty.active, pagesize=10).json()
    assert [row["EmailAddress"] for row in again["Results"]] == inserted + [
        row["EmailAddress"] for row in first["Results"][1:10]
    ]
    assert again["TotalNumberOfRecords"] == first["TotalNumberOfRecords"]
    assert set(removed) <= set(faulty.read_pages(unsubscribed))
    assert faulty.read_pages(faulty.active) == faulty.stored_emails()


def rewritten(before: dict[str, list[dict]], after: dict[str, list[dict]], named: list[str]) -> dict[str, list[dict]]:
    """A list's rows as rewriting the whole list stores them: every row it held `before` (state by state, in
    stored order) in one dict by case-folded address, the addresses a write `named` that are new to the
    list added in the order first named, each row as it is `after` the write, and each state's rows taken
    in the dict's order."""
    now = {row["EmailAddress"].casefold(): row for rows in after.values() for row in rows}
    order = {row["EmailAddress"].casefold(): None for rows in before.values() for row in rows}
    order.update((email.casefold(), None) for email in named if email.casefold() in now)
    return {state: [now[key] for key in order if now[key]["State"] == state] for state in before}


def test_writes_store_rows_as_rewriting_the_whole_list_does() -> None:
    """Writes find rows through a per-list address index and store only the state lists that change;
    every state's rows, in stored order, and the suppression list end up exactly as rewriting the whole
    list (see rewritten) leaves them, also after a state list was replaced behind the writes' back."""
    account = generate_account(subscribers=600)
    client_id = account.clients[0]["ClientID"]
    list_id = account.lists[client_id][0]["ListID"]
    members = account.subscribers[list_id]
    server = Sandbox(account)
    authorization = "Basic " + base64.b64encode(f"{account.api_key}:x".encode()).decode()

    def post(path: str, body: dict) -> int:
        before = {state: list(rows) for state, rows in members.items()}
        entries = body.get("Subscribers", [body])
        target = f"/api/v3.3/subscribers/{list_id}{path}"
        reply = server.handle("POST", target, authorization, json.dumps(body).encode())
        assert members == rewritten(before, members, [entry["EmailAddress"] for entry in entries]), path
        return reply.status

    def emails(state: str, count: int, start: int = 0) -> list[str]:
        return [row["EmailAddress"] for row in members[state][start : start + count]]

    suppressions = list(account.suppression_list[client_id])
    suppressed = [row["EmailAddress"] for row in suppressions[:6]]
    inactive = emails("Unsubscribed", 3) + emails("Bounced", 2) + emails("Deleted", 2)
    statuses = [
        post("/import.json", {"Subscribers": [person(e, Name="Upd") for e in emails("Active", 5, 3)]
                              + [person(f"new.{n}@example.com") for n in range(4)]
                              + [person(e.upper()) for e in emails("Unconfirmed", 2) + inactive[:2]]}),
        post("/import.json", {"Subscribers": [person(e) for e in inactive[2:] + emails("Active", 2)]
                              + [person(suppressed[0]), person("bad address")], "Resubscribe": True}),
        post("/import.json", {"Subscribers": [person(suppressed[1]), person("new.9@example.com")]}),
        post(".json", {**person(emails("Deleted", 1, 3)[0]), "Resubscribe": True}),
        post(".json", {**person(suppressed[2]), "Resubscribe": True}),
    ]
    members["Active"] = list(members["Active"])  # replaced behind the writes' back: re-indexed
    statuses.append(post("/import.json", {"Subscribers": [person(e, Name="Again") for e in
                                                          emails("Active", 3, len(members["Active"]) - 3)]}))
    statuses.append(post("/import.json", {"Subscribers": [person(inactive[0], Name="Active now")]}))
    statuses.append(post("/unsubscribe.json", {"EmailAddress": emails("Active", 1, 7)[0].upper()}))
    assert statuses == [201, 400, 400, 201, 201, 201, 201, 200]
    lifted = {suppressed[0].casefold(), suppressed[2].casefold()}  # resubscribed; suppressed[1] was refused
    assert account.suppression_list[client_id] == [
        row for row in suppressions if row["EmailAddress"].casefold() not in lifted
    ]
    for states in account.subscribers.values():
        assert all(row["State"] == state for state, rows in states.items() for row in rows)
