"""One shaping step for every page: the IDs the API leaves out, times in UTC, counts as integers.

Small tables leave as rows (dicts); the tables that run to millions of rows leave as Arrow tables
(``columnar``). Both follow one ``PageRules``, made from the table's catalogue row, so a rule is
changed in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from ..http.page import Page
from .columnar import decoded_page_table, page_table
from .page_rules import PageRules


class ReadRow(dict):
    """A row as it is loaded, carrying the time zone its children's times are in.

    The zone travels with the row to the tables read under it (a client's lists, their
    subscribers), so no table depends on another having been read first. It is an attribute,
    not a field: it is not loaded.
    """

    __slots__ = ("zone",)

    def __init__(self, fields: Mapping[str, Any], zone: ZoneInfo | None) -> None:
        super().__init__(fields)
        self.zone = zone


def shape_page(rows: Page, rules: PageRules, nested_as_text: bool) -> pa.Table | list[ReadRow]:
    """A page as dlt gets it: one Arrow table for a columnar table, else a list of rows."""
    if isinstance(rows, pa.Table):
        return decoded_page_table(rows, rules, nested_as_text)
    if rules.endpoint.columnar:
        return page_table(rows, rules, nested_as_text)
    return [shape_row(row, rules) for row in rows]


def shape_row(row: Mapping[str, Any], rules: PageRules) -> ReadRow:
    """One row with the IDs it was read under, its times converted and its counts as integers."""
    shaped = ReadRow({**row, **rules.ids}, rules.children_zone(row))
    for name in rules.endpoint.timestamps:
        shaped[name] = rules.local_time.parse(shaped.get(name), rules.zone_of(name, row))
    for name in rules.endpoint.instants:
        shaped[name] = rules.local_time.instant(shaped.get(name), rules.zone)
    for name in rules.endpoint.integers:
        shaped[name] = as_integer(shaped.get(name))
    return shaped


def as_integer(value: Any) -> Any:
    """A count sent as ``3`` or as ``"3"`` is the integer 3; anything else is kept as sent."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return value
    return value
