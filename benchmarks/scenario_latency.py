"""Latency: equal lists behind a fixed delay a request; the floor, then the connector one request at a
time and at its concurrency; the target is on reading (dlt's extract step)."""

from __future__ import annotations

from typing import Any

from benchmarks import targets
from benchmarks.accounts import concurrent_side, state_tables
from benchmarks.runner import Bench, ServerProcess
from benchmarks.scenario_load import cpu_text, floor, steps_text, warm


def run(bench: Bench, states: list[str]) -> None:
    args = bench.args
    sides = {"sequential": 1, "concurrent": concurrent_side(args.concurrency)}
    bench.say(
        f"\n== latency: {args.compare_subscribers:,} subscribers over {args.compare_lists} lists (even),"
        f" {args.compare_latency * 1000:.0f} ms a request"
    )
    results: dict[str, dict[str, Any]] = {}
    with ServerProcess(args.compare_subscribers, args.compare_lists, "even") as server:
        total, expected = server.facts["rows"], server.facts["expected"]
        bench.say(f"   {server.facts['layout']}; expected requests {expected}")
        warm(bench, server, state_tables(states))
        server.latency(args.compare_latency)
        first = floor(bench, server)
        bench.report.row(
            "latency floor (1 session)",
            args.compare_subscribers,
            first,
            total,
            expected["pages"],
            first["requests_seen"]["total"],
        )
        for label, concurrency in sides.items():
            bench.say(f"   connector, max_concurrent_requests={concurrency} ...")
            result = results[label] = bench.measure(server, "load", {"tables": state_tables(states)}, concurrency)
            seen = result["requests_seen"]
            if "error" in result:
                bench.say("   " + result["error"])
            else:
                bench.say(
                    f"   {label}: {result['wall_s']:.2f} s ({steps_text(result, with_rss=False)};"
                    f" {cpu_text(result)}); {seen['total']} requests over {result['span_s']:.2f} s:"
                    f" {seen['pages']} pages, {seen['catch_up']} catch-up, other {seen['other_by_path']},"
                    f" read twice {seen['read_twice']}"
                )
            bench.report.row(
                f"latency load c={concurrency}",
                args.compare_subscribers,
                result,
                total,
                expected["total"],
                seen["total"],
                first.get("wall_s"),
            )
    bench.report.records.append({"scenario": "latency", "floor": first, **results})
    check_speedup(bench, results, sides["concurrent"])


def check_speedup(bench: Bench, results: dict[str, dict[str, Any]], concurrent: int) -> None:
    """The target on reading: dlt's extract step. Normalize and load (the same DuckDB work either way)
    are not reading, so the whole run's ratio is only printed beside it."""
    args = bench.args
    name = (
        f"latency {args.compare_latency * 1000:.0f} ms, {args.compare_lists} lists: reading concurrently ≥"
        f" {targets.LATENCY_SPEEDUP:g}× faster than one at a time"
    )
    seq, con = results["sequential"], results["concurrent"]
    if "error" in seq or "error" in con:
        bench.report.check(name, False, "a run failed")
        return
    reading = {label: next(s["s"] for s in run["steps"] if s["step"] == "extract") for label, run in results.items()}
    speedup, whole = reading["sequential"] / reading["concurrent"], seq["wall_s"] / con["wall_s"]
    bench.report.check(
        name,
        speedup >= targets.LATENCY_SPEEDUP,
        f"extract {reading['sequential']:.2f} s / {reading['concurrent']:.2f} s = {speedup:.2f}×"
        f" (c=1 vs c={concurrent}); whole run incl. normalize+load {seq['wall_s']:.2f} s / {con['wall_s']:.2f} s"
        f" = {whole:.2f}×",
    )
