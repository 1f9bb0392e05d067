"""The report fan-out: every report table of every sent campaign, at each --campaigns count, against a
floor that sends the same requests with as many in flight, and the targets on it (time, memory, growth)."""

from __future__ import annotations

import gc
from typing import Any

from benchmarks import targets
from benchmarks.accounts import concurrent_side
from benchmarks.runner import Bench, ServerProcess
from benchmarks.scenario_load import cpu_text, duckdb_counts, report_command, steps_text, warm
from cm_source.read.catalogue import ENDPOINTS

REPORT_TABLES = [endpoint.table for endpoint in ENDPOINTS if endpoint.campaign_report]
SUBSCRIBERS = 3000  # the fan-out's account: 2 lists (generate_account's spread) and this many subscribers


def run(bench: Bench) -> list[dict[str, Any]]:
    """The fan-out at every size, then the targets across sizes."""
    results = [run_size(bench, campaigns) for campaigns in bench.args.campaigns]
    size_checks(bench, [r for r in results if "error" not in r["load"] and "error" not in r["floor"]])
    return results


def run_size(bench: Bench, campaigns: int) -> dict[str, Any]:
    tables = ["clients", "campaigns", *REPORT_TABLES]
    threads = concurrent_side(bench.args.concurrency)
    with ServerProcess(SUBSCRIBERS, 2, campaigns=campaigns) as server:
        bench.say(
            f"\n== report fan-out: {campaigns:,} sent campaigns, {len(REPORT_TABLES)} report tables"
            f" (generated in {server.generated_s:.1f} s by the server process)"
        )
        warm(bench, server, tables, with_floor=False)
        sent = [(request.path, request.query) for request in server.requests]
        bench.say(f"   floor: the same {len(sent):,} requests, {threads} in flight ...")
        floor = bench.measure(server, "fan_out_floor", {"requests": sent, "threads": threads})
        bench.say("   connector load, the plain call ...")
        load = bench.measure(server, "load", {"tables": tables}, bench.args.concurrency)
        bench.say("   connector load, the command ...")
        command = bench.measure(server, "command", {"tables": tables}, bench.args.concurrency)
    least = server.facts["report_least"]
    out = {
        "campaigns": campaigns,
        "requests": len(sent),
        "least": least,
        "floor": floor,
        "load": load,
        "command": command,
    }
    report(bench, out)
    gc.collect()
    return out


def report(bench: Bench, out: dict[str, Any]) -> None:
    floor, load, campaigns = out["floor"], out["load"], out["campaigns"]
    for name, result in (("floor", floor), ("load", load)):
        if "error" in result:
            bench.say("   " + result["error"])
            bench.report.check(f"fan-out {name} at {campaigns:,} campaigns finished", False, result["error"])
            return
    bench.say(
        f"   floor: {floor['wall_s']:.1f} s, {floor['requests']:,} requests, peak RSS {floor['peak_rss_mb']:.0f} MB;"
        f" {cpu_text(floor)}"
    )
    bench.say(f"   load: {load['wall_s']:.1f} s, peak RSS {load['peak_rss_mb']:.0f} MB; {steps_text(load)}")
    bench.say(
        f"   {cpu_text(load)}; first request {load['first_request_s']:.2f} s after the worker started;"
        f" {load['requests_seen']['rate_limited']} × 429"
    )
    counts = duckdb_counts(load["duckdb"], REPORT_TABLES)
    rows = sum(count for count in counts.values() if isinstance(count, int))
    bench.say(f"   rows in DuckDB {counts}")
    sent = load["requests_seen"]["total"]
    note = f"{campaigns:,} campaigns; rows/s are report rows"
    bench.report.row("fan-out floor", 0, floor, rows, out["requests"], floor["requests"], floor["wall_s"], note=note)
    bench.report.row("fan-out load", 0, load, rows, out["requests"], sent, floor["wall_s"], note=note)
    bench.report.check(
        f"fan-out at {campaigns:,} campaigns: the same requests as the warm-up run",
        sent == out["requests"],
        f"{out['requests']:,} then {sent:,}",
    )
    bench.report.check(
        f"fan-out at {campaigns:,} campaigns: requests ≤ {targets.REPORT_REQUESTS_VS_LEAST:g}× the least"
        " that reads every row",
        out["requests"] <= targets.REPORT_REQUESTS_VS_LEAST * out["least"],
        f"{out['requests']:,} requests / {out['least']:,} = {out['requests'] / out['least']:.3f}×",
    )
    ratio = load["wall_s"] / floor["wall_s"]
    bench.report.check(
        f"fan-out at {campaigns:,} campaigns within {targets.FAN_OUT_VS_FLOOR:g}× its floor",
        ratio <= targets.FAN_OUT_VS_FLOOR,
        f"{load['wall_s']:.1f} s / {floor['wall_s']:.1f} s = {ratio:.2f}×",
    )
    bench.report.check(
        f"fan-out at {campaigns:,} campaigns: peak RSS ≤ {targets.FAN_OUT_RSS_MB:g} MB",
        load["peak_rss_mb"] <= targets.FAN_OUT_RSS_MB,
        f"{load['peak_rss_mb']:.0f} MB",
    )
    report_command(
        bench,
        f"fan-out at {campaigns:,} campaigns",
        "fan-out (command)",
        0,
        load,
        out["command"],
        counts,
        rows,
        "the plain call's",
    )


def size_checks(bench: Bench, results: list[dict[str, Any]]) -> None:
    """Flat in campaigns: memory at the most against the fewest, and time growing no faster than requests."""
    if len(results) < 2:
        return
    least, most = min(results, key=lambda r: r["campaigns"]), max(results, key=lambda r: r["campaigns"])
    growth = most["load"]["peak_rss_mb"] / least["load"]["peak_rss_mb"]
    bench.report.check(
        f"fan-out memory at {most['campaigns']:,} ≤ {targets.FAN_OUT_MEMORY_GROWTH:g}× at {least['campaigns']:,}",
        growth <= targets.FAN_OUT_MEMORY_GROWTH,
        f"{most['load']['peak_rss_mb']:.0f} MB / {least['load']['peak_rss_mb']:.0f} MB = {growth:.2f}×",
    )
    per_request_ms = 1000 * most["load"]["process_cpu_s"] / most["requests"]
    bench.report.check(
        f"fan-out at {most['campaigns']:,} campaigns: CPU ≤ {targets.CPU_PER_REPORT_REQUEST_MS:g} ms per request"
        " (the plain call's whole process, start to exit)",
        per_request_ms <= targets.CPU_PER_REPORT_REQUEST_MS,
        f"{most['load']['process_cpu_s']:.1f} s / {most['requests']:,} requests = {per_request_ms:.2f} ms",
    )
    time_growth = most["load"]["wall_s"] / least["load"]["wall_s"]
    request_growth = most["requests"] / least["requests"]
    bench.report.check(
        "fan-out time grows no faster than its requests",
        time_growth <= request_growth,
        f"time ×{time_growth:.1f}, requests ×{request_growth:.1f}",
    )
