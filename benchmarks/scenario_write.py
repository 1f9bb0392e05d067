"""Write: rows upserted into a list of existing subscribers; the upsert against the same import calls
alone (to a twin sandbox in the same state) and against its local work alone (a dry run)."""

from __future__ import annotations

import math
from typing import Any

from benchmarks import targets
from benchmarks.runner import Bench, TimedSandbox
from cm_source.api_facts import IMPORT_LIMIT
from cm_source.sandbox import Account, Sandbox, generate_account


def write_account(existing: int) -> Account:
    """The account written to; the upsert's sandbox and the calls-alone twin each get one, in the same state."""
    return generate_account(seed=7, clients=1, lists_per_client=2, subscribers=existing)


def run(bench: Bench) -> None:
    args = bench.args
    account = write_account(args.write_existing)
    list_id = account.lists[account.clients[0]["ClientID"]][0]["ListID"]
    members = account.subscribers[list_id]
    existing = [row["EmailAddress"] for row in members["Active"]][: args.write_rows // 10]
    bench.say(
        f"\n== write: {args.write_rows:,} rows upserted into a list of {sum(map(len, members.values())):,}"
        f" ({len(existing):,} of the rows update existing subscribers); default_region GB"
    )
    with TimedSandbox(account) as server, Sandbox(write_account(args.write_existing)) as twin:
        result = bench.worker(
            "write",
            {
                **server.spec,
                "list_id": list_id,
                "twin_base_url": twin.base_url,
                "twin_api_key": twin.api_key,
                "rows": args.write_rows,
                "existing_emails": existing,
                "rounds": args.write_rounds,
            },
        )
        imports = (
            sum(1 for r in server.sandbox.requests if r.method == "POST" and r.path.endswith("/import.json"))
            // args.write_rounds
        )
        server_s = server.handler_s() / args.write_rounds
    bench.report.records.append(
        {"scenario": "write", "result": result, "import_requests": imports, "server_s": server_s}
    )
    expected = math.ceil(args.write_rows / IMPORT_LIMIT)
    if "error" in result:
        bench.say("   " + result["error"])
        bench.report.row("write upsert", args.write_rows, result, args.write_rows, expected, imports)
        bench.report.check("write finished", False, result["error"].splitlines()[-1])
        return
    report_write(bench, result, expected, imports, server_s)


def report_write(bench: Bench, result: dict[str, Any], expected: int, imports: int, server_s: float) -> None:
    """Print the three timings, add their rows and the write targets."""
    args, report = bench.args, bench.report
    calls, added = result["calls_s"], result["wall_s"] - result["calls_s"]
    bench.say(
        f"   medians of {args.write_rounds} rounds: upsert {result['wall_s']:.2f} s; the same {expected} imports"
        f" alone {calls:.2f} s, so the local work adds {added:.2f} s; that work alone (dry run) takes"
        f" {result['dry_run_s']:.2f} s of CPU. Sandbox handler time {server_s:.1f} s a round; the worker's"
        f" CPU {result['cpu_s']:.1f} s in all;"
        f" {result['new']:,} new, {result['updated']:,} updated, {result['rejected']:,} rejected"
        + (f" e.g. {result['rejections_sample']}" if result["rejected"] else "")
    )
    rows = args.write_rows
    report.row("write upsert", rows, result, rows, expected, imports, note=f"adds {added:.2f} s to the calls")
    report.row(
        "write calls alone",
        rows,
        {**result, "wall_s": calls},
        rows,
        expected,
        None,
        note="same bodies, 1 session, twin sandbox",
    )
    report.row(
        "write dry run",
        rows,
        {**result, "wall_s": result["dry_run_s"]},
        rows,
        None,
        None,
        note="validation, E.164, batching; 1 GET customfields",
    )
    report.check(
        f"write: {rows:,} rows in {expected} import calls",
        imports == expected and result["imports_sent"] == expected,
        f"{imports} import requests ({result['imports_sent']} reported)",
    )
    report.check(
        f"write: local work adds ≤ {targets.WRITE_OVERHEAD:.0%} to the calls' time",
        calls > 0 and added <= targets.WRITE_OVERHEAD * calls,
        f"upsert {result['wall_s']:.2f} s vs calls alone {calls:.2f} s (+{added / calls:.0%});"
        f" the local work's own CPU time is {result['dry_run_s']:.2f} s"
        f" ({result['dry_run_s'] / calls:.0%} of the calls), mostly hidden behind them"
        if calls > 0
        else "calls took no time",
    )
    report.check("write: no row rejected", result["rejected"] == 0, f"{result['rejected']} rejected")
