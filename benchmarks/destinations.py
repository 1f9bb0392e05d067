#!/usr/bin/env python
"""Which loader file format is fastest on each destination. Run by hand:

    .venv/bin/python benchmarks/destinations.py                   # 100k subscribers, every pair
    .venv/bin/python benchmarks/destinations.py --subscribers 20000 --only postgres
    .venv/bin/python benchmarks/destinations.py --postgres-url postgresql://u:p@host:5432/db

The subscriber tables (where the rows are) of one sandbox account are loaded into each destination in
each format it takes, each time by a fresh pipeline; a throw-away PostgreSQL cluster is started
unless --postgres-url names a server. The extract step reads the same pages every time, so the
formats are compared on normalize + load, the steps the format changes. Rows loaded are checked
against the sandbox's. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402

from benchmarks.accounts import build_account  # noqa: E402
from cm_source import campaign_monitor_source  # noqa: E402
from cm_source.api_facts import SUBSCRIBER_STATES  # noqa: E402
from cm_source.read.destinations import destination_for, file_format, nested_as_text_for  # noqa: E402
from cm_source.sandbox import Sandbox  # noqa: E402

# Every format each destination takes for Arrow pages (parquet on Postgres needs the ADBC driver).
MATRIX: dict[str, tuple[str, ...]] = {
    "duckdb": ("parquet", "insert_values", "jsonl"),
    "postgres": ("csv", "insert_values", "parquet"),
    "filesystem": ("parquet", "jsonl", "csv"),
    "sqlalchemy": ("parquet", "typed-jsonl"),
}
STATES = tuple(state.lower() for state in SUBSCRIBER_STATES)


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from helpers.postgres import postgres_bin, throwaway_cluster

    binaries = postgres_bin()
    if binaries is None:
        raise SystemExit("error: no PostgreSQL binaries: apt-get install postgresql, or pass --postgres-url")
    with throwaway_cluster(binaries) as started:
        yield started


def destination(kind: str, folder: Path, postgres_url: str) -> Any:
    settings = {
        "duckdb": {},
        "postgres": {"credentials": postgres_url},
        "filesystem": {"bucket_url": (folder / "bucket").as_uri()},
        "sqlalchemy": {"credentials": f"sqlite:///{folder / 'warehouse.sqlite'}"},
    }[kind]
    return destination_for(kind, str(folder / "warehouse.duckdb"), **settings)


def load(kind: str, loader_format: str, sandbox: Sandbox, folder: Path, postgres_url: str, run: int) -> dict[str, Any]:
    """One load; the step times from dlt's trace, the rows from the destination."""
    target = destination(kind, folder, postgres_url)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{kind}_{run}",
        destination=target,
        dataset_name=f"bench_{run}",
        pipelines_dir=str(folder / "pipelines"),
    )
    source = campaign_monitor_source(
        api_key=sandbox.api_key, base_url=sandbox.base_url, nested_as_text=nested_as_text_for(loader_format)
    )
    source = source.with_resources(*(f"{state}_subscribers" for state in STATES))
    try:
        pipeline.run(source, loader_file_format=loader_format)
    except Exception as error:  # noqa: BLE001 - a format the destination cannot take is a result too
        while error.__cause__ is not None:
            error = error.__cause__  # type: ignore[assignment]
        return {"error": f"{type(error).__name__}: {str(error).strip()[:150]}"}
    steps = {step.step: (step.finished_at - step.started_at).total_seconds() for step in pipeline.last_trace.steps}
    counted = dict(pipeline.dataset().row_counts(table_names=[f"{state}_subscribers" for state in STATES]).fetchall())
    return {**steps, "rows": sum(counted.values())}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--subscribers", type=int, default=100_000, help="subscriber rows in the sandbox (default 100000)"
    )
    parser.add_argument("--only", help=f"comma-separated destinations (default: {','.join(MATRIX)})")
    parser.add_argument("--postgres-url", help="a server to load into (default: a throw-away cluster)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = args.only.split(",") if args.only else list(MATRIX)
    account = build_account(args.subscribers, lists=4, layout="generator")
    expected = sum(len(rows) for states in account.subscribers.values() for rows in states.values())
    print(f"{expected:,} subscriber rows in the sandbox\n")
    print(
        f"{'destination':<11} {'format':<22} {'extract s':>9} {'normalize s':>11} {'load s':>7}"
        f" {'norm+load s':>11}  rows"
    )
    with Sandbox(account) as sandbox, postgres(args.postgres_url) as postgres_url, tempfile.TemporaryDirectory() as tmp:
        run = 0
        for kind in kinds:
            chosen = file_format(destination(kind, Path(tmp), postgres_url))
            for loader_format in MATRIX[kind]:
                run += 1
                started = time.perf_counter()
                result = load(kind, loader_format, sandbox, Path(tmp) / str(run), postgres_url, run)
                mark = " (chosen)" if loader_format == chosen else ""
                if "error" in result:
                    print(f"{kind:<11} {loader_format + mark:<22} failed: {result['error']}")
                    continue
                check = "" if result["rows"] == expected else f"  MISMATCH (expected {expected:,})"
                both = result["normalize"] + result["load"]
                print(
                    f"{kind:<11} {loader_format + mark:<22} {result['extract']:>9.1f} {result['normalize']:>11.1f}"
                    f" {result['load']:>7.1f} {both:>11.1f}  {result['rows']:,}{check}"
                    f"  [{time.perf_counter() - started:.0f} s in all]"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
