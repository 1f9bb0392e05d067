"""The floor and the connector's load at each size (--sizes), and the targets on them: the load
against the floor, peak RSS, its growth with the size, requests, rows in DuckDB."""

from __future__ import annotations

import gc
import time
from typing import Any, Dict, List, Optional

import duckdb

from benchmarks import targets
from benchmarks.accounts import (
    build_account, expected_requests, layout_text, rows_to_read, sandbox_counts, subscriber_paths)
from benchmarks.memory import current_rss_mb, peak_rss_mb
from benchmarks.runner import Bench, TimedSandbox
from benchmarks.workers import CONCURRENCY_ENV, DATASET
from cm_source.sandbox import Account


def run(bench: Bench, states: List[str], want_floor: bool, want_load: bool) -> List[Dict[str, Any]]:
    """Floor and/or load at every size, then the targets across sizes; the figures of each size."""
    sizes = []
    for size in bench.args.sizes:
        sizes.append(run_size(bench, size, states, want_floor, want_load))
        gc.collect()  # a finished account left for the GC slows every later sandbox down
    size_checks(bench, sizes)
    return sizes


def floor(bench: Bench, server: TimedSandbox, account: Account, states: List[str]) -> Dict[str, Any]:
    """The floor worker reading every list-state of ``account`` from ``server``."""
    return bench.measure(server, "floor", {"paths": subscriber_paths(account, states)})


def run_size(bench: Bench, size: int, states: List[str], want_floor: bool, want_load: bool) -> Dict[str, Any]:
    args = bench.args
    started = time.perf_counter()
    account = build_account(size, args.lists, args.layout)
    generated_s = time.perf_counter() - started
    total = rows_to_read(account, states)
    bench.say(f"\n== {size:,} subscribers, {args.lists} lists ({args.layout} layout): generated in {generated_s:.1f} s,"
              f" this process's RSS now {current_rss_mb():,.0f} MB (peak {peak_rss_mb():,.0f} MB)")
    bench.say(f"   {layout_text(account, states)}")
    bench.say(f"   the connector's states: {', '.join(states)} -> {total:,} rows to read")
    out: Dict[str, Any] = {"size": size, "rows": total, "generate_s": generated_s}
    expected = expected_requests(account, states)
    with TimedSandbox(account, cache_answers=True) as server:
        # Every request once, untimed, so that the floor and the load both get answers the server has
        # already encoded: the server, a Python sandbox, is then not what is measured. The connector's
        # own run warms its catch-up requests, which the sandbox answers by scanning a whole list-state.
        bench.say("   warming the server's answer cache (the floor's pages, then one connector run) ...")
        floor(bench, server, account, states)
        if want_load:
            bench.measure(server, "load", {"profile": False}, args.concurrency)
        if args.latency:
            server.sandbox.faults.latency(args.latency)
        if args.rate_limit:
            server.sandbox.faults.rate_limit_window(args.rate_limit, per_seconds=1.0)
        floor_s = None
        if want_floor:
            bench.say("   floor ...")
            out["floor"] = floor(bench, server, account, states)
            floor_s = report_floor(bench, size, out["floor"], total, expected)
        if want_load:
            bench.say("   connector load ...")
            out["load"] = bench.measure(server, "load", {"profile": False}, args.concurrency)
            out["load"]["expected_requests"] = expected
            report_load(bench, size, out["load"], account, expected, total, floor_s)
    return out


def report_floor(bench: Bench, size: int, result: Dict[str, Any], total: int,
                 expected: Dict[str, int]) -> Optional[float]:
    """Print the floor, add its row and its request check; its wall time, None if it failed."""
    seen = result["requests_seen"]
    floor_s = result.get("wall_s")
    if "error" in result:
        bench.say("   " + result["error"])
    else:
        bench.say(f"   floor: {floor_s:.1f} s, {result['rows']:,} rows, peak RSS {result['peak_rss_mb']:.0f} MB;"
                  f" {cpu_text(result)}")
    bench.report.row("floor", size, result, total, expected["pages"], seen["total"], floor_s)
    bench.report.check(f"floor requests at {size:,}: exactly the pages",
                       seen["total"] == expected["pages"] and not seen["read_twice"],
                       f"expected {expected['pages']}, sent {seen['total']}")
    return floor_s


def cpu_text(result: Dict[str, Any]) -> str:
    """Which side was busy: the worker's CPU time, the server's, and the server's own time per answer."""
    per_request = 1000 * (result["server_s"] + result["encode_s"]) / max(1, result["answered"])
    return (f"CPU: client {result['cpu_s']:.1f} s, server {result['server_cpu_s']:.1f} s;"
            f" the server's own time {per_request:.2f} ms per request")


def steps_text(result: Dict[str, Any], with_rss: bool = True) -> str:
    """dlt's steps of a load worker (extract, normalize, load), each with its time and highest RSS."""
    return ", ".join(
        f"{s['step']} {s['s']:.1f} s"
        + (f" (RSS up to {s['peak_rss_mb']:.0f} MB)" if with_rss and s["peak_rss_mb"] else "")
        for s in result["steps"] if s["step"] != "run"
    )


def report_load(bench: Bench, size: int, load: Dict[str, Any], account: Account, expected: Dict[str, int],
                total: int, floor_s: Optional[float]) -> None:
    """Print the load, count its rows in DuckDB, add its row and its checks (rows, requests)."""
    seen = load["requests_seen"]
    bench.report.row("load", size, load, total, expected["total"], seen["total"], floor_s)
    if "error" in load:
        bench.say("   " + load["error"])
        bench.report.check(f"load at {size:,} finished", False, load["error"].splitlines()[-1])
        return
    loaded = duckdb_counts(load["duckdb"], load["tables"])
    want = sandbox_counts(account, load["tables"])
    load["loaded_rows"], load["sandbox_rows"] = loaded, want
    bench.say(f"   load: {load['wall_s']:.1f} s, peak RSS {load['peak_rss_mb']:.0f} MB (after imports"
              f" {load['baseline_rss_mb']:.0f} MB); {steps_text(load)}")
    bench.say(f"   {cpu_text(load)}; first request {load['first_request_s']:.2f} s after the worker started;"
              f" {CONCURRENCY_ENV}={load['max_concurrent_requests_env'] or '(unset: connector default)'}")
    bench.say(f"   requests expected {expected} / seen pages {seen['pages']}, catch-up {seen['catch_up']},"
              f" other {seen['other_by_path']}, not pagesize=1000 {seen['not_pagesize_1000']},"
              f" read twice {seen['read_twice']}, 429s {seen['rate_limited']}")
    bench.say(f"   rows in DuckDB {loaded} vs sandbox {want}")
    bench.report.check(f"load at {size:,}: rows in DuckDB equal the sandbox's", loaded == want,
                       f"{sum(v for v in loaded.values() if isinstance(v, int)):,} loaded vs {sum(want.values()):,}")
    exact = seen["total"] == expected["total"] and not seen["not_pagesize_1000"] and not seen["read_twice"]
    bench.report.check(f"load at {size:,}: requests exactly the minimum", exact,
                       f"expected {expected['total']} ({expected['pages']} pages + {expected['catch_up']} catch-up"
                       f" + {expected['other']} other), sent {seen['total']} ({seen['pages']} pages +"
                       f" {seen['catch_up']} catch-up + {seen['other']} other); {seen['not_pagesize_1000']} not at"
                       f" pagesize=1000, {seen['read_twice']} pages read twice")


def duckdb_counts(path: str, tables: List[str]) -> Dict[str, Any]:
    """Rows per table the load worker left in its DuckDB file; an error's first line where one failed."""
    counts: Dict[str, Any] = {}
    with duckdb.connect(path, read_only=True) as connection:
        for table in tables:
            try:
                counts[table] = connection.execute(f"SELECT count(*) FROM {DATASET}.{table}").fetchone()[0]
            except duckdb.Error as error:
                counts[table] = f"error: {error}".splitlines()[0]
    return counts


def size_checks(bench: Bench, sizes: List[Dict[str, Any]]) -> None:
    """The targets across sizes: the largest load against its floor, every load's peak RSS, its growth."""
    loads = [s for s in sizes if "load" in s and "error" not in s["load"]]
    if not loads:
        return
    check = bench.report.check
    largest = max(loads, key=lambda s: s["size"])
    if "floor" in largest and "error" not in largest["floor"]:
        load_s, floor_s = largest["load"]["wall_s"], largest["floor"]["wall_s"]
        check(f"load at {largest['size']:,} within {targets.LOAD_VS_FLOOR:g}× the floor",
              load_s / floor_s <= targets.LOAD_VS_FLOOR, f"{load_s:.1f} s / {floor_s:.1f} s = {load_s / floor_s:.2f}×")
    for s in loads:
        check(f"load at {s['size']:,}: peak RSS ≤ {targets.PEAK_RSS_MB:g} MB",
              s["load"]["peak_rss_mb"] <= targets.PEAK_RSS_MB, f"{s['load']['peak_rss_mb']:.0f} MB")
    if len(loads) > 1:
        smallest = min(loads, key=lambda s: s["size"])
        most, least = largest["load"]["peak_rss_mb"], smallest["load"]["peak_rss_mb"]
        check(f"memory at {largest['size']:,} ≤ {targets.MEMORY_GROWTH:g}× memory at {smallest['size']:,}",
              most / least <= targets.MEMORY_GROWTH, f"{most:.0f} MB / {least:.0f} MB = {most / least:.2f}×")
