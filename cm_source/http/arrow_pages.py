"""Paged answers read by Arrow's JSON reader, for the tables that run to millions of rows.

Decoding a page of a thousand subscribers is the largest single cost of a read, and Python's JSON
decoders hold the GIL while they do it, so the threads that fetch, shape and load pages take turns.
Arrow's reader decodes without the GIL, straight into columns. It is asked only for a page whose
rows it can type without guessing: the fields the catalogue knows are declared (times as text, so
no value is parsed before the catalogue's rules see it), and a page that does not fit (a field of
two types, a time-like text in a field nobody declared, a body that is not one JSON object) is
decoded as plain JSON instead, so Arrow never changes what is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.json as pa_json

ROWS_FIELD = "Results"
# The reader's memory comes from malloc, which gives it back once a page is freed on another thread;
# Arrow's default pool (mimalloc) kept it for the rest of a long read (docs/performance.md).
_PAGE_MEMORY = pa.system_memory_pool()


def envelope_schema(fields: Mapping[str, pa.DataType]) -> pa.Schema:
    """The schema Arrow reads a paged envelope by: ``Results`` rows with ``fields`` typed, others inferred."""
    return pa.schema([(ROWS_FIELD, pa.list_(pa.struct(list(fields.items()))))])


def decode_page(content: bytes, schema: pa.Schema) -> pa.Table | None:
    """The envelope as a one-row table, or None where Arrow cannot read it as the catalogue declares it."""
    try:
        table = pa_json.read_json(
            pa.BufferReader(content),
            read_options=pa_json.ReadOptions(block_size=len(content) + 1, use_threads=False),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer", newlines_in_values=True
            ),
            memory_pool=_PAGE_MEMORY,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if table.num_rows != 1:
        return None
    declared = {field.name for field in schema.field(ROWS_FIELD).type.value_type}
    row_type = table.schema.field(ROWS_FIELD).type.value_type
    if any(_holds_time(field.type) for field in row_type if field.name not in declared):
        return None  # Arrow parsed a text it was not told is a time: its exact text would be lost
    return table


def _holds_time(kind: pa.DataType) -> bool:
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_time(kind):
        return True
    return any(_holds_time(kind.field(i).type) for i in range(kind.num_fields))


def envelope_parts(envelope: pa.Table) -> tuple[pa.Table, int, int] | None:
    """A decoded envelope's rows (one column per field), page count and total; None without a page count."""
    names = envelope.column_names
    try:
        pages = int(envelope.column("NumberOfPages")[0].as_py()) if "NumberOfPages" in names else None
    except (TypeError, ValueError):
        pages = None
    if pages is None:
        return None
    results = envelope.column(ROWS_FIELD).combine_chunks()
    rows = pa.Table.from_struct_array(results.flatten())
    total = envelope.column("TotalNumberOfRecords")[0].as_py() if "TotalNumberOfRecords" in names else None
    return rows, pages, int(total) if total is not None else rows.num_rows
