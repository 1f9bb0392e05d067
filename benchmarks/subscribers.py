#!/usr/bin/env python
"""Subscriber read/write benchmark of the connector against the local sandbox. Run by hand:

    .venv/bin/python benchmarks/subscribers.py                      # 100k and 1M, every scenario
    .venv/bin/python benchmarks/subscribers.py --sizes 20000 100000 # quicker
    .venv/bin/python benchmarks/subscribers.py --only floor,load --subscribers 1000000
    .venv/bin/python benchmarks/subscribers.py --only load --sizes 100000 --profile
    .venv/bin/python benchmarks/subscribers.py --only wan     # also window, shared

The read scenarios' sandbox runs in a process of its own (benchmarks/server_process.py); write, mirror,
incremental and --profile serve from a thread of this one. The floor, the connector's load and the
upsert each run in a fresh subprocess (this script with --worker), and so does the cm-source command,
so each peak RSS is that process's own. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.workers import CONCURRENCY_ENV, run_as_worker  # noqa: E402

SCENARIOS = (
    "floor",
    "load",
    "fanout",
    "wan",
    "window",
    "shared",
    "latency",
    "ratelimit",
    "write",
    "mirror",
    "incremental",
    "resume",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--subscribers", type=int, help="one size: total subscriber rows in the sandbox")
    sizes.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="sizes to run floor and load at (default: 100000 1000000)",
    )
    parser.add_argument("--lists", type=int, default=4, help="non-empty lists for floor/load (default 4)")
    parser.add_argument(
        "--layout",
        choices=("generator", "even"),
        default="generator",
        help="generator: generate_account's spread (first list 80%%); even: equal lists (default generator)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="per-request latency of the floor/load sandbox (default 0)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="requests/s the floor/load sandbox allows (default: no limit)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help=f"{CONCURRENCY_ENV} for the connector (default: unset for floor/load, i.e. the"
        " connector's default, also for the concurrent side of latency/ratelimit)",
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios among {','.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--campaigns",
        type=int,
        nargs="+",
        default=[1_000, 10_000],
        help="sent campaigns the fanout scenario reads every report of (default: 1000 10000)",
    )
    parser.add_argument(
        "--wan-subscribers", type=int, default=200_000, help="wan: rows in its one list (default 200000)"
    )
    parser.add_argument("--wan-latency", type=float, default=0.1, help="wan: seconds on every answer (default 0.1)")
    parser.add_argument(
        "--window-subscribers",
        type=int,
        default=100_000,
        help="window and shared: rows in their one list (default 100000)",
    )
    parser.add_argument(
        "--window-limit", type=int, default=30, help="window and shared: requests a window (default 30)"
    )
    parser.add_argument("--window-seconds", type=float, default=2.0, help="window and shared: its length (default 2)")
    parser.add_argument(
        "--window-latency",
        type=float,
        default=0.0,
        help="window and shared: also this latency on every answer, seconds (default 0)",
    )
    parser.add_argument(
        "--compare-subscribers", type=int, default=24_000, help="latency/ratelimit size (default 24000)"
    )
    parser.add_argument("--compare-lists", type=int, default=12, help="latency/ratelimit lists (default 12, even)")
    parser.add_argument("--compare-latency", type=float, default=0.05, help="latency scenario, seconds (default 0.05)")
    parser.add_argument(
        "--compare-rate-limit", type=int, default=10, help="ratelimit scenario, requests/s (default 10)"
    )
    parser.add_argument(
        "--resume-campaigns", type=int, default=500, help="resume scenario: the first client's sent campaigns (500)"
    )
    parser.add_argument(
        "--resume-window", type=int, default=50, help="resume scenario: the API's window, requests/s (default 50)"
    )
    parser.add_argument(
        "--resume-minutes", type=float, default=0.05, help="resume scenario: checkpoint_minutes (default 0.05)"
    )
    parser.add_argument(
        "--write-rows", type=int, default=100_000, help="rows the write scenario upserts (default 100000)"
    )
    parser.add_argument(
        "--write-existing",
        type=int,
        default=20_000,
        help="subscribers already on the sandbox list written to (default 20000)",
    )
    parser.add_argument(
        "--mirror-members",
        type=int,
        default=100_000,
        help="members of the list the mirror scenario mirrors to as many rows (default 100000)",
    )
    parser.add_argument(
        "--write-rounds",
        type=int,
        default=3,
        help="rounds of calls-alone then upsert in the write scenario, medians reported (default 3)",
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile one load (a separate, untimed run)")
    parser.add_argument("--profile-size", type=int, default=100_000, help="subscribers for --profile (default 100000)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the workers' temp dirs (DuckDB files, pipelines)")
    args = parser.parse_args(argv)
    args.sizes = [args.subscribers] if args.subscribers is not None else args.sizes
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    return args


def run_scenarios(args: argparse.Namespace, command: str) -> None:
    """The chosen scenarios one after another, then the report.

    Imported here, not at the top: a worker process runs this script too, and must not load the
    sandbox before it measures its own memory.
    """
    import dlt

    from benchmarks import (
        scenario_bounds,
        scenario_fan_out,
        scenario_incremental,
        scenario_latency,
        scenario_load,
        scenario_mirror,
        scenario_profile,
        scenario_rate_limit,
        scenario_resume,
        scenario_write,
    )
    from benchmarks.accounts import connector_states
    from benchmarks.runner import Bench

    print(f"command: {command}")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, dlt {dlt.__version__},"
        f" {platform.platform()}; code: {REPO_ROOT}"
    )
    states, how = connector_states()
    print(f"subscriber states loaded by the connector (from {how}): {', '.join(states)}", flush=True)
    bench = Bench(args)
    sizes: list[dict[str, Any]] = []
    chosen = [
        (
            "floor" in args.only or "load" in args.only,
            lambda: sizes.extend(scenario_load.run(bench, states, "floor" in args.only, "load" in args.only)),
        ),
        ("fanout" in args.only, lambda: scenario_fan_out.run(bench)),
        ("wan" in args.only, lambda: scenario_bounds.run_wan(bench, states)),
        ("window" in args.only, lambda: scenario_bounds.run_window(bench, states)),
        ("shared" in args.only, lambda: scenario_bounds.run_shared(bench, states)),
        ("latency" in args.only, lambda: scenario_latency.run(bench, states)),
        ("ratelimit" in args.only, lambda: scenario_rate_limit.run(bench, states)),
        ("write" in args.only, lambda: scenario_write.run(bench)),
        ("mirror" in args.only, lambda: scenario_mirror.run(bench)),
        ("incremental" in args.only, lambda: scenario_incremental.run(bench)),
        ("resume" in args.only, lambda: scenario_resume.run(bench)),
        (args.profile, lambda: scenario_profile.run(bench)),
    ]
    try:
        for wanted, scenario in chosen:
            if wanted:
                scenario()
                gc.collect()  # a finished account left for the GC slows every later sandbox down
        print(f"\ncommand: {command}")
        bench.report.print_summary()
        if args.json:
            bench.report.write_json(args.json, command, sizes)
    finally:
        bench.clean_up()


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--worker":
        run_as_worker(sys.argv[2], sys.argv[3])
        return 0
    run_scenarios(parse_args(argv), " ".join(shlex.quote(part) for part in [sys.executable, *sys.argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
