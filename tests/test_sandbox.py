"""The sandbox itself, over real HTTP: generated data, auth, paging, shapes and request recording."""

from __future__ import annotations

import base64
import math
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import requests

from cm_source.sandbox import STATES, Account, RecordedRequest, Sandbox, generate_account

SUBSCRIBER_KEYS = {"EmailAddress", "Name", "Date", "ListJoinedDate", "State", "CustomFields", "ReadsEmailWith"}
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
ENVELOPE_KEYS = {
    "Results", "ResultsOrderedBy", "OrderDirection", "PageNumber", "PageSize",
    "RecordsOnThisPage", "TotalNumberOfRecords", "NumberOfPages",
}


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account()


@pytest.fixture(scope="module")
def sandbox(account: Account):
    with Sandbox(account) as running:
        yield running


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
    assert sum(sum(per_state.values()) for per_state in counts.values()) == 3000
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
        "(GMT) Dublin, Edinburgh, Lisbon, London",
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


def test_command_line_prints_url_and_key() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cm_source.sandbox", "--subscribers", "40", "--seed", "3"],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = process.stdout.readline().split()[-1]
        api_key = process.stdout.readline().split()[-1]
        assert api_key == generate_account(seed=3, subscribers=40).api_key
        assert requests.get(base_url + "/clients.json", auth=(api_key, "x")).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=5)
