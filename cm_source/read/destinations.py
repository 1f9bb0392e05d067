"""Where the data lands: per destination, the file format, the replace strategy and nested values.

Each choice is read from what the destination can do (dlt's capabilities) and, where several would
work, set to what was measured fastest there (see the destination table in docs/destinations-and-querying.md).
"""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.configuration.container import Container
from dlt.common.destination import Destination
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.extract.source import SourceInjectableContext

# DuckDB takes up to 80% of RAM by default; bounded (and without keeping insertion order, which it need
# not), it spills to a temp file if it must. What it saves and costs: docs/performance.md, "Memory".
DUCKDB_MEMORY_LIMIT = "128MB"
# Load into a staging dataset, then swap each table (with its child tables) in, one transaction each.
# The copy is the largest cost left in a big load (docs/performance.md); it is what keeps a failed
# load from leaving a half-replaced table.
ATOMIC_REPLACE = "insert-from-staging"
# The fastest format per destination type, measured (benchmarks/destinations.py); elsewhere Parquet
# where the destination takes it (Arrow pages go through unconverted), else dlt's own choice.
FILE_FORMATS = {"duckdb": "parquet", "postgres": "csv", "filesystem": "parquet", "sqlalchemy": "parquet"}
# Arrow pages reach these as CSV or through ADBC, and neither carries a nested column: lists of
# objects (custom fields) go as JSON text into the destination's JSON type instead.
NESTED_AS_TEXT = ("postgres",)
# Where an incremental run can keep its tables exact, for the line that refuses one anywhere else.
MERGING_PLACES = "DuckDB, Postgres, SQLAlchemy, or Delta tables on filesystem (table_format='delta')"


def destination_type(destination: Any) -> str:
    """``postgres`` for dlt's postgres factory, whatever the user named the destination."""
    return str(destination.destination_type).rsplit(".", 1)[-1]


def has_atomic_replace(destination: Any) -> bool:
    """Whether a failed or killed run leaves the previous tables whole there.

    The plain filesystem lists the strategy (for its Delta and Iceberg table formats) but replaces
    plain files by deleting and writing them, and refuses to be asked for it.
    """
    if destination_type(destination) == "filesystem":
        return False
    return ATOMIC_REPLACE in destination.capabilities().supported_replace_strategies


def can_merge(destination: Any, table_formats: frozenset[str | None] = frozenset({None})) -> bool:
    """Whether rows can be updated and deleted there by key, as an incremental run needs.

    Databases do it with dlt's ``delete-insert`` merge. The filesystem does it only for Delta tables,
    with dlt's ``upsert`` and hard deletes; plain files are appended to (changed subscribers would
    be loaded twice, leavers never removed), and dlt's Iceberg upsert leaves a hard-deleted row
    behind, filled with nulls (``merge_refusal``).
    """
    if destination_type(destination) == "filesystem":
        return table_formats == frozenset({"delta"})
    return "delete-insert" in destination.capabilities().supported_merge_strategies


def merge_refusal(destination: Any, table_formats: frozenset[str | None], asked: str, without: str) -> str:
    """The one line that refuses an incremental run where ``can_merge`` says no, and says what works:
    ``asked`` names the run as the user asked for it, ``without`` how to run it as a full refresh."""
    if destination_type(destination) == "filesystem" and "iceberg" in table_formats:
        where = "Iceberg tables cannot: dlt's Iceberg upsert keeps a deleted row (as nulls)"
    elif destination_type(destination) == "filesystem":
        where = "plain files on filesystem cannot"
    else:
        where = f"{destination_type(destination)} cannot"
    return (
        f"{asked} needs tables that can update and delete rows by key, and {where}: load into {MERGING_PLACES},"
        f" or {without} (a full refresh)"
    )


def table_formats_of_run() -> frozenset[str | None]:
    """The table formats (``delta``, ``iceberg``, None for plain) of the resources being extracted:
    ``pipeline.run(source, table_format=...)`` sets them on each resource before extraction begins."""
    context = Container().get(SourceInjectableContext)
    if context is None or context.source is None:
        return frozenset({None})
    formats = {resource.table_format for resource in context.source.selected_resources.values()} or {None}
    # a format chosen per item by a function cannot be known here: counted as a format of its own
    return frozenset(form if form is None or isinstance(form, str) else "per item" for form in formats)


def file_format(destination: Any) -> str | None:
    """The loader file format to load with; None leaves the choice to dlt."""
    formats = destination.capabilities().supported_loader_file_formats
    measured = FILE_FORMATS.get(destination_type(destination))
    if measured in formats:
        return measured
    return "parquet" if "parquet" in formats else None


def holds_nested_arrow(destination: Any) -> bool:
    """Whether a nested Arrow column (``list<struct>``) can be loaded there as it is."""
    return destination is None or destination_type(destination) not in NESTED_AS_TEXT


def nested_as_text_for(loader_format: str | None) -> bool | None:
    """The source's ``nested_as_text`` for a chosen file format: CSV holds no nested column, on any
    destination; otherwise None, for the source to decide from the destination."""
    return True if loader_format == "csv" else None


def destination_for(reference: str, duckdb_path: str, **settings: Any) -> Any:
    """A dlt destination by name (``duckdb``, ``postgres``, a module path, …), replaced atomically where it can be.

    DuckDB loads into ``duckdb_path`` with a memory limit; the others take ``settings`` (such as
    ``credentials``) or are configured the dlt way (``DESTINATION__<NAME>__CREDENTIALS``,
    ``.dlt/secrets.toml``).
    """
    if reference == "duckdb":
        credentials = DuckDbCredentials(
            duckdb_path, global_config={"memory_limit": DUCKDB_MEMORY_LIMIT, "preserve_insertion_order": False}
        )
        return dlt.destinations.duckdb(credentials, replace_strategy=ATOMIC_REPLACE)
    destination = Destination.from_reference(reference, **settings)
    if has_atomic_replace(destination):
        destination = Destination.from_reference(reference, replace_strategy=ATOMIC_REPLACE, **settings)
    return destination
