"""What the pipeline scripts share: turning any failure into one line a person can act on."""

from __future__ import annotations

import sys
from typing import Callable, Optional

from dlt.common.configuration.exceptions import ConfigFieldMissingException

from .api import MISSING_KEY, CampaignMonitorError


class UserError(Exception):
    """A failure whose message is already the one line the user needs (e.g. unreadable input)."""


def run_script(body: Callable[[], int], debug: bool, failure_exit: int) -> int:
    """Run a script's body; a failure we understand is one line on stderr and ``failure_exit``."""
    try:
        return body()
    except Exception as exc:  # a traceback only for a real bug, or when --debug asks for one
        message = explain_failure(exc)
        if debug or message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return failure_exit


def explain_failure(exc: BaseException) -> Optional[str]:
    """The one-line explanation of a failure we understand, or None for a real bug.

    dlt wraps what a resource raises (PipelineStepFailed -> ResourceExtractionError -> ...),
    so the cause is searched down the whole exception chain.
    """
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (CampaignMonitorError, UserError)):
            return str(current)
        if isinstance(current, ConfigFieldMissingException) and "api_key" in current.fields:
            return f"{MISSING_KEY} (or run with --demo)"
        current = current.__cause__ or current.__context__
    return None
