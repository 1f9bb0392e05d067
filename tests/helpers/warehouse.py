"""Reading back what a test pipeline loaded into DuckDB."""

from __future__ import annotations

import dlt
import duckdb


def query(pipeline: dlt.Pipeline, sql: str) -> list[tuple]:
    """Run SQL against what the pipeline loaded, with its dataset as the default schema: DuckDB's file
    opened read-only (no lock held against the next run), any other destination through dlt's client."""
    if pipeline.destination.destination_name != "duckdb":
        with pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql)]
    path = pipeline.destination_client().config.credentials.database  # type: ignore[attr-defined]
    with duckdb.connect(path, read_only=True) as conn:
        conn.execute(f"SET schema = '{pipeline.dataset_name}'")
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
