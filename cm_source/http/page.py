"""A page of rows, the one type every stage of a read passes on: the API's rows as decoded JSON, or the same
rows as Arrow read them (``arrow_pages``, for the tables that run to millions of rows).

Which of the two a page is depends on whether Arrow could read it as the catalogue declares it, so both
stay; what is asked of a page (how many rows, a field's values, its keys, some of its rows) is answered
here, for both, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import pyarrow as pa

Row = dict[str, Any]
Page = Union[list[Row], pa.Table]  # noqa: UP007 - a runtime alias, which py3.10's `|` cannot make of these


def row_count(page: Page) -> int:
    return page.num_rows if isinstance(page, pa.Table) else len(page)


def values(page: Page, field: str) -> list[Any]:
    """One field's value in each row, in order; None where a row lacks it."""
    if isinstance(page, pa.Table):
        return page.column(field).to_pylist() if field in page.column_names else [None] * page.num_rows
    return [row.get(field) for row in page]


def keys(page: Page, row_key: Sequence[str]) -> list[Any]:
    """Each row's key: the one field's value, or a tuple of several."""
    columns = [values(page, name) for name in row_key]
    return columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))


def where(page: Page, keep: Sequence[bool]) -> Page:
    """The rows of ``page`` where ``keep`` is true, as the same kind of page."""
    if isinstance(page, pa.Table):
        return page.filter(pa.array(keep, pa.bool_()))
    return [row for row, kept in zip(page, keep, strict=True) if kept]
