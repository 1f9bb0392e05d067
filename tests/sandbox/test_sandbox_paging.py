"""Paging over HTTP: the envelope, page sizes and numbers, orders and their validation, the `date`
filter, the report endpoints' own orders, and the cached order of a list-state following every change."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
from helpers import sandbox as shared
from helpers.sandbox import (
    SUBSCRIBER_KEYS,
    Faulty,
    Writer,
    api_fixture,
    as_key,
    get,
    newest_campaign,
    person,
    read_all_pages,
)

from cm_source.sandbox import STATES
from cm_source.sandbox.paging import PageSpec

session, ids, writer, faulty = shared.session, shared.ids, shared.writer, shared.faulty  # fixtures


ENVELOPE_KEYS = {
    "Results",
    "ResultsOrderedBy",
    "OrderDirection",
    "PageNumber",
    "PageSize",
    "RecordsOnThisPage",
    "TotalNumberOfRecords",
    "NumberOfPages",
}


# ---- the envelope, orders and filters ----------------------------------------------------------------


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
        ({"page": 0}, 800),
        ({"page": "x"}, 800),
        ({"page": -1}, 800),
        ({"page": ""}, 800),
        ({"pagesize": 9}, 801),
        ({"pagesize": 1001}, 801),
        ({"pagesize": "ten"}, 801),
        ({"orderfield": "sentdate"}, 802),
        ({"orderdirection": "up"}, 803),
        ({"date": "yesterday"}, 5),
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
    for path in (
        f"/campaigns/{campaign_id}/recipients.json",
        f"/campaigns/{campaign_id}/clicks.json",
        f"/journeys/email/{email_id}/bounces.json",
        f"/segments/{segment_id}/active.json",
    ):
        response = get(session, sandbox, path, **params)
        assert (response.status_code, response.json()["Code"]) == (400, code)


# ---- the cached order of a list-state ---------------------------------------------------------------
# A list-state's sorted order is kept between pages (sorting every row for every page made paging a big
# list quadratic); it must follow every change.


def page_of(writer: Writer, state: str = "active", **params: object) -> dict:
    return get(writer.http, writer.sandbox, f"/lists/{writer.list_id}/{state}.json", pagesize=10, **params).json()


def emails_of(page: dict) -> list[str]:
    return [row["EmailAddress"] for row in page["Results"]]


def test_paging_sorts_a_list_state_once_until_it_changes(writer: Writer, monkeypatch) -> None:
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
