"""The DuckDB destination the pipeline script loads into: replaced atomically, in bounded memory."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

# DuckDB takes up to 80% of RAM by default: swapping a million-row table in took the load step to
# ~560 MB. Bounded (and without keeping insertion order, which it need not), it peaked at ~420 MB
# in the same time (benchmarks/subscribers.py); it spills to a temp file if it must.
DUCKDB_MEMORY_LIMIT = "128MB"


def duckdb_destination(path: str) -> Any:
    """A DuckDB file as a dlt destination.

    Tables are loaded into a staging dataset and swapped in one transaction (insert-from-staging):
    a run that fails or is killed half-way leaves the previous load as it was.
    """
    credentials = DuckDbCredentials(
        path, global_config={"memory_limit": DUCKDB_MEMORY_LIMIT, "preserve_insertion_order": False}
    )
    return dlt.destinations.duckdb(credentials, replace_strategy="insert-from-staging")
