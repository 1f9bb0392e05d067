"""Reading back what a test pipeline loaded: DuckDB's file, a database through dlt's client, or Delta and
Iceberg tables read with ``deltalake`` and ``pyiceberg`` (as a user without DuckDB's extensions would)."""

from __future__ import annotations

import re

import dlt
import duckdb

from cm_source.read.lake_tables import lake_rows


def query(pipeline: dlt.Pipeline, sql: str) -> list[tuple]:
    """Run SQL against what the pipeline loaded, with its dataset as the default schema: DuckDB's file
    opened read-only (no lock held against the next run), any other destination through dlt's client."""
    if pipeline.destination.destination_name == "filesystem":
        return lake_query(pipeline, sql)
    if pipeline.destination.destination_name != "duckdb":
        with pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql)]
    path = pipeline.destination_client().config.credentials.database  # type: ignore[attr-defined]
    with duckdb.connect(path, read_only=True) as conn:
        conn.execute(f"SET schema = '{pipeline.dataset_name}'")
        return conn.execute(sql).fetchall()


def lake_query(pipeline: dlt.Pipeline, sql: str) -> list[tuple]:
    """SQL over the pipeline's Delta or Iceberg tables, each read whole into Arrow by its own library
    (``deltalake``, ``pyiceberg``, opened as dlt opens them: a local folder or a bucket with its
    credentials) and queried in an in-memory DuckDB: no DuckDB extension is downloaded."""
    with duckdb.connect() as conn:
        for table in pipeline.default_schema.data_table_names(seen_data_only=True):
            if re.search(rf"\b{table}\b", sql):  # only the tables the query names: each is read whole
                conn.register(table, lake_rows(pipeline, table))
        return conn.execute(sql).fetchall()


# A subscriber's custom fields, one row per value, from the JSON column the read side loads.
CUSTOM_FIELDS = "CAST(custom_fields AS STRUCT(key VARCHAR, value VARCHAR)[])"


def table_names(pipeline: dlt.Pipeline) -> list[str]:
    return [
        r[0]
        for r in query(
            pipeline, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cm_data' ORDER BY 1"
        )
    ]
