"""The standardized campaign model's yml and docs against the fixture of Fivetran's schema
(tests/fixtures/fivetran/marketing_campaigns_standardized.json), without a build: every column in order,
its type, the ones null for Campaign Monitor, the key's checks. The build is checked in
test_standardized_campaigns.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from cm_source.analytics import PROJECT

ROOT = Path(__file__).parents[2]
SCHEMA: dict[str, Any] = json.loads(
    (ROOT / "tests" / "fixtures" / "fivetran" / "marketing_campaigns_standardized.json").read_text(encoding="utf-8")
)
COLUMNS: list[dict[str, Any]] = SCHEMA["columns"]
STANDARDIZED = PROJECT / "models" / "standardized"
NULL_PREFIX = "Null for Campaign Monitor"


def model_yml() -> dict[str, Any]:
    models = yaml.safe_load((STANDARDIZED / "standardized.yml").read_text(encoding="utf-8"))["models"]
    return next(model for model in models if model["name"] == "cm__marketing_campaigns_standardized")


def test_the_fixture_names_its_source_and_follows_fivetrans_types_but_for_the_campaign_id() -> None:
    source = SCHEMA["source"]
    assert source["pull_request"] == "https://github.com/fivetran/dbt_hubspot/pull/146"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert [c["name"] for c in COLUMNS if c["postgres_type"] != c["fivetran_type"]] == ["campaign_id"]
    assert SCHEMA["key"] == COLUMNS[0]["name"] == "campaign_id"


def test_the_yml_documents_every_column_in_order_with_its_type_and_the_nulls() -> None:
    columns = model_yml()["columns"]
    assert [(c["name"], c["data_type"]) for c in columns] == [(c["name"], c["postgres_type"]) for c in COLUMNS]
    documented_null = [c["name"] for c in columns if c["description"].startswith(NULL_PREFIX)]
    assert documented_null == [c["name"] for c in COLUMNS if c["always_null"]]
    key = next(c for c in columns if c["name"] == SCHEMA["key"])
    assert key["data_tests"] == ["unique", "not_null"]


def test_the_sql_selects_the_columns_in_order() -> None:
    sql = (STANDARDIZED / "cm__marketing_campaigns_standardized.sql").read_text(encoding="utf-8")
    assert re.findall(r"\bas (\w+),?\n", sql) == [c["name"] for c in COLUMNS]


def test_the_docs_list_every_column_in_order_and_say_which_are_null() -> None:
    docs = (ROOT / "docs" / "standardized-campaigns.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \| (.*) \|$", docs, flags=re.MULTILINE)
    assert [name for name, _, _ in rows] == [c["name"] for c in COLUMNS]
    assert [name for name, _, text in rows if text.startswith("null")] == [
        c["name"] for c in COLUMNS if c["always_null"]
    ]
    assert [kind for _, kind, _ in rows] == [c["postgres_type"] for c in COLUMNS]
