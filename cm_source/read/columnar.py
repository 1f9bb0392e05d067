"""A page of rows as an Arrow table, for the tables that run to millions of rows.

dlt normalises plain rows one at a time in Python: for a million subscribers with their custom
fields that took longer than fetching them. An Arrow table goes to Parquet and into the warehouse
without that step, and converting a page's times column by column is cheaper than row by row.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.normalizers.naming.snake_case import NamingConvention

from ..http.paging import Row
from .time_zones import LocalTime

if TYPE_CHECKING:
    from .catalogue import Endpoint
    from .page_rules import PageRules

API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Custom fields stay with their subscriber, one list entry per value (a multi-select field repeats
# its key), so no child table and no join key is needed.
CUSTOM_FIELDS_TYPE = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
API_CUSTOM_FIELDS_TYPE = pa.list_(pa.struct([("Key", pa.string()), ("Value", pa.string())]))
# Rows of a large table handed to dlt as one item: dlt's schema work and Parquet writing cost per item.
ROWS_PER_ITEM = 25_000
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
LOCAL_TIMESTAMP = pa.timestamp("us")

_naming = NamingConvention()


@cache
def column_name(field: str) -> str:
    return _naming.normalize_identifier(field)


def page_table(rows: Sequence[Row], rules: PageRules, nested_as_text: bool = False) -> pa.Table:
    """``rows`` as one Arrow table: every field any row has, the IDs read under, times converted.

    A value that is not a time lands in ``<column>__v_text``, as dlt names variants. Columns come
    in the order of the table's key, so the key reads as declared; the key and the IDs are
    declared not null, as the table's hints say. With ``nested_as_text``, a list or object value
    (custom fields among them) is JSON text, for destinations that cannot load a nested Arrow column.
    """
    endpoint, ids = rules.endpoint, rules.ids
    columns: dict[str, pa.Array] = {}
    for field in dict.fromkeys(name for row in rows for name in row if name not in ids):
        values = [row.get(field) for row in rows]
        if field in endpoint.timestamps:
            columns.update(timestamp_columns(column_name(field), values, rules.zone_of(field), rules.local_time))
        elif field == endpoint.custom_fields:
            columns[column_name(field)] = (custom_fields_text if nested_as_text else custom_fields_array)(values)
        elif field in endpoint.floats:
            columns[column_name(field)] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        else:
            columns[column_name(field)] = plain_array(values, nested_as_text)
    return assembled(columns, len(rows), rules)


def decoded_page_table(decoded: pa.Table, rules: PageRules, nested_as_text: bool = False) -> pa.Table:
    """A page Arrow decoded (``http.arrow_pages``) as the same table ``page_table`` makes of its rows.

    Declared columns no row filled are dropped: Arrow cannot tell a field left out from a null one.
    """
    endpoint, ids = rules.endpoint, rules.ids
    declared = page_fields(endpoint)
    columns: dict[str, pa.Array] = {}
    for field, chunks in zip(decoded.column_names, decoded.columns, strict=True):
        array = chunks.combine_chunks()
        if field in ids or (array.null_count == len(array) and field in declared):
            continue
        if field in endpoint.timestamps:
            columns.update(timestamp_columns(column_name(field), array, rules.zone_of(field), rules.local_time))
        elif field == endpoint.custom_fields:
            columns[column_name(field)] = decoded_custom_fields(array, nested_as_text)
        else:
            columns[column_name(field)] = plain_array(array, nested_as_text)
    return assembled(columns, decoded.num_rows, rules)


def assembled(columns: dict[str, pa.Array], length: int, rules: PageRules) -> pa.Table:
    """The page's columns behind the IDs it was read under, the key first, key and IDs not null."""
    endpoint, ids = rules.endpoint, rules.ids
    columns = {
        **{column_name(field): pa.repeat(pa.scalar(value, pa.string()), length) for field, value in ids.items()},
        **columns,
    }
    for field in endpoint.always_text:
        columns.setdefault(column_name(field), pa.nulls(length, pa.string()))
    key = endpoint.primary_key
    first = [name for name in key if name in columns]
    names = [*first, *(name for name in columns if name not in first)]
    required = {*key, *(column_name(field) for field in ids)}  # declared not null, as table_hints does
    schema = pa.schema([pa.field(name, columns[name].type, nullable=name not in required) for name in names])
    return pa.Table.from_arrays([columns[name] for name in names], schema=schema)


def page_fields(endpoint: Endpoint) -> dict[str, pa.DataType]:
    """The fields of an endpoint's rows whose type the catalogue knows, as Arrow reads a page of them:
    times and always-text fields as text, the custom fields as key/value entries, floats as floats."""
    fields: dict[str, pa.DataType] = {name: pa.string() for name in (*endpoint.row_key, *endpoint.always_text)}
    fields.update({name: pa.string() for name in endpoint.timestamps})
    fields.update({name: pa.float64() for name in endpoint.floats})
    if endpoint.custom_fields:
        fields[endpoint.custom_fields] = API_CUSTOM_FIELDS_TYPE
    return fields


def decoded_custom_fields(array: pa.Array, nested_as_text: bool) -> pa.Array:
    """Arrow's ``{Key, Value}`` entries as the loaded ``{key, value}`` ones (a subscriber without any: none)."""
    if nested_as_text or array.null_count:
        fields = array.to_pylist()
        return custom_fields_text(fields) if nested_as_text else custom_fields_array(fields)
    entries = array.values
    renamed = pa.StructArray.from_arrays(
        [entries.field("Key"), entries.field("Value")], fields=list(CUSTOM_FIELDS_TYPE.value_type)
    )
    return pa.ListArray.from_arrays(array.offsets, renamed)


def combined(tables: list[pa.Table], rows: list[Row]) -> list[Any]:
    """Pages of one table as few items: the Arrow pages as one table where their columns agree (columns
    missing from a page are null there; pages whose types clash go one by one), the plain rows as one list."""
    if len(tables) > 1:
        alike = all(table.schema.equals(tables[0].schema) for table in tables[1:])
        try:  # pages of one shape are only linked together; the others are unified first
            tables = [pa.concat_tables(tables, promote_options="none" if alike else "default")]
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return [*tables, *([rows] if rows else [])]


def gathered(pages: Iterable[Any], rows_per_item: int = ROWS_PER_ITEM) -> Iterator[Any]:
    """Pages of one table handed on ``rows_per_item`` rows at a time (through ``combined``).

    dlt works out an Arrow item's table schema again for every item it is given, and its other work
    is per item too: a fan-out over thousands of campaigns yields thousands of tiny pages, so they are
    gathered into a few large items rather than handed on as they arrive.
    """
    tables: list[pa.Table] = []
    rows: list[Row] = []
    count = 0
    for page in pages:
        if isinstance(page, pa.Table):
            tables.append(page)
            count += page.num_rows
        else:
            rows.extend(page)
            count += len(page)
        if count >= rows_per_item:
            yield from combined(tables, rows)
            tables, rows, count = [], [], 0
    if tables or rows:
        yield from combined(tables, rows)


def take_memory_from_malloc() -> None:
    """Arrow's allocations from malloc, which gives freed pages back: its default pool (mimalloc) kept
    the extract step's memory through the load step. Done by the source, so the plain Python call gets
    it; an explicit ``ARROW_DEFAULT_MEMORY_POOL`` is kept."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())


def release_unused_memory() -> None:
    """Give back what Arrow's pool keeps of a large table's pages once they are written: dlt writes them
    on the thread the table is read from, and the pool would hold that memory through the load step."""
    pa.default_memory_pool().release_unused()


def plain_array(values: Any, nested_as_text: bool = False) -> pa.Array:
    """Arrow's own inference (or the type Arrow decoded ``values`` with, when they are an Arrow array);
    a field mixing types, or all empty, is kept as text, never dropped."""
    try:
        array = values if isinstance(values, pa.Array) else pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = None
    if array is None or pa.types.is_null(array.type) or (nested_as_text and pa.types.is_nested(array.type)):
        listed = values.to_pylist() if isinstance(values, pa.Array) else values
        return pa.array([as_text(value) for value in listed], pa.string())
    return array


def as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def custom_fields_array(values: list[Any]) -> pa.Array:
    offsets, keys, texts = [0], [], []
    for fields in values:
        for entry in fields or ():
            keys.append(entry.get("Key"))
            texts.append(as_text(entry.get("Value")))
        offsets.append(len(keys))
    entries = pa.StructArray.from_arrays(
        [pa.array(keys, pa.string()), pa.array(texts, pa.string())], fields=list(CUSTOM_FIELDS_TYPE.value_type)
    )
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), entries)


def custom_fields_text(values: list[Any]) -> pa.Array:
    """The same entries as ``custom_fields_array``, each subscriber's list as one JSON text."""
    return pa.array(
        [
            json.dumps(
                [{"key": e.get("Key"), "value": as_text(e.get("Value"))} for e in fields or ()], ensure_ascii=False
            )
            for fields in values
        ],
        pa.string(),
    )


def timestamp_columns(name: str, values: Any, zone: ZoneInfo | None, local_time: LocalTime) -> dict[str, pa.Array]:
    """A page's times in one column: parsed and converted by Arrow, by ``zoneinfo`` where Arrow cannot.

    Arrow's and zoneinfo's rules agree except for a wall time that never happens (clocks going
    forward); such a page, and any value Arrow cannot parse, is converted value by value the same
    way as the small tables are, so every table follows one rule.
    """
    target = UTC_TIMESTAMP if local_time.to_utc else LOCAL_TIMESTAMP
    if isinstance(values, pa.Array):  # text as Arrow decoded it; an empty text is no time
        text = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    else:
        text = pa.array([value if value else None for value in values], pa.string())
    try:
        parsed = pc.strptime(text, format=API_TIME_FORMAT, unit="s")
        if zone is not None:
            parsed = pc.assume_timezone(parsed, timezone=zone.key, ambiguous="earliest", nonexistent="raise")
        return {name: parsed.cast(target)}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if isinstance(values, pa.Array):
        values = values.to_pylist()
    converted = [local_time.parse(value, zone) for value in values]
    times = [value if not isinstance(value, str) else None for value in converted]
    if zone is None and local_time.to_utc:  # loaded as given: the wall time, labelled UTC
        columns = {name: pa.array(times, LOCAL_TIMESTAMP).cast(target)}
    else:
        columns = {name: pa.array(times, target)}
    texts = [value if isinstance(value, str) else None for value in converted]
    if any(texts):
        columns[f"{name}__v_text"] = pa.array(texts, pa.string())
    return columns
