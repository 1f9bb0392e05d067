"""Pages of the large tables decoded by Arrow's JSON reader load exactly what the JSON path loads,
and a page Arrow cannot type as the catalogue declares falls back to JSON."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from helpers.samples import a_joiner_after_page_one, envelope, rows_of

from cm_source.api_facts import BASE_URL
from cm_source.http import CampaignMonitorAPI, RetryPolicy, answers
from cm_source.http.arrow_pages import decode_page, envelope_parts, envelope_schema
from cm_source.read.catalogue import ENDPOINTS
from cm_source.read.columnar import page_fields
from cm_source.read.page_rules import PageRules
from cm_source.read.rows import shape_page
from cm_source.read.time_zones import LocalTime

ENDPOINT = {e.table: e for e in ENDPOINTS}
SYDNEY = ZoneInfo("Australia/Sydney")


def encoded(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(envelope(rows, 1, 1000)).encode("utf-8")


def both_ways(table: str, rows: list[dict[str, Any]], nested_as_text: bool = False) -> tuple:
    """The page as the JSON path shapes it, and as the Arrow path does."""
    endpoint = ENDPOINT[table]
    rules = PageRules(endpoint, {"ListID": "l1"}, SYDNEY, LocalTime(True))
    decoded = decode_page(encoded(rows), envelope_schema(page_fields(endpoint)))
    assert decoded is not None, "Arrow should read this page"
    return shape_page(rows, rules, nested_as_text), shape_page(envelope_parts(decoded)[0], rules, nested_as_text)


def same_table(from_json: pa.Table, from_arrow: pa.Table) -> None:
    """Same rows, same types; a column the Arrow path leaves out holds nothing on the JSON path."""
    for name in set(from_json.column_names) - set(from_arrow.column_names):
        assert from_json.column(name).null_count == from_json.num_rows, name
    assert set(from_arrow.column_names) <= set(from_json.column_names)
    for name in from_arrow.column_names:
        assert from_arrow.schema.field(name).type == from_json.schema.field(name).type, name
        assert from_arrow.column(name).to_pylist() == from_json.column(name).to_pylist(), name
    assert from_arrow.column_names[:2] == ["list_id", "email_address"]  # the key first, as declared


@pytest.mark.parametrize("nested_as_text", [False, True])
def test_a_subscriber_page_loads_the_same_from_arrow_as_from_json(nested_as_text: bool) -> None:
    rows = rows_of("active_subscribers.json") + rows_of("active_subscribers_with_tracking_preference.json")
    from_json, from_arrow = both_ways("active_subscribers", rows, nested_as_text)
    same_table(from_json, from_arrow)
    assert from_arrow.num_rows == len(rows)
    first = from_arrow.to_pylist()[0]
    assert str(first["date"]) == "2010-10-24 23:28:00+00:00"  # 10:28 in Sydney, in UTC
    if not nested_as_text:
        assert first["custom_fields"][-1] == {"key": "subscription date", "value": "2010-03-09"}


def test_an_event_page_loads_the_same_from_arrow_as_from_json() -> None:
    from_json, from_arrow = both_ways("campaign_opens", rows_of("campaign_opens.json"))
    for name in from_arrow.column_names:
        assert from_arrow.column(name).to_pylist() == from_json.column(name).to_pylist(), name
    assert from_arrow.schema.field("latitude").type == pa.float64()


def test_empty_texts_and_missing_custom_fields_load_as_the_json_path_loads_them() -> None:
    rows = [
        {"EmailAddress": "a@example.com", "Date": "", "ListJoinedDate": "2024-03-31 02:30:00", "CustomFields": None},
        {
            "EmailAddress": "b@example.com",
            "Date": "2024-01-02 03:04:05",
            "ListJoinedDate": "2024-01-02 03:04:05",
            "CustomFields": [{"Key": "k", "Value": "v"}],
        },
    ]
    same_table(*both_ways("active_subscribers", rows))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"Results": [{"EmailAddress": "a", "CustomFields": [{"Key": "age", "Value": 24}]}]},
            id="a declared text sent as a number",
        ),
        pytest.param(
            {"Results": [{"EmailAddress": "a", "Extra": 1}, {"EmailAddress": "b", "Extra": "x"}]},
            id="a field of two types",
        ),
        pytest.param(
            {"Results": [{"EmailAddress": "a", "Renewal": "2024-01-02"}]}, id="a time-like text nobody declared"
        ),
        pytest.param([{"EmailAddress": "a"}], id="a bare array"),
    ],
)
def test_a_page_arrow_cannot_type_is_left_to_json(body: Any) -> None:
    if isinstance(body, dict):
        body = {**body, "NumberOfPages": 1, "TotalNumberOfRecords": len(body["Results"])}
    schema = envelope_schema(page_fields(ENDPOINT["active_subscribers"]))
    assert decode_page(json.dumps(body).encode(), schema) is None


def test_two_objects_in_one_body_are_not_one_page() -> None:
    schema = envelope_schema(page_fields(ENDPOINT["active_subscribers"]))
    assert decode_page(encoded([{"EmailAddress": "a"}]) + b"\n" + encoded([]), schema) is None


def api() -> CampaignMonitorAPI:
    return CampaignMonitorAPI("key", BASE_URL, retry=RetryPolicy(sleep=lambda seconds: None))


def test_a_page_left_to_json_is_still_read_and_its_values_kept(requests_mock: Any) -> None:
    rows = [{"EmailAddress": "a@example.com", "CustomFields": [{"Key": "age", "Value": 24}]}]
    requests_mock.get(f"{BASE_URL}/lists/l1/active.json", json=envelope(rows, 1, 1000))
    schema = envelope_schema(page_fields(ENDPOINT["active_subscribers"]))
    pages = list(api().get_pages("lists/l1/active.json", row_key=("EmailAddress",), columns=schema))
    assert pages == [rows]  # JSON rows, as sent
    rules = PageRules(ENDPOINT["active_subscribers"], {"ListID": "l1"}, None, LocalTime(True))
    assert shape_page(pages[0], rules, False).column("custom_fields").to_pylist() == [[{"key": "age", "value": "24"}]]


def test_rows_moving_while_arrow_pages_are_read_are_read_once(monkeypatch: Any, requests_mock: Any) -> None:
    """A subscriber joins (sorting first) after page 1 was read: page 2 shifts by one row."""
    monkeypatch.setattr(answers, "ARROW_MIN_BYTES", 0)
    live = [{"EmailAddress": f"p{i:02d}@example.com"} for i in range(15)]
    requests_mock.get(f"{BASE_URL}/lists/l1/active.json", json=a_joiner_after_page_one(live))
    schema = envelope_schema(page_fields(ENDPOINT["active_subscribers"]))
    pages = list(api().get_pages("lists/l1/active.json", row_key=("EmailAddress",), columns=schema))
    assert all(isinstance(page, pa.Table) for page in pages)
    emails = [email for page in pages for email in page.column("EmailAddress").to_pylist()]
    assert len(emails) == len(set(emails)) == 16
    assert set(emails) == {row["EmailAddress"] for row in live}


def test_the_source_reads_subscriber_pages_through_arrow(monkeypatch: Any, requests_mock: Any) -> None:
    """The subscriber tables go through Arrow's reader; the small tables never do."""
    monkeypatch.setattr(answers, "ARROW_MIN_BYTES", 0)
    read_by_arrow: list[int] = []
    real = answers.decode_page
    monkeypatch.setattr(
        answers, "decode_page", lambda content, schema: read_by_arrow.append(1) or real(content, schema)
    )
    rows = rows_of("active_subscribers.json")
    requests_mock.get(f"{BASE_URL}/lists/l1/active.json", json=envelope(rows, 1, 1000))
    requests_mock.get(
        f"{BASE_URL}/clients/c1/suppressionlist.json", json=envelope(rows_of("suppressionlist.json"), 1, 1000)
    )
    client = api()
    assert isinstance(next(iter(client.get_pages("clients/c1/suppressionlist.json"))), list)
    assert read_by_arrow == []
    schema = envelope_schema(page_fields(ENDPOINT["active_subscribers"]))
    page = next(iter(client.get_pages("lists/l1/active.json", columns=schema)))
    assert read_by_arrow == [1] and page.num_rows == len(rows)


def test_a_page_of_a_few_rows_is_left_to_json(requests_mock: Any) -> None:
    """Arrow's fixed cost per call is not worth it for a campaign's handful of opens."""
    rows = rows_of("active_subscribers.json")
    requests_mock.get(f"{BASE_URL}/lists/l1/active.json", json=envelope(rows, 1, 1000))
    schema = envelope_schema(page_fields(ENDPOINT["active_subscribers"]))
    assert list(api().get_pages("lists/l1/active.json", columns=schema)) == [rows]
    big = [{**rows[0], "EmailAddress": f"p{n}@example.com"} for n in range(200)]
    requests_mock.get(f"{BASE_URL}/lists/l2/active.json", json=envelope(big, 1, 1000))
    page = next(iter(api().get_pages("lists/l2/active.json", columns=schema)))
    assert isinstance(page, pa.Table) and page.num_rows == 200
