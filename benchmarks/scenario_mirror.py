"""Mirror: a list of members made equal to an audience of as many rows, a tenth of them new (so a tenth of
the members leave): requests sent (reads, imports, removals), wall time, the same requests alone against
a twin sandbox in the same state, and a dry run (the local work and the list read)."""

from __future__ import annotations

import math
from typing import Any

from benchmarks.runner import Bench, TimedSandbox
from cm_source.api_facts import IMPORT_LIMIT
from cm_source.http import DEFAULT_MAX_CONCURRENT_REQUESTS
from cm_source.sandbox import Account, Sandbox, generate_account
from cm_source.write.members import MEMBER_STATES

CHANGED_SHARE = 0.10


def mirror_account(members: int) -> Account:
    """One client whose first list has about ``members`` Active and Unconfirmed rows (the generator gives
    the first list 93% of the subscribers as members); unsubscribing leaves only that list."""
    account = generate_account(seed=11, clients=1, lists_per_client=2, subscribers=int(members / 0.93))
    account.list_details[first_list(account)]["UnsubscribeSetting"] = "OnlyThisList"
    return account


def first_list(account: Account) -> str:
    return account.lists[account.clients[0]["ClientID"]][0]["ListID"]


def run(bench: Bench) -> None:
    account = mirror_account(bench.args.mirror_members)
    list_id = first_list(account)
    members = [row["EmailAddress"] for state in MEMBER_STATES for row in account.subscribers[list_id][state]]
    changed = int(len(members) * CHANGED_SHARE)
    keep = members[changed:]
    bench.say(
        f"\n== mirror: a list of {len(members):,} members mirrored to {len(members):,} rows,"
        f" {changed:,} of them new ({changed:,} members leave)"
    )
    with TimedSandbox(account) as server, Sandbox(mirror_account(bench.args.mirror_members)) as twin:
        result = bench.worker(
            "mirror", {**server.spec, "list_id": list_id, "keep": keep, "new": changed, "max_removals": changed}
        )
        server_s = server.handler_s()
        if "error" in result:
            bench.say("   " + result["error"])
            bench.report.check("mirror finished", False, result["error"].splitlines()[-1])
            return
        real = real_run_requests(server.sandbox.requests)
        calls = bench.worker(
            "replay",
            {
                "base_url": twin.base_url,
                "api_key": twin.api_key,
                "requests": real,
                "concurrency": bench.args.concurrency or DEFAULT_MAX_CONCURRENT_REQUESTS,
            },
        )
    if "error" in calls:
        bench.say("   " + calls["error"])
        bench.report.check("mirror calls alone finished", False, calls["error"].splitlines()[-1])
        return
    report_mirror(bench, result, real, calls["wall_s"], server_s, changed)


def real_run_requests(sent: list[Any]) -> list[dict[str, Any]]:
    """The requests of the real mirror: what the worker sent after its dry run's reads (the dry run reads
    the custom fields and the list, then the real run does the same again)."""
    requests_made = [{"method": r.method, "path": r.path, "query": r.query, "body": r.body} for r in sent]
    dry_reads = next(n for n, r in enumerate(requests_made) if n and r["path"].endswith("/customfields.json"))
    return requests_made[dry_reads:]


def report_mirror(
    bench: Bench, result: dict[str, Any], real: list[dict[str, Any]], calls_s: float, server_s: float, changed: int
) -> None:
    reads = sum(r["method"] == "GET" for r in real)
    imports = sum(r["path"].endswith("/import.json") for r in real)
    removals = len(real) - reads - imports
    added = result["wall_s"] - calls_s
    bench.say(
        f"   requests: {reads} reads, {imports} imports, {removals:,} removals; mirror {result['wall_s']:.1f} s,"
        f" the same requests alone {calls_s:.1f} s, so the local work adds {added:.1f} s"
        f" ({added / calls_s:+.0%}); a dry run (read + plan + conversion) {result['dry_run_s']:.1f} s;"
        f" sandbox handler time {server_s:.1f} s over both runs; the worker's CPU {result['cpu_s']:.1f} s;"
        f" plan {result['plan']}; {result['new']:,} new, {result['updated']:,} updated, {result['removed']:,}"
        f" removed, {result['refused']} refused, {result['not_found']} not found"
    )
    report = bench.report
    rows = result["rows"]
    report.row("mirror", rows, result, rows, None, len(real), note=f"adds {added:.1f} s to the calls")
    report.row("mirror calls alone", rows, {**result, "wall_s": calls_s}, rows, None, None, note="same requests, twin")
    report.check(
        f"mirror: {math.ceil(rows / IMPORT_LIMIT)} imports and {changed:,} removals",
        imports == math.ceil(rows / IMPORT_LIMIT) and removals == changed == result["removed"],
        f"{imports} imports, {removals:,} removal requests, {result['removed']:,} removed",
    )
    report.check(
        "mirror: the plan is what the run did",
        result["plan"] == {"add": result["new"], "update": result["updated"], "remove": result["removed"]},
        f"plan {result['plan']}",
    )
