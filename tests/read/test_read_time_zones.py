"""Campaign Monitor's local times to UTC, across daylight-saving changes in both hemispheres."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from helpers.samples import sample

from cm_source.read.time_zones import LocalTime, iana_zone

UTC = dt.timezone.utc
LONDON = "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London"
SYDNEY = "(GMT+10:00) Canberra, Melbourne, Sydney"
NEW_YORK = "(GMT-05:00) Eastern Time (US & Canada)"


def test_every_zone_campaign_monitor_lists_is_known() -> None:
    names = sample("timezones.json")
    assert len(names) == 97
    assert [name for name in names if iana_zone(name) is None] == []


@pytest.mark.parametrize(
    "zone, local, utc",
    [
        # London: GMT in winter, BST (+01:00) from the last Sunday of March 01:00 UTC
        (LONDON, "2024-07-01 12:00:00", dt.datetime(2024, 7, 1, 11, 0)),
        (LONDON, "2024-01-15 12:00:00", dt.datetime(2024, 1, 15, 12, 0)),
        (LONDON, "2024-03-31 00:59:00", dt.datetime(2024, 3, 31, 0, 59)),
        (LONDON, "2024-03-31 02:00:00", dt.datetime(2024, 3, 31, 1, 0)),
        (LONDON, "2024-10-27 01:30:00", dt.datetime(2024, 10, 27, 0, 30)),  # happens twice: the first
        # Sydney: the other way round — daylight saving (+11:00) from October to April
        (SYDNEY, "2024-01-15 12:00:00", dt.datetime(2024, 1, 15, 1, 0)),
        (SYDNEY, "2024-07-01 12:00:00", dt.datetime(2024, 7, 1, 2, 0)),
        (SYDNEY, "2024-04-07 01:59:00", dt.datetime(2024, 4, 6, 14, 59)),
        (SYDNEY, "2024-04-07 03:00:00", dt.datetime(2024, 4, 6, 17, 0)),
        (SYDNEY, "2024-10-06 03:00:00", dt.datetime(2024, 10, 5, 16, 0)),
        (SYDNEY, "2024-10-06 02:30:00", dt.datetime(2024, 10, 5, 16, 30)),  # never happens: the offset before
        # New York, and a zone without daylight saving
        (NEW_YORK, "2024-03-10 01:59:00", dt.datetime(2024, 3, 10, 6, 59)),
        (NEW_YORK, "2024-03-10 03:00:00", dt.datetime(2024, 3, 10, 7, 0)),
        ("(GMT+10:00) Brisbane", "2024-01-15 12:00:00", dt.datetime(2024, 1, 15, 2, 0)),
        ("(GMT+05:45) Kathmandu", "2024-01-15 12:00:00", dt.datetime(2024, 1, 15, 6, 15)),
    ],
)
def test_local_times_become_utc_with_daylight_saving(zone: str, local: str, utc: dt.datetime) -> None:
    times = LocalTime()
    assert times.parse(local, times.zone(zone)) == utc.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "name, iana",
    [
        ("(GMT) Dublin, Edinburgh, Lisbon, London", "Europe/London"),
        ("(UTC+10:00) Canberra, Melbourne, Sydney", "Australia/Sydney"),
        ("  (GMT+10:00)   Canberra,  Melbourne, Sydney ", "Australia/Sydney"),
        ("Europe/Paris", "Europe/Paris"),
    ],
)
def test_name_variants_resolve(name: str, iana: str) -> None:
    zone = iana_zone(name)
    assert zone is not None and zone.key == iana


def test_unknown_zone_warns_once_and_leaves_values_as_given(caplog: pytest.LogCaptureFixture) -> None:
    times = LocalTime()
    with caplog.at_level(logging.WARNING):
        zones = [times.zone("(GMT+05:00) Atlantis") for _ in range(3)]
    assert zones == [None, None, None]
    assert [r.getMessage() for r in caplog.records] == [
        "unknown Campaign Monitor time zone '(GMT+05:00) Atlantis': its times are loaded as given, not converted to UTC"
    ]
    assert times.parse("2024-07-01 12:00:00", None) == dt.datetime(2024, 7, 1, 12, 0)


def test_turned_off_nothing_is_converted() -> None:
    times = LocalTime(to_utc=False)
    assert times.zone(LONDON) is None
    assert times.parse("2024-07-01 12:00:00", times.zone(LONDON)) == dt.datetime(2024, 7, 1, 12, 0)


def test_empty_and_malformed_values() -> None:
    times = LocalTime()
    assert times.parse("", times.zone(LONDON)) is None and times.parse(None, times.zone(LONDON)) is None
    assert times.parse("19/08/2010 4:08pm", times.zone(LONDON)) == "19/08/2010 4:08pm"


def test_arrow_pages_follow_the_same_rule_including_skipped_hours_and_bad_values() -> None:
    """Large tables convert a column at a time; where Arrow's rules differ, zoneinfo's apply."""
    from cm_source.read.catalogue import ENDPOINTS_BY_TABLE
    from cm_source.read.columnar import page_table
    from cm_source.read.page_rules import PageRules

    times = LocalTime()
    active = ENDPOINTS_BY_TABLE["active_subscribers"]
    rows = [
        {"EmailAddress": "a@example.com", "Date": "2024-10-06 02:30:00"},  # never happens in Sydney
        {"EmailAddress": "b@example.com", "Date": "2024-04-07 02:30:00"},  # happens twice: the first
        {"EmailAddress": "c@example.com", "Date": "07/04/2024"},
    ]
    table = page_table(rows, PageRules(active, {"ListID": "L"}, times.zone(SYDNEY), times))
    assert table.column("date").to_pylist() == [
        dt.datetime(2024, 10, 5, 16, 30, tzinfo=UTC),
        dt.datetime(2024, 4, 6, 15, 30, tzinfo=UTC),
        None,
    ]
    assert table.column("date__v_text").to_pylist() == [None, None, "07/04/2024"]
    assert table.column_names[:2] == ["list_id", "email_address"]
    clean = page_table(rows[1:2], PageRules(active, {}, times.zone(LONDON), times))
    assert clean.column("date").to_pylist() == [dt.datetime(2024, 4, 7, 1, 30, tzinfo=UTC)]
