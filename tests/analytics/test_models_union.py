"""Several accounts in one set of models: two sandbox accounts, each loaded into a dataset of its own in one
DuckDB file, built together with ``build_models(pipeline, datasets=[...])`` (the dbt var
``cm_source_datasets``). Every model carries ``source_relation``; each account's rows equal what the
account alone gives (worked out in Python from the account, as in test_models.py); every key check holds."""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest
from analytics.test_models import (
    MODELS,
    assert_agrees,
    by_key,
    expected_campaigns,
    expected_subscribers,
    read_models,
    small_account,
)

from cm_source import campaign_monitor_source
from cm_source.analytics import analytics_dataset, build_models
from cm_source.errors import CampaignMonitorError
from cm_source.sandbox import Account, Sandbox

pytestmark = pytest.mark.slow  # whole loads and a dbt build

DATASETS = ("cm_brand_a", "cm_brand_b")


def load(account: Account, dataset: str, warehouse: Path, folder: Path) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name=dataset,
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name=dataset,
        pipelines_dir=str(folder / "pipelines"),
    )
    with Sandbox(account) as sandbox:
        pipeline.run(campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url))
    return pipeline


def test_two_accounts_build_into_one_set_of_models_marked_by_dataset(tmp_path: Path) -> None:
    accounts = dict(zip(DATASETS, (small_account(seed=5), small_account(seed=9)), strict=True))
    warehouse = tmp_path / "warehouse.duckdb"
    pipelines = [load(account, dataset, warehouse, tmp_path) for dataset, account in accounts.items()]

    built = build_models(pipelines[0], datasets=DATASETS)  # raises if any key check fails
    assert set(MODELS) <= set(built.models)
    models = read_models(pipelines[0], analytics_dataset(DATASETS[0]))
    for model in MODELS:
        assert {row["source_relation"] for row in models[model]} == set(DATASETS), model

    for dataset, account in accounts.items():
        mine = {model: [row for row in models[model] if row["source_relation"] == dataset] for model in MODELS}
        campaigns = {key[0]: row for key, row in by_key(mine["cm__campaigns"], "campaign_id").items()}
        assert_agrees(expected_campaigns(account), campaigns)
        assert_agrees(expected_subscribers(account), by_key(mine["cm__subscribers"], "list_id", "email_address"))

    with pytest.raises(CampaignMonitorError, match="dataset cm_brand_c does not exist"):
        build_models(pipelines[0], datasets=[*DATASETS, "cm_brand_c"])
