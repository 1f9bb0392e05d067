"""Delta and Iceberg tables on the filesystem destination, read back without DuckDB.

``pipeline.dataset()`` and ``pipeline.sql_client()`` read these tables through DuckDB's ``delta`` and
``iceberg`` extensions, which DuckDB downloads on first use: a worker without the internet (or with
a pinned image) cannot. The connector's own reads of its tables (an incremental run's reconcile, the
command's row counts) go through ``deltalake`` and ``pyiceberg`` instead, as dlt opens them
(``get_delta_tables``, ``get_iceberg_tables``: the bucket and its credentials as dlt configures them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.utils import get_inherited_table_hint

from .destinations import destination_type

LAKE_FORMATS = ("delta", "iceberg")


def table_format(pipeline: Any, table: str) -> str | None:
    """``delta`` or ``iceberg`` where the pipeline loaded ``table`` as one, else None (any destination
    but the filesystem, which alone writes these formats)."""
    if destination_type(pipeline.destination) != "filesystem":
        return None
    tables = pipeline.default_schema.tables
    if table not in tables:
        return None
    found = get_inherited_table_hint(tables, table, "table_format", allow_none=True)  # a child's is its root's
    return found if found in LAKE_FORMATS else None


def lake_rows(
    pipeline: Any, table: str, columns: Sequence[str] | None = None, where: dict[str, str] | None = None
) -> pa.Table:
    """``columns`` (else all) of a Delta or Iceberg ``table``, the rows whose columns equal ``where``'s values.

    Iceberg takes the condition into its own read (the files it cannot match are skipped); deltalake's
    own filter compares text it reads as ``string_view``, which Arrow cannot, so Delta rows are filtered
    once read, as plain strings."""
    conditions = list((where or {}).items())
    if table_format(pipeline, table) == "delta":
        from dlt.common.libs.deltalake import get_delta_tables

        wanted = None if columns is None else list(dict.fromkeys([*columns, *(where or {})]))
        rows = without_views(get_delta_tables(pipeline, table)[table].to_pyarrow_table(columns=wanted))
        for name, value in conditions:
            rows = rows.filter(pc.equal(rows[name], value))
        return rows if columns is None else rows.select(list(columns))
    from dlt.common.libs.pyiceberg import get_iceberg_tables
    from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, EqualTo, Reference
    from pyiceberg.expressions.literals import literal

    row_filter: BooleanExpression = AlwaysTrue()
    for name, value in conditions:
        row_filter = And(row_filter, EqualTo(term=Reference(name), value=literal(value)))
    scan = get_iceberg_tables(pipeline, table)[table].scan(row_filter, tuple(columns or ["*"]))
    return scan.to_arrow()


def without_views(rows: pa.Table) -> pa.Table:
    """Text columns deltalake read as ``string_view`` as plain strings: Arrow's comparisons and filters
    take no view (an incremental run into Delta failed on it once a table had been written in pieces)."""
    fields = [field.with_type(pa.string()) if pa.types.is_string_view(field.type) else field for field in rows.schema]
    return rows.cast(pa.schema(fields))


def row_counts(pipeline: Any, tables: Sequence[str]) -> dict[str, int]:
    """Rows in each of ``tables``: from the dataset, or from the table's own files for Delta and Iceberg."""
    lake = [table for table in tables if table_format(pipeline, table)]
    others = [table for table in tables if table not in lake]
    counts = dict(pipeline.dataset().row_counts(table_names=others).fetchall()) if others else {}
    for table in lake:
        key = next(iter(pipeline.default_schema.tables[table]["columns"]))
        counts[table] = lake_rows(pipeline, table, [key]).num_rows
    return counts
