"""The floor and the connector's load at each size (--sizes), the load through the plain Python call and
through the ``cm-source load`` command, and the targets on them: the load against the floor, peak RSS,
its growth with the size, requests, rows in DuckDB. Also what the other read scenarios share: the
warm-up, the CPU and steps texts, rows in DuckDB against the sandbox, the command beside the plain call."""

from __future__ import annotations

import gc
from typing import Any

import duckdb

from benchmarks import targets
from benchmarks.accounts import state_tables
from benchmarks.runner import Bench, ServerProcess
from benchmarks.workers import CONCURRENCY_ENV, DATASET, list_state


def run(bench: Bench, states: list[str], want_floor: bool, want_load: bool) -> list[dict[str, Any]]:
    """Floor and/or load at every size, then the targets across sizes; the figures of each size."""
    sizes = []
    for size in bench.args.sizes:
        sizes.append(run_size(bench, size, states, want_floor, want_load))
        gc.collect()
    size_checks(bench, sizes)
    return sizes


def floor(bench: Bench, server: ServerProcess) -> dict[str, Any]:
    """The floor worker reading every list-state of the server's account."""
    return bench.measure(server, "floor", {"paths": server.facts["paths"]})


def warm(bench: Bench, server: ServerProcess, tables: list[str], with_floor: bool = True) -> None:
    """Every request once, untimed, so that what is timed gets answers the server has already encoded:
    the server, a Python sandbox, is then not what is measured. The floor's pages, then one connector
    run, which also warms its catch-up requests (the sandbox answers them by scanning a whole list-state)."""
    bench.say(
        "   warming the server's answer cache ("
        + ("the floor's pages, then " if with_floor else "")
        + "one connector run) ..."
    )
    if with_floor:
        floor(bench, server)
    bench.measure(server, "load", {"tables": tables}, bench.args.concurrency)


def run_size(bench: Bench, size: int, states: list[str], want_floor: bool, want_load: bool) -> dict[str, Any]:
    args = bench.args
    tables = state_tables(states)
    with ServerProcess(size, args.lists, args.layout) as server:
        facts = server.facts
        total, expected = facts["rows"], facts["expected"]
        bench.say(
            f"\n== {size:,} subscribers, {args.lists} lists ({args.layout} layout): generated in"
            f" {server.generated_s:.1f} s by the server process"
        )
        bench.say(f"   {facts['layout']}")
        bench.say(f"   the connector's states: {', '.join(states)} -> {total:,} rows to read")
        out: dict[str, Any] = {"size": size, "rows": total, "generate_s": server.generated_s}
        if want_load:
            warm(bench, server, tables)
        else:
            floor(bench, server)
        if args.latency:
            server.latency(args.latency)
        if args.rate_limit:
            server.window(args.rate_limit, 1)
        floor_s = None
        if want_floor:
            bench.say("   floor ...")
            out["floor"] = floor(bench, server)
            floor_s = report_floor(bench, size, out["floor"], total, expected)
        if want_load:
            bench.say("   connector load, the plain call ...")
            out["load"] = bench.measure(server, "load", {"tables": tables}, args.concurrency)
            out["load"]["expected_requests"] = expected
            report_load(bench, size, out["load"], facts, floor_s)
            bench.say("   connector load, the command ...")
            out["command"] = bench.measure(server, "command", {"tables": tables}, args.concurrency)
            report_command(
                bench, f"load at {size:,}", "load (command)", size, out["load"], out["command"], facts["counts"], total
            )
    return out


def report_floor(bench: Bench, size: int, result: dict[str, Any], total: int, expected: dict[str, int]) -> float | None:
    """Print the floor, add its row and its request check; its wall time, None if it failed."""
    seen = result["requests_seen"]
    floor_s = result.get("wall_s")
    if "error" in result:
        bench.say("   " + result["error"])
    else:
        bench.say(
            f"   floor: {floor_s:.1f} s, {result['rows']:,} rows, peak RSS {result['peak_rss_mb']:.0f} MB;"
            f" {cpu_text(result)}"
        )
    bench.report.row("floor", size, result, total, expected["pages"], seen["total"], floor_s)
    bench.report.check(
        f"floor requests at {size:,}: exactly the pages",
        seen["total"] == expected["pages"] and not seen["read_twice"],
        f"expected {expected['pages']}, sent {seen['total']}",
    )
    return floor_s


def cpu_text(result: dict[str, Any]) -> str:
    """Which side was busy: the worker's CPU time, the server's, and the server's own time per answer."""
    per_request = 1000 * (result["server_s"] + result["encode_s"]) / max(1, result["answered"])
    return (
        f"CPU: worker {result['cpu_s']:.1f} s, server {result['server_cpu_s']:.1f} s;"
        f" the server's own time {per_request:.2f} ms per request"
    )


def steps_text(result: dict[str, Any], with_rss: bool = True) -> str:
    """dlt's steps of a load worker (extract, normalize, load), each with its time and highest RSS."""
    return ", ".join(
        f"{s['step']} {s['s']:.1f} s"
        + (f" (RSS up to {s['peak_rss_mb']:.0f} MB)" if with_rss and s["peak_rss_mb"] else "")
        for s in result["steps"]
        if s["step"] != "run"
    )


def report_load(bench: Bench, size: int, load: dict[str, Any], facts: dict[str, Any], floor_s: float | None) -> None:
    """Print the load, check its rows in DuckDB, add its row and its checks (rows, requests)."""
    seen, expected = load["requests_seen"], facts["expected"]
    bench.report.row(
        "load",
        size,
        load,
        facts["rows"],
        expected["total"],
        seen["total"],
        floor_s,
        note=f"the plain call; process {load.get('process_s', 0):.1f} s",
    )
    if "error" in load:
        bench.say("   " + load["error"])
        bench.report.check(f"load at {size:,} finished", False, load["error"].splitlines()[-1])
        return
    bench.say(
        f"   load: {load['wall_s']:.1f} s, peak RSS {load['peak_rss_mb']:.0f} MB (after imports"
        f" {load['baseline_rss_mb']:.0f} MB); {steps_text(load)}"
    )
    bench.say(
        f"   {cpu_text(load)}; first request {load['first_request_s']:.2f} s after the worker started;"
        f" {CONCURRENCY_ENV}={load['max_concurrent_requests_env'] or '(unset: connector default)'}"
    )
    bench.say(
        f"   requests expected {expected} / seen pages {seen['pages']}, catch-up {seen['catch_up']},"
        f" other {seen['other_by_path']}, not pagesize=1000 {seen['not_pagesize_1000']},"
        f" read twice {seen['read_twice']}, 429s {seen['rate_limited']}"
    )
    rows_check(bench, f"load at {size:,}", load, facts["counts"])
    exact = seen["total"] == expected["total"] and not seen["not_pagesize_1000"] and not seen["read_twice"]
    bench.report.check(
        f"load at {size:,}: requests exactly the minimum",
        exact,
        f"expected {expected['total']} ({expected['pages']} pages + {expected['catch_up']} catch-up"
        f" + {expected['other']} other), sent {seen['total']} ({seen['pages']} pages +"
        f" {seen['catch_up']} catch-up + {seen['other']} other); {seen['not_pagesize_1000']} not at"
        f" pagesize=1000, {seen['read_twice']} pages read twice",
    )


def report_command(
    bench: Bench,
    label: str,
    row: str,
    subscribers: int,
    plain: dict[str, Any],
    command: dict[str, Any],
    want: dict[str, int],
    rows: int,
    whose: str = "the sandbox's",
) -> None:
    """The same run through ``cm-source load``, beside the plain call: both from process start to exit
    (imports included), its rows against ``want``, and the check that it does not beat the plain call."""
    seen = command["requests_seen"]
    bench.report.row(
        row,
        subscribers,
        command,
        rows,
        None,
        seen["total"],
        note=f"cm-source load, start to exit; the plain call's {plain.get('process_s', 0):.1f} s",
    )
    if "error" in command or "error" in plain:
        failed = command if "error" in command else plain
        bench.say("   " + failed["error"])
        bench.report.check(f"{label}: the command and the plain call finished", False, failed["error"].splitlines()[-1])
        return
    bench.say(
        f"   command: {command['process_s']:.1f} s start to exit, CPU {command['cpu_s']:.1f} s (server"
        f" {command['server_cpu_s']:.1f} s), peak RSS {command['peak_rss_mb']:.0f} MB; first request"
        f" {command['first_request_s']:.2f} s after it started; {seen['total']:,} requests,"
        f" {seen['rate_limited']} × 429"
    )
    bench.say(
        f"   the plain call: {plain['process_s']:.1f} s start to exit (its pipeline.run {plain['wall_s']:.1f} s),"
        f" CPU {plain['process_cpu_s']:.1f} s, peak RSS {plain['peak_rss_mb']:.0f} MB"
    )
    rows_check(bench, f"{label} (command)", command, want, whose)
    ratio = command["process_s"] / plain["process_s"]
    bench.report.check(
        f"{label}: the command does not beat the plain call (by more than {targets.COMMAND_LEAD:.0%})",
        ratio >= 1 - targets.COMMAND_LEAD,
        f"start to exit: command {command['process_s']:.1f} s / plain call {plain['process_s']:.1f} s = {ratio:.2f}×",
    )


def rows_check(
    bench: Bench, label: str, result: dict[str, Any], want: dict[str, int], whose: str = "the sandbox's"
) -> bool:
    """Rows per table in the run's DuckDB file against ``want`` (a list-state table's rows each once):
    printed, and checked."""
    loaded = duckdb_counts(result["duckdb"], list(want))
    bench.say(f"   rows in DuckDB {loaded} vs {whose} {want}")
    exact = loaded == want
    total = sum(v for v in loaded.values() if isinstance(v, int))
    bench.report.check(
        f"{label}: rows in DuckDB equal {whose}, each once",
        exact,
        f"{total:,} loaded vs {sum(want.values()):,}" + ("" if exact else f": {loaded}"),
    )
    return exact


def duckdb_counts(path: str, tables: list[str]) -> dict[str, Any]:
    """Rows per table a run left in its DuckDB file; where a list-state table holds a (list_id,
    email_address) more than once, "N rows, M distinct"; an error's first line where one failed."""
    counts: dict[str, Any] = {}
    with duckdb.connect(path, read_only=True) as connection:
        for table in tables:
            distinct = "count(DISTINCT (list_id, email_address))" if list_state(table) else "count(*)"
            try:
                rows, once = connection.execute(f"SELECT count(*), {distinct} FROM {DATASET}.{table}").fetchone()
            except duckdb.Error as error:
                counts[table] = f"error: {error}".splitlines()[0]
                continue
            counts[table] = rows if rows == once else f"{rows} rows, {once} distinct"
    return counts


def size_checks(bench: Bench, sizes: list[dict[str, Any]]) -> None:
    """The targets across sizes: the largest load against its floor, every load's peak RSS, its growth."""
    loads = [s for s in sizes if "load" in s and "error" not in s["load"]]
    if not loads:
        return
    check = bench.report.check
    largest = max(loads, key=lambda s: s["size"])
    if "floor" in largest and "error" not in largest["floor"]:
        load_s, floor_s = largest["load"]["wall_s"], largest["floor"]["wall_s"]
        check(
            f"load at {largest['size']:,} within {targets.LOAD_VS_FLOOR:g}× the floor",
            load_s / floor_s <= targets.LOAD_VS_FLOOR,
            f"{load_s:.1f} s / {floor_s:.1f} s = {load_s / floor_s:.2f}×",
        )
    rows = largest.get("rows") or 0
    if rows:
        per_row_us = 1e6 * largest["load"]["process_cpu_s"] / rows
        check(
            f"load at {largest['size']:,}: CPU ≤ {targets.CPU_PER_SUBSCRIBER_ROW_US:g} µs per subscriber row"
            " (the plain call's whole process, start to exit)",
            per_row_us <= targets.CPU_PER_SUBSCRIBER_ROW_US,
            f"{largest['load']['process_cpu_s']:.1f} s / {rows:,} rows = {per_row_us:.1f} µs",
        )
    for s in loads:
        check(
            f"load at {s['size']:,}: peak RSS ≤ {targets.PEAK_RSS_MB:g} MB (the plain call, DuckDB held to 128 MB)",
            s["load"]["peak_rss_mb"] <= targets.PEAK_RSS_MB,
            f"{s['load']['peak_rss_mb']:.0f} MB",
        )
    if len(loads) > 1:
        smallest = min(loads, key=lambda s: s["size"])
        most, least = largest["load"]["peak_rss_mb"], smallest["load"]["peak_rss_mb"]
        check(
            f"memory at {largest['size']:,} ≤ {targets.MEMORY_GROWTH:g}× memory at {smallest['size']:,}",
            most / least <= targets.MEMORY_GROWTH,
            f"{most:.0f} MB / {least:.0f} MB = {most / least:.2f}×",
        )
