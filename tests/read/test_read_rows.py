"""One shaping step: rows and Arrow pages follow the same rules, and a client's zone travels on its rows."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from cm_source.read.catalogue import ENDPOINTS_BY_TABLE
from cm_source.read.columnar import gathered
from cm_source.read.page_rules import PageRules
from cm_source.read.rows import ReadRow, shape_page, shape_row
from cm_source.read.time_zones import LocalTime

SYDNEY = "(GMT+10:00) Canberra, Melbourne, Sydney"
UTC = dt.timezone.utc


def test_a_clients_zone_is_handed_down_through_every_row_read_under_it() -> None:
    times = LocalTime()
    client = shape_row(
        {"ClientID": "c1", "TimeZone": SYDNEY}, PageRules(ENDPOINTS_BY_TABLE["clients"], {}, None, times)
    )
    assert isinstance(client, ReadRow) and client.zone is not None and client.zone.key == "Australia/Sydney"
    assert "zone" not in client  # an attribute, not a column
    lists = PageRules(ENDPOINTS_BY_TABLE["lists"], {"ClientID": "c1"}, client.zone, times)
    a_list = shape_row({"ListID": "l1", "Name": "News"}, lists)
    assert a_list == {"ListID": "l1", "Name": "News", "ClientID": "c1"} and a_list.zone == client.zone
    active = PageRules(ENDPOINTS_BY_TABLE["active_subscribers"], {"ListID": "l1"}, a_list.zone, times)
    page = shape_page([{"EmailAddress": "a@example.com", "Date": "2024-01-15 10:00:00"}], active, nested_as_text=False)
    assert page.column("date").to_pylist() == [dt.datetime(2024, 1, 14, 23, 0, tzinfo=UTC)]
    assert page.column("list_id").to_pylist() == ["l1"]


def test_dict_rows_and_arrow_pages_convert_the_same_time_the_same_way() -> None:
    times = LocalTime()
    zone = times.zone(SYDNEY)
    sent = "2024-04-07 02:30:00"  # happens twice in Sydney: the first is taken
    campaign = shape_row(
        {"CampaignID": "x", "SentDate": sent}, PageRules(ENDPOINTS_BY_TABLE["campaigns"], {}, zone, times)
    )
    opens = shape_page(
        [{"EmailAddress": "a@example.com", "Date": sent}],
        PageRules(ENDPOINTS_BY_TABLE["campaign_opens"], {"CampaignID": "x"}, zone, times),
        False,
    )
    assert campaign["SentDate"] == opens.column("date").to_pylist()[0] == dt.datetime(2024, 4, 6, 15, 30, tzinfo=UTC)


def test_a_row_that_names_its_own_zone_uses_it_for_that_field_only() -> None:
    times = LocalTime()
    rules = PageRules(ENDPOINTS_BY_TABLE["scheduled_campaigns"], {"ClientID": "c1"}, times.zone(SYDNEY), times)
    row = shape_row(
        {
            "CampaignID": "s",
            "DateScheduled": "2024-01-15 10:00:00",
            "DateCreated": "2024-01-15 10:00:00",
            "ScheduledTimeZone": "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London",
        },
        rules,
    )
    assert row["DateScheduled"] == dt.datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    assert row["DateCreated"] == dt.datetime(2024, 1, 14, 23, 0, tzinfo=UTC)


def test_arrow_pages_reach_dlt_gathered_into_larger_items_in_order() -> None:
    """dlt's work per item is done once per many pages; plain rows count towards the same items."""
    pages = [pa.table({"n": [3 * page + i for i in range(3)]}) for page in range(5)]
    rows_page = [{"n": "a row page"}]
    items = list(gathered([pages[0], pages[1], rows_page, pages[2], pages[3], pages[4]], rows_per_item=7))
    assert [item.num_rows if isinstance(item, pa.Table) else item for item in items] == [6, rows_page, 9]
    assert [n for item in items if isinstance(item, pa.Table) for n in item.column("n").to_pylist()] == list(range(15))
