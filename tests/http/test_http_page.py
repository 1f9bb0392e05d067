"""A page is the API's rows or the same rows as Arrow read them; every question asked of a page gets the
same answer from both."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cm_source.http.page import keys, row_count, values, where

ROWS = [
    {"EmailAddress": "a@x", "ListID": "L1", "Date": "2024-07-15 09:30:00"},
    {"EmailAddress": "b@x", "ListID": "L1"},
    {"EmailAddress": "c@x", "ListID": "L2", "Date": "2024-07-16 10:00:00"},
]


@pytest.mark.parametrize("page", [ROWS, pa.Table.from_pylist(ROWS)], ids=["rows", "arrow"])
def test_both_kinds_of_page_answer_alike(page: object) -> None:
    assert row_count(page) == 3  # type: ignore[arg-type]
    assert values(page, "Date") == ["2024-07-15 09:30:00", None, "2024-07-16 10:00:00"]  # type: ignore[arg-type]
    assert values(page, "NotThere") == [None, None, None]  # type: ignore[arg-type]
    assert keys(page, ["EmailAddress"]) == ["a@x", "b@x", "c@x"]  # type: ignore[arg-type]
    assert keys(page, ["ListID", "EmailAddress"]) == [("L1", "a@x"), ("L1", "b@x"), ("L2", "c@x")]  # type: ignore[arg-type]
    kept = where(page, [True, False, True])  # type: ignore[arg-type]
    assert type(kept) is type(page) and values(kept, "EmailAddress") == ["a@x", "c@x"]
