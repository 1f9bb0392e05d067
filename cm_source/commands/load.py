"""Load a Campaign Monitor account (or, with --demo, the built-in sandbox) into DuckDB or any dlt destination.

cm-source load --demo
cm-source load --client-id 4a397c... --tables lists,active_subscribers
cm-source load --incremental        # what changed since the last run
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.runtime.collector import Collector, NullCollector
from dlt.extract.source import DltSource

from cm_source import TABLES, campaign_monitor_source
from cm_source.analytics import ModelsBuilt, build_models, require_dbt
from cm_source.errors import InputError
from cm_source.failures import run_script
from cm_source.pipeline_folders import make_pipeline, one_run_at_a_time, one_writer_on_duckdb
from cm_source.read.dataset import prepare_dataset
from cm_source.read.destinations import (
    can_merge,
    destination_for,
    destination_type,
    file_format,
    has_atomic_replace,
    merge_refusal,
    nested_as_text_for,
)
from cm_source.read.incremental_state import IncrementalState
from cm_source.read.lake_tables import row_counts
from cm_source.read.load_place import describe, place_of
from cm_source.read.progress import ProgressLine, RunProgress
from cm_source.read.run_in_pieces import run_in_pieces

PIPELINE_NAME = "campaign_monitor"
DEFAULT_DATASET = "campaign_monitor_data"
PROGRESS_LOG_SECONDS = 5.0


def parse_args(argv: Sequence[str] | None = None, prog: str = "cm-source load") -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demo", action="store_true", help="load from the built-in sandbox; no account needed")
    parser.add_argument("--destination", default="duckdb", help="any dlt destination name (default: duckdb)")
    parser.add_argument(
        "--file-format",
        help="loader file format (default: the fastest the destination takes; see docs/destinations-and-querying.md)",
    )
    parser.add_argument(
        "--table-format",
        choices=("delta", "iceberg"),
        help="on --destination filesystem: write Delta or Iceberg tables (docs/destinations-and-querying.md)",
    )
    parser.add_argument(
        "--dataset", default=DEFAULT_DATASET, help=f"dataset (schema) name (default: {DEFAULT_DATASET})"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress while it runs, only the closing summary")
    parser.add_argument("--tables", help=f"comma-separated tables to load (default: all of {', '.join(TABLES)})")
    parser.add_argument("--client-id", help="load only this client (default: every client the key can see)")
    parser.add_argument(
        "--reports-sent-after",
        metavar="YYYY-MM-DD",
        help="read campaign reports only for campaigns sent on or after this day (default: every sent campaign)",
    )
    parser.add_argument(
        "--local-times",
        action="store_true",
        help="load timestamps as Campaign Monitor sends them (client local time) instead of converting to UTC",
    )
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="read only what changed since the last run (subscribers, report events, recent campaigns' reports)",
    )
    parser.add_argument(
        "--report-refresh-days",
        type=int,
        metavar="N",
        help="with --incremental, re-read reports of campaigns sent within N days (default 30)",
    )
    parser.add_argument(
        "--reconcile-runs",
        type=int,
        metavar="N",
        help="with --incremental, read every subscriber row again within N runs, a slice each run"
        " (default 7; 0: never)",
    )
    parser.add_argument(
        "--checkpoint-minutes",
        type=float,
        metavar="M",
        help="with --incremental, load what was read every M minutes, so that a run cut off goes on from there"
        " (default 30; 0: one load at the end; docs/first-sync.md)",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="drop this source's tables and state first and read everything again",
    )
    parser.add_argument(
        "--models",
        action="store_true",
        help="after the load, build the analytics models into <dataset>_analytics"
        " (needs cm-source[dbt]; docs/analytics.md)",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on failure")
    return parser.parse_args(argv)


def selected_tables(tables: str | None) -> list[str]:
    """The tables named by --tables, refusing unknown names before any request is sent."""
    if not tables:
        return list(TABLES)
    names = [name.strip() for name in tables.split(",") if name.strip()]
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        raise SystemExit(f"error: unknown table {', '.join(unknown)}: choose from {', '.join(TABLES)}")
    return names


def duckdb_file(pipeline_name: str, dataset: str) -> str:
    """A DuckDB file whose name differs from the dataset: DuckDB cannot tell them apart otherwise."""
    stem = pipeline_name if pipeline_name != dataset else f"{pipeline_name}_warehouse"
    return str(Path.cwd() / f"{stem}.duckdb")


@contextlib.contextmanager
def source_settings(demo: bool, activity_rounds: int = 0) -> Iterator[dict[str, Any]]:
    """Arguments for the source: the sandbox's for --demo, else none (dlt reads config and secrets).

    The demo's account has had one round of activity (joins, moves, a new campaign) per incremental
    run before this one, so that a second incremental run has something, but not much, to read.
    """
    if not demo:
        yield {}
        return
    from cm_source.sandbox import Sandbox, account_activity, generate_account

    account = generate_account()
    for _ in range(activity_rounds):
        account_activity(account)
    with Sandbox(account) as sandbox:
        since = f" (after {activity_rounds} rounds of account activity)" if activity_rounds else ""
        print(f"Sandbox running at {sandbox.base_url}{since}")
        yield {"api_key": sandbox.api_key, "base_url": sandbox.base_url}


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    tables = selected_tables(args.tables)
    if args.models:
        require_dbt()
    pipeline_name = f"{PIPELINE_NAME}_demo" if args.demo else PIPELINE_NAME
    destination = destination_for(args.destination, duckdb_file(pipeline_name, args.dataset))
    formats = frozenset({args.table_format})
    if args.incremental and not can_merge(destination, formats):
        raise InputError(merge_refusal(destination, formats, "--incremental", "run without --incremental"))
    if not has_atomic_replace(destination):
        note(
            f"{destination_type(destination)} cannot swap tables in atomically: a run that fails"
            " half-way can leave a table half-replaced; the next complete run repairs it"
        )
    progress = RunProgress()
    with one_run_at_a_time(pipeline_name, say=note):
        pipeline = make_pipeline(
            pipeline_name,
            destination=destination,
            dataset_name=args.dataset,
            progress=progress_display(args.quiet, progress, tables),
        )
        with one_writer_on_duckdb(pipeline, say=note):
            load(pipeline, args, tables, progress)
            print_summary(pipeline, tables, progress, time.monotonic() - started)
            if args.incremental:
                print_incremental_note(pipeline)
        if args.models:
            print_models(build_models(pipeline, full_refresh=args.full_refresh))
    return 0


def note(line: str) -> None:
    print(f"note: {line}", file=sys.stderr, flush=True)


# The flags named as the source setting they set (``read.settings.ReadSettings``).
FLAG_SETTINGS = (
    "client_id",
    "reports_sent_after",
    "incremental",
    "report_refresh_days",
    "reconcile_runs",
    "checkpoint_minutes",
)


def source_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The source's settings the flags give (a flag left out leaves its setting to dlt's config)."""
    given = {setting: getattr(args, setting) for setting in FLAG_SETTINGS}
    # a switch left off and an option not given are both "not set" (0 is a value: --reconcile-runs 0)
    arguments = {setting: value for setting, value in given.items() if value is not None and value is not False}
    if args.local_times:
        arguments["convert_to_utc"] = False
    return arguments


def load(pipeline: dlt.Pipeline, args: argparse.Namespace, tables: list[str], progress: RunProgress) -> None:
    """Read the account (the sandbox's with --demo) and load it. A full refresh drops what an earlier run
    left unloaded; an incremental run loads it, then runs piece after piece until its pass is complete."""
    destination = pipeline.destination
    if pipeline.has_pending_data and not args.incremental:
        # dlt would load it instead of reading the account, possibly for another destination: every
        # table is a full refresh, so reading again is both simpler and fresher
        note("dropping the unloaded data of an earlier run that did not finish; reading everything again")
        pipeline.abort_packages()
    if not args.incremental:
        prepare_dataset(pipeline)  # run_in_pieces creates it first thing for an incremental run
    rounds = IncrementalState.of_pipeline(pipeline).runs if args.incremental and not args.full_refresh else 0
    with source_settings(args.demo, rounds) as settings:
        settings.update(source_arguments(args))
        loader_format = args.file_format or file_format(destination)
        settings["nested_as_text"] = nested_as_text_for(loader_format)
        settings["progress"] = progress
        options: dict[str, Any] = {"loader_file_format": loader_format}
        if args.table_format:
            options["table_format"] = args.table_format
        if args.full_refresh:
            options["refresh"] = "drop_sources"

        def make_source() -> DltSource:
            return campaign_monitor_source(**settings).with_resources(*tables)

        if args.incremental:
            run_in_pieces(pipeline, make_source, say=note, **options)
        else:
            pipeline.run(make_source(), **options)


def progress_display(quiet: bool, progress: RunProgress, tables: list[str]) -> Collector:
    """One progress line: rewritten in place on a terminal, one every few seconds otherwise (a
    scheduled run writes a log, not a terminal); nothing with --quiet."""
    if quiet:
        return NullCollector()
    return ProgressLine(progress, tables, log_period=PROGRESS_LOG_SECONDS, live=sys.stdout.isatty())


def print_summary(pipeline: dlt.Pipeline, tables: list[str], progress: RunProgress, wall_s: float) -> None:
    """Rows, pages and wall time per table (child tables indented under their parent), the run's requests
    and 429s, and where the data went.

    Rows are counted in the destination: dlt's normalize counts are not rows for every file format.
    A table's wall time runs from its first request to its last page; tables are read side by side.
    """
    loaded = set(pipeline.default_schema.data_table_names(seen_data_only=True))
    names = [name for name in loaded if name.split("__")[0] in tables]
    counts = row_counts(pipeline, names)
    width = max(len(name) for name in [*tables, *counts])
    print(f"\n{'table':<{width}}  {'rows':>9}  {'pages':>7}  {'read s':>7}")
    for table in tables:
        figures = progress.tables.get(table)
        pages, seconds = (figures.pages, f"{figures.wall_s:7.1f}") if figures else (0, f"{'-':>7}")
        print(f"{table:<{width}}  {counts.get(table, 0):>9,}  {pages:>7,}  {seconds}")
        for child in sorted(name for name in counts if name.startswith(f"{table}__")):
            print(f"{child:<{width}}  {counts[child]:>9,}")
    saved = f" ({progress.saved:,} saved: reports their counts said were empty, answers tables share)"
    print(
        f"\n{progress.requests:,} requests{saved if progress.saved else ''}, {progress.rate_limited:,} 429s waited out"
        f" ({progress.held_s:.1f} s held by the API's rate window), {wall_s:.1f} s in all"
    )
    print(f"Loaded into {describe(place_of(pipeline) or {})}")
    for line in progress.notes:
        print(line)


def print_models(built: ModelsBuilt) -> None:
    """Which models were built where, and every check that warned."""
    print(f"Models built into {built.dataset}: {', '.join(built.models)}")
    for warning in built.warnings:
        print(f"warning: {warning}")


def print_incremental_note(pipeline: dlt.Pipeline) -> None:
    """How fresh the subscriber tables are: the rotating reconcile's round, and the rows it read again."""
    print(freshness(IncrementalState.of_pipeline(pipeline)))


def freshness(state: IncrementalState) -> str:
    """One line on how recently every subscriber row was read again (see ``read.reconcile``)."""
    since = [rotation.read_since for rotation in state.rotations()]
    again = f"{state.reconciled:,} rows read again this run"
    if not since:
        return f"Incremental: read what changed since the last run; no rotating reconcile ({again})"
    if None in since:
        return f"Incremental: the rotating reconcile has not been round every list yet ({again})"
    oldest = min(run for run in since if run is not None)
    return f"Incremental: every subscriber row re-read within the last {state.runs - oldest + 1} runs ({again})"


def main(argv: Sequence[str] | None = None, prog: str = "cm-source load") -> int:
    args = parse_args(argv, prog)
    return run_script(lambda: run(args), debug=args.debug, failure_exit=1)
