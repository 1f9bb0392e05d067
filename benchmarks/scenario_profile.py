"""--profile: one more load, cProfiled in its worker (main thread only) and not timed; the top 15
functions by cumulative and by own time."""

from __future__ import annotations

from benchmarks.accounts import build_account
from benchmarks.runner import Bench, TimedSandbox


def run(bench: Bench) -> None:
    args = bench.args
    account = build_account(args.profile_size, args.lists, args.layout)
    bench.say(f"\n== cProfile of the load worker at {args.profile_size:,} (main thread only)")
    with TimedSandbox(account) as server:
        result = bench.measure(server, "load", {"profile": True}, args.concurrency)
    if "error" in result:
        bench.say("   " + result["error"])
        return
    bench.say(f"   profiled load {result['wall_s']:.1f} s (profiler overhead included)")
    for order in ("cumulative", "tottime"):
        bench.say(f"\n-- top 15 by {order} --")
        bench.say("\n".join(line for line in result[f"profile_{order}"].splitlines() if line.strip()))
    bench.report.records.append({"scenario": "profile", "result": result})
