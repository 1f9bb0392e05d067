"""An incremental run against a full one: the subscriber tables of a large account read in full (the
first incremental run, which has no cursors yet), then a round of activity touching 1% of the
subscribers, then the incremental run as users get it (the rotating reconcile on, reconcile_runs=7); its
requests (slice pages apart from the changes) and wall time against the full run's, and every state table
compared key for key with the sandbox."""

from __future__ import annotations

import math
import tempfile
from typing import Any

import duckdb
import requests

from benchmarks import targets
from benchmarks.accounts import build_account
from benchmarks.runner import Bench, TimedSandbox
from benchmarks.scenario_load import cpu_text
from benchmarks.workers import DATASET, DUCKDB_FILE, list_state
from cm_source import TABLES
from cm_source.sandbox import Account, account_activity

CHANGED_SHARE = 0.01  # the "activity touching 1% of subscribers"


def run(bench: Bench) -> dict[str, Any]:
    size = max(bench.args.sizes)
    account = build_account(size, bench.args.lists, bench.args.layout)
    state_dir = tempfile.mkdtemp(prefix="cm-bench-incremental-")
    bench.workdirs.append(state_dir)
    bench.say(f"\n== incremental: {size:,} subscribers, {bench.args.lists} lists")
    with TimedSandbox(account) as server:
        full = bench.measure(server, "load", {"incremental": True}, workdir=state_dir)
        if "error" in full:
            bench.say(full["error"])
            return full
        changed = touch(account, size)
        bench.say(f"   activity: {changed:,} subscribers joined or moved ({changed / size:.1%})")
        warm_up(server, account)
        again = bench.measure(server, "load", {"incremental": True}, workdir=state_dir)
        if "error" in again:
            bench.say(again["error"])
            return again
    report(bench, size, full, again, exact_tables(account, f"{state_dir}/{DUCKDB_FILE}"))
    return {"full": full, "incremental": again}


def touch(account: Account, size: int) -> int:
    """One round of activity: on every list as many joins as moves of each kind, 1% of the account in all."""
    lists = sum(1 for states in account.subscribers.values() if any(states.values()))
    each = max(1, math.ceil(size * CHANGED_SHARE / (6 * max(lists, 1))))
    activity = account_activity(account, people=each, moves=each)
    return len(activity.joined) + len(activity.moved)


def warm_up(server: TimedSandbox, account: Account) -> None:
    """Ask once, untimed, for every list-state the activity changed, so the sandbox sorts it again now.

    The sandbox re-sorts a list-state in Python after every change (seconds for the big list, under its
    lock); the real API filters by date on its own index. Without this the incremental run measures
    the sandbox, not the connector.
    """
    with requests.Session() as session:
        session.auth = (server.sandbox.api_key, "x")
        for list_id, states in account.subscribers.items():
            for state in states:
                url = f"{server.sandbox.base_url}/lists/{list_id}/{state.lower()}.json"
                session.get(url, params={"page": 1, "pagesize": 10}).raise_for_status()


def exact_tables(account: Account, path: str) -> list[tuple[str, bool]]:
    """Each list-state table against the sandbox, by (list_id, email_address)."""
    verdicts = []
    with duckdb.connect(path, read_only=True) as connection:
        for table in (name for name in TABLES if list_state(name)):
            loaded = set(connection.execute(f"SELECT list_id, email_address FROM {DATASET}.{table}").fetchall())
            verdicts.append((table, loaded == truth(account, table)))
    return verdicts


def truth(account: Account, table: str) -> set[tuple[str, str]]:
    state = list_state(table)
    return {(list_id, row["EmailAddress"]) for list_id, states in account.subscribers.items() for row in states[state]}


def report(bench: Bench, size: int, full: dict[str, Any], again: dict[str, Any], exact: list[tuple[str, bool]]) -> None:
    full_requests, requests = full["requests_seen"]["total"], again["requests_seen"]["total"]
    changes = again["requests_seen"]["catch_up"] + again["requests_seen"]["other"]  # all but the slices' pages
    allowed = full_requests / targets.RECONCILE_RUNS + changes
    for name, result in (("incremental: full", full), ("incremental: changes", again)):
        bench.say(
            f"   {name}: {result['wall_s']:.1f} s, {result['requests_seen']['total']:,} requests,"
            f" peak RSS {result['peak_rss_mb']:.0f} MB; {cpu_text(result)}"
        )
        bench.report.row(name, size, result, size, None, result["requests_seen"]["total"])
    bench.report.check(
        f"incremental run with reconcile_runs={targets.RECONCILE_RUNS} sends ≤ 1/{targets.RECONCILE_RUNS} of the"
        " full run's requests plus the changes",
        requests <= allowed,
        f"{requests:,} ({again['requests_seen']['pages']:,} slice pages + {changes:,} for the changes) against"
        f" {allowed:,.0f} ({full_requests:,} / {targets.RECONCILE_RUNS} + {changes:,})",
    )
    bench.report.check(
        f"incremental run takes ≤ {targets.INCREMENTAL_WALL:.0%} of the full run's wall time",
        again["wall_s"] <= targets.INCREMENTAL_WALL * full["wall_s"],
        f"{again['wall_s']:.2f} s against {full['wall_s']:.2f} s ({again['wall_s'] / full['wall_s']:.1%})",
    )
    bench.report.check(
        "incremental run: every state table equals the sandbox's, key for key",
        all(ok for _, ok in exact),
        ", ".join(f"{table} {'=' if ok else '≠'}" for table, ok in exact),
    )
