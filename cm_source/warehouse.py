"""The DuckDB destination the pipeline script loads into: replaced atomically, in bounded memory."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

# DuckDB takes up to 80% of RAM by default and kept ~600 MB while swapping a million-row table in;
# bounded, it streams (and spills to a temp file if it must) at the same speed.
DUCKDB_MEMORY_LIMIT = "256MB"


def duckdb_destination(path: str) -> Any:
    """A DuckDB file as a dlt destination.

    Tables are loaded into a staging dataset and swapped in one transaction (insert-from-staging):
    a run that fails or is killed half-way leaves the previous load as it was.
    """
    credentials = DuckDbCredentials(path, global_config={"memory_limit": DUCKDB_MEMORY_LIMIT})
    return dlt.destinations.duckdb(credentials, replace_strategy="insert-from-staging")
