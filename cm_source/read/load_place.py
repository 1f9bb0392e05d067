"""Where a run's tables land: destination type, dataset, and the database that holds them.

Incremental cursors describe the tables of one place. dlt keeps a pipeline's state by pipeline name, not
by place: pointed at another dataset, DuckDB file or server, it warns once and keeps the cursors, unless
the new dataset does not exist yet (then its sync wipes the local state). So the source remembers the
place itself, and a run anywhere else reads every incremental table in full.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .destinations import destination_type

Place = dict[str, str]


def place_of(pipeline: Any) -> Place | None:
    """The running pipeline's place, or None when it has no destination (an extract on its own)."""
    destination = getattr(pipeline, "destination", None)
    if destination is None:
        return None
    return {
        "destination": destination_type(destination),
        "dataset": str(pipeline.dataset_name),
        "database": database_of(pipeline),
    }


def database_of(pipeline: Any) -> str:
    """What tells one database of a destination type from another, and grants no access to it: a file's
    absolute path, a server's address and database name, a bucket URL without its user part. Empty
    where the destination's settings cannot be resolved here; the load step then says what is missing."""
    try:
        config = pipeline.destination_client().config
    except Exception:  # unresolved credentials fail the load with dlt's own message, not here
        return ""
    bucket_url = getattr(config, "bucket_url", None)
    if bucket_url:
        return without_user(str(bucket_url))
    credentials = getattr(config, "credentials", None)
    host, port = getattr(credentials, "host", None), getattr(credentials, "port", None)
    database = str(getattr(credentials, "database", None) or "")
    if host:
        address = f"{host}:{port}" if port else str(host)
        return f"{getattr(credentials, 'drivername', None) or ''}://{address}/{database}"
    if database:
        return os.path.abspath(database) if looks_like_file(database) else database
    project = getattr(credentials, "project_id", None)
    return f"project {project}" if project else ""


def looks_like_file(database: str) -> bool:
    return database.endswith((".duckdb", ".db", ".sqlite", ".sqlite3")) or os.sep in database


def without_user(url: str) -> str:
    """A URL with any ``user:password@`` removed."""
    split = urlsplit(url)
    if not split.username and not split.password:
        return url
    host = split.hostname or ""
    netloc = f"{host}:{split.port}" if split.port else host
    return urlunsplit((split.scheme, netloc, split.path, split.query, split.fragment))


def describe(place: Mapping[str, str]) -> str:
    """``duckdb /data/warehouse.duckdb, dataset campaign_monitor_data``."""
    database = place.get("database", "")
    where = f"{place.get('destination', '?')} {database}".strip()
    return f"{where}, dataset {place.get('dataset', '?')}"
