"""Bulk imports: the send stage of an upsert. Each import goes once, resumably.

Rows go out in imports of at most the API's limit; a 400 with Code 210 is a partial success whose
``FailureDetails`` are the rows refused. An import a checkpoint already holds is not sent again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..concurrency import one_ahead
from ..errors import RequestRefused
from ..http import CampaignMonitorAPI
from ..http.answers import error_fields
from .checkpoint import Checkpoint
from .rows import Batch
from .settings import UpsertSettings


@dataclass(frozen=True)
class ImportDone:
    """One import's rows and the API's answer; ``resumed`` when an earlier run had sent it."""

    batch: Batch
    result: dict[str, Any]
    resumed: bool


def imports_done(
    api: CampaignMonitorAPI, list_id: str, batches: Iterable[Batch], settings: UpsertSettings, checkpoint: Checkpoint
) -> Iterator[ImportDone]:
    """Send each batch as one import, unless ``checkpoint`` holds its answer already, and record each
    answer there; the next import's rows are converted and encoded while this one is in flight."""
    for batch, body in one_ahead((batch, import_body(batch, settings)) for batch in batches):
        result, resumed = checkpoint.once(list_id, body, partial(send_import, api, list_id, batch, body))
        yield ImportDone(batch, result, resumed)


def import_body(batch: Batch, settings: UpsertSettings) -> bytes:
    """The import's request body, encoded here so that it can be done off the thread that sends it."""
    return json.dumps(
        {
            "Subscribers": [subscriber for subscriber, _ in batch],
            "Resubscribe": settings.resubscribe,
            "QueueSubscriptionBasedAutoResponders": settings.queue_autoresponders,
            "RestartSubscriptionBasedAutoresponders": settings.restart_autoresponders,
        },
        ensure_ascii=False,
    ).encode("utf-8")


def send_import(api: CampaignMonitorAPI, list_id: str, batch: Batch, body: bytes) -> dict[str, Any]:
    """One import call; returns the result object whether all rows or only some were accepted.

    A 400 without ``ResultData`` rejected the whole batch: every row gets that code and message.
    """
    try:
        return api.post(f"subscribers/{list_id}/import.json", body)
    except RequestRefused as exc:  # NotFound (an unknown list) and AccessRefused stop the run instead
        if exc.status != 400:
            raise
        result = exc.body.get("ResultData") if isinstance(exc.body, dict) else None
        if isinstance(result, dict):
            return result  # Code 210: the good rows were imported
        if exc.code is None:
            raise
        return {
            "TotalNewSubscribers": 0,
            "TotalExistingSubscribers": 0,
            "FailureDetails": [
                {"EmailAddress": s["EmailAddress"], "Code": exc.code, "Message": error_fields(exc.body)[1] or ""}
                for s, _ in batch
            ],
        }
