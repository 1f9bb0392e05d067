"""The ``campaign_monitor`` dlt source: one resource per catalogue row, and its table hints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.pipeline import current_pipeline
from dlt.extract.resource import DltResource

from ..account_access import api_from_settings
from ..errors import InputError
from ..http import RetryPolicy
from .account_reader import AccountReader
from .catalogue import ENDPOINTS, Endpoint, read_under
from .columnar import take_memory_from_malloc
from .destinations import file_format
from .incremental import IncrementalRun, incremental_hints
from .incremental_state import IncrementalState
from .pieces import read_by_first_piece
from .progress import RunProgress
from .settings import ReadSettings
from .time_zones import LocalTime

_naming = NamingConvention()


@dlt.source(name="campaign_monitor", section="campaign_monitor", spec=ReadSettings)
def campaign_monitor_source(
    api_key: str | None = None,
    client_id: str | None = None,
    base_url: str | None = None,
    reports_sent_after: str | None = None,
    convert_to_utc: bool | None = None,
    max_concurrent_requests: int | None = None,
    max_attempts: int | None = None,
    request_timeout: float | None = None,
    backoff_seconds: float | None = None,
    nested_as_text: bool | None = None,
    incremental: bool | None = None,
    report_refresh_days: int | None = None,
    reconcile_runs: int | None = None,
    checkpoint_minutes: float | None = None,
    progress: Any | None = None,
    access_token: str | None = None,
    refresh_token: str | None = None,
    token_file: str | None = None,
    settings: ReadSettings = dlt.config.value,
) -> Sequence[DltResource]:
    """Every table of a Campaign Monitor account, each a full-refresh read of every page.

    Without ``client_id`` every client the key can see is loaded, so an agency's administrator
    key fills the warehouse in one run. Campaign reports fan out over every sent campaign;
    ``reports_sent_after`` (``YYYY-MM-DD``) keeps them to campaigns sent on or after that day.
    Timestamps are loaded in UTC, converted from each client's time zone, unless
    ``convert_to_utc`` is off. ``max_concurrent_requests`` bounds requests in flight;
    ``max_attempts``, ``request_timeout`` and ``backoff_seconds`` bound how long a flaky or
    rate-limited API is retried. Custom fields are one JSON column per subscriber: a nested column
    where the destination takes one, JSON text in its JSON type where it cannot (Postgres);
    ``nested_as_text`` forces either, None decides from the pipeline's destination.

    With ``incremental`` a run reads what changed since the last one (see ``incremental``): the
    subscriber tables from a cursor per list, report events from a cursor per campaign or journey
    email, other reports only for campaigns sent within ``report_refresh_days``. Each run also reads
    again a slice of every list's state tables, so that every subscriber row is read again within
    ``reconcile_runs`` runs (0: never): edits that leave ``Date`` alone (a name, a custom field) reach
    the tables without a full refresh. Lists the account no longer has, and clients no longer read,
    leave the tables in the next run. An incremental run takes new lists, campaigns and journey emails
    for ``checkpoint_minutes`` (default 30; 0: no limit), then loads what it read and stops, saying so: the
    next run goes on from there (``read.pieces``), and ``run_in_pieces`` runs every piece until done.

    Acting for another account, ``access_token`` and ``refresh_token`` (OAuth 2) replace ``api_key``
    (which wins when both are set); the token pair each refresh returns is kept in ``token_file``
    (default ``.campaign_monitor/tokens.json``), which later runs read first.

    ``progress`` (a ``read.progress.RunProgress``) receives the run's requests, pages per table and
    429s, shown on the pipeline's progress collector and kept for a summary; one is made otherwise.

    Every setting but ``progress`` is declared in ``ReadSettings`` (``read.settings``); dlt resolves
    them (an argument wins, then the environment and ``.dlt/*.toml``) into ``settings``.
    """
    s = settings
    retry = RetryPolicy(
        max_attempts=s.max_attempts, timeout_seconds=s.request_timeout, backoff_seconds=s.backoff_seconds
    )
    api = api_from_settings(
        s.api_key,
        s.base_url,
        s.access_token,
        s.refresh_token,
        s.token_file,
        retry=retry,
        max_concurrent_requests=s.max_concurrent_requests,
    )
    progress = progress or RunProgress()
    pipeline = current_pipeline()
    later_piece = bool(s.incremental) and pipeline is not None and IncrementalState.of_pipeline(pipeline).pass_.cut
    run = (
        IncrementalRun(
            s.report_refresh_days,
            api.system_date,
            progress.note,
            s.reconcile_runs,
            s.client_id,
            s.checkpoint_minutes,
            later_piece,
        )
        if s.incremental
        else None
    )
    account = AccountReader(
        api,
        LocalTime(s.convert_to_utc),
        sent_on_or_after(s.reports_sent_after),
        s.nested_as_text,
        incremental=run,
        progress=progress,
    )
    resources: dict[str, DltResource] = {}
    take_memory_from_malloc()
    load_format = loader_file_format(pipeline)
    for endpoint in ENDPOINTS:  # parents come before their children
        hints = table_hints(endpoint, s.convert_to_utc, s.incremental)
        if later_piece and read_by_first_piece(endpoint):
            hints["write_disposition"] = "merge"  # not read, so not emptied (see pieces)
        if load_format:
            hints["file_format"] = load_format
        if endpoint.parent is None:
            # the clients, which every other table is read under; else a table of the account itself
            read = account.read_root(endpoint, s.client_id) if endpoint.hands_down else account.read_once(endpoint)
            resources[endpoint.table] = dlt.resource(read, name=endpoint.table, **hints)
        else:
            resources[endpoint.table] = dlt.transformer(
                account.reader_of(endpoint), data_from=resources[endpoint.parent], name=endpoint.table, **hints
            )
    return list(resources.values())


def loader_file_format(pipeline: Any) -> str | None:
    """The fastest file format of the destination the source is made for (the pipeline made last, as
    ``dlt.pipeline()`` activates it), so the plain ``pipeline.run(source)`` loads as fast and as lean as
    the command: DuckDB would otherwise get ``insert_values``, slow and growing in memory with the rows.
    A ``loader_file_format`` given to ``run`` still wins; without a pipeline dlt chooses."""
    destination = getattr(pipeline, "destination", None)
    return file_format(destination) if destination is not None else None


def sent_on_or_after(value: Any) -> date | None:
    """``reports_sent_after`` as a date; a value that is not one is a setting to fix, not a load to run."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        raise InputError(
            f"reports_sent_after must be a date such as 2024-01-31, not {value!r}:"
            " set SOURCES__CAMPAIGN_MONITOR__REPORTS_SENT_AFTER"
        ) from None


def table_hints(endpoint: Endpoint, to_utc: bool, incremental: bool = False) -> dict[str, Any]:
    """Write disposition, primary key and typed columns for one table (replace unless incremental).

    ID columns are non-null text, so a missing parent ID fails the load instead of loading an
    orphan. Timestamps carry a time zone only when they are converted to UTC.
    """
    id_columns = (*endpoint.primary_key, *(_naming.normalize_identifier(key) for key in read_under(endpoint)))
    columns: dict[str, dict[str, Any]] = {
        name: {"data_type": "text", "nullable": False} for name in dict.fromkeys(id_columns)
    }
    for name in endpoint.timestamps:
        columns[_naming.normalize_identifier(name)] = {"data_type": "timestamp", "timezone": to_utc}
    for name in endpoint.instants:
        columns[_naming.normalize_identifier(name)] = {"data_type": "timestamp", "timezone": True}
    for name in endpoint.integers:
        columns[_naming.normalize_identifier(name)] = {"data_type": "bigint"}
    for name in endpoint.always_text:
        columns[_naming.normalize_identifier(name)] = {"data_type": "text", "nullable": True}
    if endpoint.custom_fields:
        columns[_naming.normalize_identifier(endpoint.custom_fields)] = {"data_type": "json"}
    for name, hint in endpoint.columns.items():
        columns[name] = {**columns.get(name, {}), **hint}
    hints: dict[str, Any] = {"write_disposition": "replace", "columns": columns}
    if incremental:
        extra = incremental_hints(endpoint)
        columns.update(extra.pop("columns", {}))
        hints.update(extra)
    if endpoint.primary_key:
        hints["primary_key"] = list(endpoint.primary_key)
    return hints
