"""Shared test helpers: fixture samples, a mocked account, and a throwaway DuckDB pipeline."""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List

import dlt
import duckdb
import pytest

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

FIXTURES = Path(__file__).parent / "fixtures" / "createsend"
BASE_URL = "https://api.test/api/v3.3"
API_KEY = "test-api-key-0123456789abcdef"


def sample(name: str) -> Any:
    """A response sample from Campaign Monitor's own client library."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def envelope(rows: List[Dict[str, Any]], page: int, page_size: int, ordered_by: str = "email") -> Dict[str, Any]:
    """The v3.3 paged envelope, shaped like the samples (e.g. suppressionlist.json)."""
    chunk = rows[(page - 1) * page_size : page * page_size]
    return {
        "Results": chunk,
        "ResultsOrderedBy": ordered_by,
        "OrderDirection": "asc",
        "PageNumber": page,
        "PageSize": page_size,
        "RecordsOnThisPage": len(chunk),
        "TotalNumberOfRecords": len(rows),
        "NumberOfPages": math.ceil(len(rows) / page_size),
    }


def rows_of(name: str) -> List[Dict[str, Any]]:
    """The rows of a sample, whether it is a bare array or a paged envelope."""
    body = sample(name)
    return body["Results"] if isinstance(body, dict) else body


def renamed(rows: List[Dict[str, Any]], key: str, suffix: str) -> List[Dict[str, Any]]:
    """Copies of sample rows with ``key`` made unique, so two parents do not share IDs."""
    out = copy.deepcopy(rows)
    for row in out:
        row[key] = f"{row[key]}{suffix}"
    return out


def numbered_subscribers(count: int, prefix: str) -> List[Dict[str, Any]]:
    """``count`` active subscribers shaped like active_subscribers_with_tracking_preference.json."""
    template = rows_of("active_subscribers_with_tracking_preference.json")[0]
    rows = []
    for i in range(count):
        row = copy.deepcopy(template)
        row["EmailAddress"] = f"{prefix}{i:05d}@example.com"
        row["Name"] = f"Person {i}"
        rows.append(row)
    return rows


class MockAccount:
    """A Campaign Monitor account served by ``requests_mock`` from sample shapes.

    ``arrays`` maps a path to a bare array; ``paged`` maps a path to all its rows, served as
    envelopes honouring ``page``/``pagesize``; ``objects`` maps a path to a single object.
    """

    def __init__(self, mocker: Any) -> None:
        self.mocker = mocker
        self.arrays: Dict[str, Any] = {}
        self.paged: Dict[str, List[Dict[str, Any]]] = {}
        self.objects: Dict[str, Any] = {}

    def serve(self) -> None:
        for path, body in {**self.arrays, **self.objects}.items():
            self.mocker.get(f"{BASE_URL}/{path}", json=body)
        for path, rows in self.paged.items():
            self.mocker.get(f"{BASE_URL}/{path}", json=self._pager(rows))

    @staticmethod
    def _pager(rows: List[Dict[str, Any]]) -> Any:
        def respond(request: Any, context: Any) -> Dict[str, Any]:
            page = int(request.qs.get("page", ["1"])[0])
            page_size = int(request.qs.get("pagesize", ["1000"])[0])
            return envelope(rows, page, page_size)

        return respond

    def requests_to(self, path: str) -> List[Any]:
        return [r for r in self.mocker.request_history if r.path.endswith(path.lower())]


CLIENT_IDS = [c["ClientID"] for c in sample("clients.json")]


def standard_account(mocker: Any) -> MockAccount:
    """Two clients with distinct lists, 2,500 active subscribers on one list, one empty list."""
    account = MockAccount(mocker)
    account.arrays["clients.json"] = sample("clients.json")
    for n, cid in enumerate(CLIENT_IDS):
        suffix = f"-{n}"
        campaigns = renamed(rows_of("campaigns.json"), "CampaignID", suffix)
        account.paged[f"clients/{cid}/campaigns.json"] = campaigns
        account.arrays[f"clients/{cid}/scheduled.json"] = renamed(rows_of("scheduled_campaigns.json"), "CampaignID", suffix)
        account.arrays[f"clients/{cid}/drafts.json"] = renamed(rows_of("drafts.json"), "CampaignID", suffix)
        lists = renamed(rows_of("lists.json"), "ListID", suffix)
        account.arrays[f"clients/{cid}/lists.json"] = lists
        segments = renamed(rows_of("segments.json"), "SegmentID", suffix)
        account.arrays[f"clients/{cid}/segments.json"] = segments
        account.arrays[f"clients/{cid}/templates.json"] = renamed(rows_of("templates.json"), "TemplateID", suffix)
        account.paged[f"clients/{cid}/suppressionlist.json"] = rows_of("suppressionlist.json")
        for m, lst in enumerate(lists):
            lid = lst["ListID"]
            if n == 0 and m == 0:
                active = numbered_subscribers(2500, "big") + rows_of("active_subscribers_with_tracking_preference.json")
            elif n == 1 and m == 1:
                active = []  # an empty list
            else:
                active = rows_of("active_subscribers_with_tracking_preference.json")
            empty = n == 1 and m == 1
            account.paged[f"lists/{lid}/active.json"] = active
            account.paged[f"lists/{lid}/unsubscribed.json"] = [] if empty else rows_of("unsubscribed_subscribers.json")
            account.paged[f"lists/{lid}/bounced.json"] = [] if empty else rows_of("bounced_subscribers.json")
    return account


@pytest.fixture
def mock_account(requests_mock: Any) -> MockAccount:
    account = standard_account(requests_mock)
    account.serve()
    return account


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[dlt.Pipeline]:
    """A DuckDB pipeline in a temporary folder (file and dataset named apart, as DuckDB needs)."""
    yield dlt.pipeline(
        pipeline_name="cm_test",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="cm_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def query(pipeline: dlt.Pipeline, sql: str) -> List[tuple]:
    """Run SQL against the pipeline's DuckDB file, with ``cm_data`` as the dataset."""
    path = pipeline.destination_client().config.credentials.database  # type: ignore[attr-defined]
    with duckdb.connect(path, read_only=True) as conn:
        conn.execute("SET schema = 'cm_data'")
        return conn.execute(sql).fetchall()


def table_names(pipeline: dlt.Pipeline) -> List[str]:
    return [r[0] for r in query(pipeline, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cm_data' ORDER BY 1")]
