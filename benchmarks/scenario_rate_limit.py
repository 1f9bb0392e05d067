"""Rate limit: the latency scenario's account behind a fixed-window limiter; the connector at its
concurrency should be answered close to the allowed rate without a storm of 429s."""

from __future__ import annotations

from benchmarks import targets
from benchmarks.accounts import concurrent_side, state_tables
from benchmarks.runner import Bench, ServerProcess
from benchmarks.scenario_load import cpu_text, warm


def run(bench: Bench, states: list[str]) -> None:
    args = bench.args
    concurrent, limit = concurrent_side(args.concurrency), args.compare_rate_limit
    bench.say(
        f"\n== rate limit: {limit} requests/s (fixed 1 s window), {args.compare_subscribers:,} subscribers over"
        f" {args.compare_lists} lists, connector max_concurrent_requests={concurrent}"
    )
    with ServerProcess(args.compare_subscribers, args.compare_lists, "even") as server:
        total, expected = server.facts["rows"], server.facts["expected"]
        warm(bench, server, state_tables(states))
        server.window(limit, 1)
        result = bench.measure(server, "load", {"tables": state_tables(states)}, concurrent)
        answered = server.answered()
    seen, span = result["requests_seen"], result["span_s"]
    refused = seen["rate_limited"]
    rate = answered / span if span else 0.0
    result.update(rate_per_s=rate, refused_429=refused)
    bench.report.records.append({"scenario": "ratelimit", "limit": limit, "result": result})
    bench.report.row(
        f"rate limit {limit}/s c={concurrent}",
        args.compare_subscribers,
        result,
        total,
        expected["total"],
        seen["total"],
        note=f"{rate:.1f} req/s, {refused} × 429",
    )
    failed = "error" in result
    bench.say(
        f"   {answered} answered + {refused} × 429 over {span:.1f} s: {rate:.2f} answered/s of {limit} allowed"
        + (f"; FAILED: {result['error']}" if failed else f"; load {result['wall_s']:.1f} s; {cpu_text(result)}")
    )
    bench.report.check(
        f"rate limit {limit}/s: achieved ≥ {targets.RATE_SHARE:.0%} of the allowed rate",
        not failed and rate >= targets.RATE_SHARE * limit,
        f"{rate:.2f} req/s answered of {limit}/s" + (" (the load FAILED)" if failed else ""),
    )
    bench.report.check(
        f"rate limit {limit}/s: 429s ≤ {targets.MAX_429_SHARE:.0%} of requests",
        refused <= targets.MAX_429_SHARE * max(1, seen["total"]),
        f"{refused} × 429 of {seen['total']} requests",
    )
