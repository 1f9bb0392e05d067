"""Reading Delta tables back (``lake_tables.lake_rows``), as the reconcile does for one list."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
from dlt.common.libs import deltalake as dlt_deltalake

from cm_source.read.lake_tables import lake_rows


def test_a_delta_table_read_as_string_view_is_filtered_by_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """deltalake reads text as string_view after some writes; Arrow's comparison refused it, which
    failed an incremental run into Delta tables that went on after a cut (found by a SIGKILL)."""
    view = pa.string_view()
    table = pa.table(
        {"list_id": pa.array(["L1", "L2", "L1"], view), "email_address": pa.array(["a@x", "b@x", "c@x"], view)}
    )
    delta = SimpleNamespace(to_pyarrow_table=lambda columns=None: table.select(columns) if columns else table)
    monkeypatch.setattr(dlt_deltalake, "get_delta_tables", lambda pipeline, *names: {names[0]: delta})
    pipeline: Any = SimpleNamespace(
        destination=SimpleNamespace(destination_type="dlt.destinations.filesystem"),
        default_schema=SimpleNamespace(tables={"active_subscribers": {"table_format": "delta"}}),
    )
    rows = lake_rows(pipeline, "active_subscribers", ["email_address"], {"list_id": "L1"})
    assert rows.column("email_address").to_pylist() == ["a@x", "c@x"]
