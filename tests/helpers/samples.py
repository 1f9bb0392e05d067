"""Campaign Monitor's own response samples (tests/fixtures/createsend) and the paged envelope they show."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "createsend"


def sample(name: str) -> Any:
    """A response sample from Campaign Monitor's own client library."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def envelope(rows: list[dict[str, Any]], page: int, page_size: int, ordered_by: str = "email") -> dict[str, Any]:
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


def rows_of(name: str) -> list[dict[str, Any]]:
    """The rows of a sample, whether it is a bare array or a paged envelope."""
    body = sample(name)
    return body["Results"] if isinstance(body, dict) else body


def a_joiner_after_page_one(live: list[dict[str, Any]]) -> Callable[[Any, Any], dict[str, Any]]:
    """A requests-mock answer paging ``live`` by 10 in which a subscriber joins (sorting first) once
    page 1 of the first pass is read, so page 2 shifts by one row."""
    size = len(live)

    def respond(request: Any, context: Any) -> dict[str, Any]:
        page = int(request.qs["page"][0])
        answer = envelope(live, page, 10)
        if page == 1 and len(live) == size:
            live.insert(0, {"EmailAddress": "a-new-joiner@example.com"})
        return answer

    return respond
