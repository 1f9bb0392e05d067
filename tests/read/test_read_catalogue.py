"""The catalogue says everything particular to a table; the wiring names no table."""

from __future__ import annotations

import inspect

from cm_source.read import account_reader, columnar, rows, source
from cm_source.read.catalogue import ENDPOINTS, ENDPOINTS_BY_TABLE, carries_client_id, read_under


def test_there_is_one_root_and_every_parent_comes_before_its_children() -> None:
    """Every table hangs from the clients but the account's own administrators, which hang from nothing
    and hand nothing down, and are the only table without a client_id."""
    seen = set()
    for endpoint in ENDPOINTS:
        assert endpoint.parent is None or endpoint.parent in seen, endpoint.table
        seen.add(endpoint.table)
    roots = [e for e in ENDPOINTS if e.parent is None]
    assert [(e.table, e.hands_down) for e in roots] == [("administrators", ()), ("clients", ("ClientID",))]
    assert [e.table for e in ENDPOINTS if not carries_client_id(e)] == ["administrators"]


def test_campaign_reports_are_exactly_the_tables_read_under_each_sent_campaign() -> None:
    reports = {e.table for e in ENDPOINTS if e.campaign_report}
    assert reports == {e.table for e in ENDPOINTS if e.parent == "campaigns"}
    assert len(reports) == 10


def test_a_table_with_children_hands_them_ids_it_holds_and_the_clients_zone_travels_from_the_root() -> None:
    for endpoint in ENDPOINTS:
        if endpoint.parent:
            assert set(read_under(endpoint)) >= set(ENDPOINTS_BY_TABLE[endpoint.parent].hands_down), endpoint.table
    assert [e.table for e in ENDPOINTS if e.zones.for_children] == ["clients"]
    assert [e.table for e in ENDPOINTS if e.custom_fields] == [
        e.table for e in ENDPOINTS if e.table.endswith("_subscribers")
    ]


def test_the_wiring_and_the_shaping_name_no_table_and_no_api_field() -> None:
    for module in (source, account_reader, rows, columnar):
        text = inspect.getsource(module)
        for endpoint in ENDPOINTS:
            assert f'"{endpoint.table}"' not in text, (module.__name__, endpoint.table)
        assert '"CustomFields"' not in text and '"TimeZone"' not in text, module.__name__
