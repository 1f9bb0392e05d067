"""What each destination gets (file format, replace strategy, custom fields nested or as JSON text), and its errors."""

from __future__ import annotations

import json

import pytest
from dlt.common.destination import Destination
from dlt.common.exceptions import MissingDependencyException
from helpers.samples import rows_of

from cm_source.failures import explain_failure
from cm_source.read.catalogue import ENDPOINTS_BY_TABLE
from cm_source.read.columnar import page_table
from cm_source.read.destinations import file_format, has_atomic_replace, holds_nested_arrow, nested_as_text_for
from cm_source.read.page_rules import PageRules
from cm_source.read.time_zones import LocalTime


@pytest.mark.parametrize(
    "name, expected",
    [
        ("duckdb", "parquet"),
        ("postgres", "csv"),
        ("filesystem", "parquet"),
        ("sqlalchemy", "parquet"),
        ("bigquery", "parquet"),
        ("redshift", None),
        ("qdrant", None),
    ],
)
def test_the_file_format_is_the_measured_one_else_parquet_where_taken(name: str, expected: str) -> None:
    assert file_format(Destination.from_reference(name)) == expected


@pytest.mark.parametrize(
    "name, atomic",
    [
        ("duckdb", True),
        ("postgres", True),
        ("sqlalchemy", True),
        ("snowflake", True),
        ("filesystem", False),
        ("qdrant", False),
    ],
)
def test_atomic_replace_only_where_the_destination_can_swap_tables(name: str, atomic: bool) -> None:
    assert has_atomic_replace(Destination.from_reference(name)) is atomic


def test_only_postgres_needs_nested_values_as_text() -> None:
    assert not holds_nested_arrow(Destination.from_reference("postgres"))
    assert all(holds_nested_arrow(Destination.from_reference(name)) for name in ("duckdb", "filesystem", "sqlalchemy"))
    assert holds_nested_arrow(None)  # extracting with no destination yet


def test_custom_fields_as_text_hold_the_same_entries_as_the_nested_column() -> None:
    subscribers = rows_of("active_subscribers_with_tracking_preference.json")
    subscribers[-1] = {**subscribers[-1], "CustomFields": []}
    ids = {"ListID": "list-1"}
    rules = PageRules(ENDPOINTS_BY_TABLE["active_subscribers"], ids, None, LocalTime(True))
    nested = page_table(subscribers, rules).column("custom_fields").to_pylist()
    text = page_table(subscribers, rules, nested_as_text=True).column("custom_fields").to_pylist()
    assert all(isinstance(value, str) for value in text)
    assert [json.loads(value) for value in text] == nested
    assert nested[-1] == [] and any(len(entries) > 1 for entries in nested)


def test_other_nested_values_become_json_text_too() -> None:
    rows = [
        {"EmailAddress": "a@example.com", "Tags": [{"Name": "vip"}]},
        {"EmailAddress": "b@example.com", "Tags": None},
    ]
    table = page_table(
        rows, PageRules(ENDPOINTS_BY_TABLE["active_subscribers"], {}, None, LocalTime(True)), nested_as_text=True
    )
    assert table.column("tags").to_pylist() == ['[{"Name": "vip"}]', None]


def test_a_missing_driver_is_one_line_saying_what_to_install() -> None:
    try:
        try:
            raise MissingDependencyException("dlt.destinations.postgres", ["dlt[postgres]"])
        except MissingDependencyException as missing:
            raise RuntimeError("while making the destination") from missing
    except RuntimeError as wrapped:
        message = explain_failure(wrapped)
    assert message == "dlt.destinations.postgres needs dlt[postgres]: pip install them and run again"


def test_csv_always_takes_nested_values_as_text_other_formats_leave_it_to_the_destination() -> None:
    assert nested_as_text_for("csv") is True
    assert nested_as_text_for("parquet") is None and nested_as_text_for(None) is None
