"""Where users run it: one large list read against a bound no client can beat. wan: a fixed latency on
every answer; window: a fixed rate window announced on every answer (X-RateLimit-* headers); shared: two
runs at once on one key against one window. Each prints its bound, the connector, their ratio, the CPU
split, the workers' peak RSS, requests and 429s, and checks every run's tables against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import targets
from benchmarks.accounts import concurrent_side, state_tables
from benchmarks.runner import Bench, ServerProcess
from benchmarks.scenario_load import rows_check, steps_text, warm


def run_wan(bench: Bench, states: list[str]) -> None:
    """Bound: requests × latency ÷ max_concurrent_requests, plus the run's start-up (worker start to its
    first request); the connector: worker start to the end of pipeline.run."""
    args = bench.args
    latency, concurrent = args.wan_latency, concurrent_side(args.concurrency)
    with ServerProcess(args.wan_subscribers) as server:
        results = run_one(
            bench, server, "wan", f"{latency * 1000:.0f} ms on every answer", states, lambda: server.latency(latency)
        )
    if results is None:
        return
    result = results[0]
    sent, start_up = result["requests_seen"]["total"], result["first_request_s"]
    bound = sent * latency / concurrent + start_up
    report(
        bench,
        "wan",
        args.wan_subscribers,
        server.facts,
        results,
        bound,
        f"{sent} requests × {latency:g} s ÷ {concurrent} in flight + start-up {start_up:.2f} s",
        result["end_s"],
        "worker start to the end of pipeline.run",
        targets.WAN_VS_BOUND,
    )


def run_window(bench: Bench, states: list[str]) -> None:
    """Bound: answered requests ÷ the window's rate; the connector: pipeline.run."""
    args = bench.args
    with ServerProcess(args.window_subscribers) as server:
        results = run_one(bench, server, "window", window_text(args), states, lambda: start_window(server, args))
    if results is None:
        return
    result = results[0]
    bound, how = window_bound(args, result)
    report(
        bench,
        "window",
        args.window_subscribers,
        server.facts,
        results,
        bound,
        how,
        result["wall_s"],
        "pipeline.run",
        targets.WINDOW_VS_BOUND,
    )
    refused = result["requests_seen"]["rate_limited"]
    bench.report.check(
        f"window: {targets.WINDOW_429S} × 429",
        refused <= targets.WINDOW_429S,
        f"{refused} × 429 of {result['requests_seen']['total']} requests",
    )


def run_shared(bench: Bench, states: list[str]) -> None:
    """Two load workers started at once on one key against one window, each into a DuckDB file of its
    own. Bound: both runs' answered requests ÷ the window's rate; the connector: the first pipeline.run's
    start to the last one's end."""
    args = bench.args
    with ServerProcess(args.window_subscribers) as server:
        results = run_one(
            bench,
            server,
            "shared",
            f"two runs at once; {window_text(args)}",
            states,
            lambda: start_window(server, args),
            runs=2,
        )
    if results is None:
        return
    bound, how = window_bound(args, results[0])
    together = max(r["finished_at"] for r in results) - min(r["started_at"] for r in results)
    report(
        bench,
        "shared",
        args.window_subscribers,
        server.facts,
        results,
        bound,
        how,
        together,
        "the first pipeline.run's start to the last one's end",
        None,
    )
    seen = results[0]["requests_seen"]
    bench.report.check(
        f"shared: ≤ {targets.SHARED_429_SHARE:.0%} of all requests refused (429)",
        seen["rate_limited"] <= targets.SHARED_429_SHARE * seen["total"],
        f"{seen['rate_limited']} × 429 of {seen['total']} requests",
    )


def run_one(
    bench: Bench, server: ServerProcess, name: str, what: str, states: list[str], arm: Callable[[], None], runs: int = 1
) -> list[dict[str, Any]] | None:
    """Warm the server, ``arm`` its fault, then ``runs`` load workers at once; their results, or None
    (said and checked) when one failed."""
    bench.say(f"\n== {name}: {what}; generated in {server.generated_s:.1f} s by the server process")
    bench.say(f"   {server.facts['layout']}")
    tables = state_tables(states)
    warm(bench, server, tables)
    arm()
    bench.say("   connector load, the plain call" + (f", {runs} at once" if runs > 1 else "") + " ...")
    results = bench.measure_together(server, "load", [{"tables": tables}] * runs, bench.args.concurrency)
    failed = [r for r in results if "error" in r]
    if failed:
        bench.say("   " + failed[0]["error"])
        bench.report.check(f"{name}: every run finished", False, failed[0]["error"].splitlines()[-1])
        return None
    return results


def window_text(args: Any) -> str:
    latency = f", {args.window_latency * 1000:.0f} ms on every answer" if args.window_latency else ""
    return f"a window of {args.window_limit} requests per {args.window_seconds:g} s on every answer{latency}"


def start_window(server: ServerProcess, args: Any) -> None:
    if args.window_latency:
        server.latency(args.window_latency)
    server.window(args.window_limit, args.window_seconds)


def window_bound(args: Any, result: dict[str, Any]) -> tuple[float, str]:
    """The bound the requests answered (not 429) make at the window's rate, and how."""
    seen = result["requests_seen"]
    answered, rate = seen["total"] - seen["rate_limited"], args.window_limit / args.window_seconds
    return answered / rate, f"{answered} answered ÷ {rate:g} requests/s"


def report(
    bench: Bench,
    name: str,
    size: int,
    facts: dict[str, Any],
    results: list[dict[str, Any]],
    bound: float,
    how: str,
    connector_s: float,
    what: str,
    target: float | None,
) -> None:
    """The bound, the connector against it, the CPU split, peak RSS, requests and 429s; the ratio's
    check (when there is a target) and each run's tables."""
    first, runs = results[0], len(results)
    seen, ratio = first["requests_seen"], connector_s / bound
    fewest = facts["expected"]["total"] * runs
    bench.say(f"   bound {bound:.2f} s ({how})")
    bench.say(
        f"   connector {connector_s:.2f} s ({what}) = {ratio:.2f}× the bound; "
        + "; ".join(steps_text(r) for r in results)
    )
    cpu = " + ".join(f"{r['cpu_s']:.1f}" for r in results)
    rss = " and ".join(f"{r['peak_rss_mb']:.0f}" for r in results)
    bench.say(
        f"   CPU: worker{'s' if runs > 1 else ''} {cpu} s, server {first['server_cpu_s']:.1f} s; peak RSS"
        f" {rss} MB; {seen['total']:,} requests (the fewest {fewest:,}), {seen['rate_limited']} × 429;"
        f" first request {first['first_request_s']:.2f} s after the worker started"
    )
    bench.report.row(
        name,
        size,
        first,
        facts["rows"] * runs,
        fewest,
        seen["total"],
        bound,
        wall=connector_s,
        note=f"ratio to the bound; {seen['rate_limited']} × 429",
    )
    if target is not None:
        bench.report.check(
            f"{name}: within {target:g}× its bound",
            ratio <= target,
            f"{connector_s:.2f} s / {bound:.2f} s = {ratio:.2f}×",
        )
    for number, result in enumerate(results, 1):
        rows_check(bench, name if runs == 1 else f"{name} run {number}", result, facts["counts"])
