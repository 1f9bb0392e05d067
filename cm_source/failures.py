"""Why a run failed, in one line a person can act on: what the pipeline scripts print instead of a traceback."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination.client import DestinationClientConfiguration
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.common.exceptions import MissingDependencyException
from dlt.pipeline.exceptions import PipelineStepFailed

from .errors import MISSING_KEY, CampaignMonitorError
from .read.destinations import destination_type

# What a destination's credentials look like, for the message that says they are missing.
CREDENTIALS_EXAMPLES = {
    "postgres": "postgresql://loader:password@localhost:5432/analytics",
    "sqlalchemy": "sqlite:///campaign_monitor.sqlite or mysql+pymysql://loader:password@host/analytics",
    "filesystem": "file:///data/campaign_monitor or s3://bucket/path",
}


# The library's settings as the command's flags: the one place a message in the library's words (what a
# Python caller passes) becomes the command's (what its user types).
AS_FLAGS: tuple[tuple[str, str], ...] = (
    (r"\bmax_removals=(\d+)", r"--max-removals \1"),
    (r"\bcolumn_map=\{COLUMN: 'email_address'\}", "--map COLUMN=email_address"),
    (r'\bdefault_region="(\w+)"', r"--default-region \1"),
    (r"\bcreate=True", "--create-list"),
    (r"\b(give|needs) client_id\b", r"\1 --client-id"),
    (r"\bor list_id\b", "or --list-id"),
    (r"source\.with_resources in Python, --tables on the command", "--tables"),
)


def in_flags(message: str) -> str:
    """A library message with each setting it names given as the command's flag."""
    for setting, flag in AS_FLAGS:
        message = re.sub(setting, flag, message)
    return message


def run_script(body: Callable[[], int], debug: bool, failure_exit: int) -> int:
    """Run a command's body; a failure we understand is one line on stderr, in the command's flags, and
    ``failure_exit``."""
    try:
        return body()
    except Exception as exc:  # a traceback only for a real bug, or when --debug asks for one
        message = explain_failure(exc)
        if debug or message is None:
            raise
        print(f"error: {in_flags(message)}", file=sys.stderr)
        return failure_exit


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, outermost first: dlt wraps what a step raises several times over."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def explain_failure(exc: BaseException) -> str | None:
    """The one-line explanation of a failure we understand, or None for a real bug."""
    chain = list(causes(exc))
    for current in chain:
        if isinstance(current, CampaignMonitorError):
            return str(current)
        if isinstance(current, ConfigFieldMissingException):
            if isinstance(current.config, DestinationClientConfiguration):
                return missing_destination_setting(current)
            if "api_key" in current.fields:
                return f"{MISSING_KEY} (or run with --demo)"
        if isinstance(current, UnknownDestinationModule):
            return (
                f"unknown destination {current.ref!r}: use a dlt destination name"
                " (duckdb, postgres, filesystem, sqlalchemy, …) or the module path of one"
            )
        if isinstance(current, MissingDependencyException):
            return f"{current.caller} needs {', '.join(current.dependencies)}: pip install them and run again"
    step = next((c for c in chain if isinstance(c, PipelineStepFailed)), None)
    return destination_failure(step, chain[-1]) if step is not None else None


def destination_failure(step: PipelineStepFailed, cause: BaseException) -> str | None:
    """A destination that cannot be reached, or refuses before any row is loaded, named with its setting.

    The sync step only talks to the destination (no source runs in it), so whatever fails there is
    the destination's; in the load step only a lost connection is, the rest may be a bug of ours.
    """
    if step.step == "sync" or (step.step == "load" and is_connection_failure(cause)):
        return destination_refused(step.pipeline, cause)
    return None


# DuckDB's words for a file another process has open for writing.
DUCKDB_LOCK = re.compile(r'Could not set lock on file "([^"]+)"(?:: Conflicting lock is held in ([^.]+?\(PID \d+\)))?')


# Destinations whose drivers the project's own extras install (pyproject.toml).
DRIVER_EXTRAS = ("postgres", "sqlalchemy")


def destination_refused(pipeline: Any, cause: BaseException) -> str:
    """One line for a destination that would not connect or would not give us its dataset."""
    kind = destination_type(pipeline.destination)
    setting = destination_setting(kind, "bucket_url" if kind == "filesystem" else "credentials")
    root = list(causes(cause))[-1]
    reason = next((line.strip() for line in str(root).splitlines() if line.strip()), type(root).__name__)
    locked = DUCKDB_LOCK.search(str(root))
    if locked:
        holder = f" ({locked.group(2)})" if locked.group(2) else ""
        return (
            f"the DuckDB file {locked.group(1)} is locked: another process holds it{holder} (a notebook, a"
            " DuckDB shell, another run): close it there and run again"
        )
    if isinstance(root, ModuleNotFoundError) or any(isinstance(c, MissingDependencyException) for c in causes(cause)):
        extra = f"cm-source[{kind}]" if kind in DRIVER_EXTRAS else f"dlt[{kind}]"
        return f'the {kind} destination needs its driver ({reason}): pip install "{extra}" and run again'
    if is_connection_failure(root):
        return f"could not connect to the {kind} destination ({reason}): check {setting}"
    return (
        f"the {kind} destination refused to prepare dataset {pipeline.dataset_name} ({reason}):"
        f" check {setting} and what it is allowed to create there"
    )


def missing_destination_setting(exc: ConfigFieldMissingException) -> str:
    """Which destination setting is missing, by its environment variable, with an example value."""
    kind = destination_type(exc.config)
    names = [destination_setting(kind, name) for name in exc.fields]
    example = CREDENTIALS_EXAMPLES.get(kind)
    hint = f" (e.g. {example})" if example else ""
    if names and all(name in os.environ for name in names):  # set, but dlt found a part missing (a password)
        return f"the {kind} destination's {' and '.join(names)} is set but incomplete: give every part{hint}"
    return f"the {kind} destination is not configured: set {' and '.join(names)}{hint}, or put it in .dlt/secrets.toml"


def destination_setting(kind: str, field: str) -> str:
    """The environment variable dlt reads a destination's setting from."""
    return f"DESTINATION__{kind.upper()}__{field.upper()}"


def is_connection_failure(exc: BaseException) -> bool:
    """A database driver's "cannot connect" (DB-API OperationalError) or the OS's, not a bug of ours."""
    return isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__name__ == "OperationalError"
