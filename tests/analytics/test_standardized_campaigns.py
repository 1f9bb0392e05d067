"""cm__marketing_campaigns_standardized, built with every other model from the account test_models.py uses,
on DuckDB and on Postgres: its columns are Fivetran's standardized campaign schema (names, order, types;
the list and where it comes from: tests/fixtures/fivetran/marketing_campaigns_standardized.json), its
figures are cm__campaigns', and the columns Campaign Monitor has no figure for are null."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dlt
import pytest
from analytics.test_models import (
    MODELS_DATASET,
    Models,
    assert_agrees,
    by_key,
    expected_campaigns,
    load_and_build,
    read_models,
    tweaked_account,
)
from helpers.postgres import new_database

pytestmark = pytest.mark.slow  # whole loads and dbt builds

MODEL = "cm__marketing_campaigns_standardized"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "fivetran" / "marketing_campaigns_standardized.json"
SCHEMA: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
COLUMNS: list[dict[str, Any]] = SCHEMA["columns"]
ALWAYS_NULL = [column["name"] for column in COLUMNS if column["always_null"]]
# Each standardized column Campaign Monitor fills, and the cm__campaigns column it is.
FROM_CAMPAIGNS = {
    "campaign_id": "campaign_id",
    "campaign_name": "name",
    "total_bounces": "bounced",
    "total_clicks": "total_clicks",
    "total_deliveries": "delivered",
    "total_opens": "total_opens",
    "total_unsubscribes": "unsubscribes",
    "total_unique_clicks": "unique_clicks",
    "total_unique_opens": "unique_opens",
}
# The fixture's type for our column on each warehouse.
TYPE_FIELD = {"duckdb": "type", "postgres": "postgres_type"}


def column_types(pipeline: dlt.Pipeline, table: str) -> list[tuple[str, str]]:
    """(name, type) of each column of a model, in order, as the warehouse reports them."""
    sql = (
        "SELECT column_name, data_type FROM information_schema.columns"
        f" WHERE table_schema = '{MODELS_DATASET}' AND table_name = '{table}' ORDER BY ordinal_position"
    )
    with pipeline.sql_client() as client:
        return [(str(name), str(kind)) for name, kind in client.execute_sql(sql) or []]


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dlt.Pipeline, Models]:
    """The account loaded and every model built on one warehouse: (warehouse, pipeline, the models' rows)."""
    kind = request.param
    folder = tmp_path_factory.mktemp(f"standardized_{kind}")
    if kind == "duckdb":
        destination: Any = dlt.destinations.duckdb(str(folder / "warehouse.duckdb"))
    else:
        destination = dlt.destinations.postgres(new_database(request.getfixturevalue("postgres_server")))
    pipeline = load_and_build(tweaked_account(), destination, folder, f"cm_standardized_{kind}")
    return kind, pipeline, read_models(pipeline)


def test_the_columns_are_fivetrans_in_order_with_their_types(built: tuple[str, dlt.Pipeline, Models]) -> None:
    """Names, order and types as the warehouse reports them are the fixture's (type on DuckDB, postgres_type
    on Postgres). Fivetran's types were taken on Postgres, and there ours are Fivetran's but campaign_id's:
    test_standardized_campaigns_schema.py holds the fixture to that."""
    kind, pipeline, _ = built
    expected = [(column["name"], column[TYPE_FIELD[kind]]) for column in COLUMNS]
    assert column_types(pipeline, MODEL) == expected


def test_the_figures_are_cm_campaigns(built: tuple[str, dlt.Pipeline, Models]) -> None:
    _, _, models = built
    campaigns = {key[0]: row for key, row in by_key(models["cm__campaigns"], "campaign_id").items()}
    standardized = {key[0]: row for key, row in by_key(models[MODEL], "campaign_id").items()}
    expected = {cid: {ours: row[theirs] for ours, theirs in FROM_CAMPAIGNS.items()} for cid, row in campaigns.items()}
    assert_agrees(expected, standardized)
    # and, for a few campaigns, worked out from the account itself rather than from cm__campaigns
    account = expected_campaigns(tweaked_account())
    few = sorted(standardized)[:3]
    assert_agrees(
        {cid: {ours: account[cid][theirs] for ours, theirs in FROM_CAMPAIGNS.items()} for cid in few},
        {cid: standardized[cid] for cid in few},
    )
    assert any(row["total_opens"] > row["total_unique_opens"] > 0 for row in standardized.values())
    assert any(row["total_bounces"] and row["total_unsubscribes"] for row in standardized.values())


def test_the_columns_documented_as_null_are_null_and_no_other(built: tuple[str, dlt.Pipeline, Models]) -> None:
    _, _, models = built
    rows = models[MODEL]
    assert rows
    assert [name for name in rows[0] if all(row[name] is None for row in rows)] == ALWAYS_NULL
    assert all(row[name] is not None for row in rows for name in FROM_CAMPAIGNS)
