#!/usr/bin/env python
"""Subscriber read/write benchmark of the connector against the local sandbox. Run by hand:

    /work/venv/bin/python benchmarks/subscribers.py                      # 100k and 1M, every scenario
    /work/venv/bin/python benchmarks/subscribers.py --sizes 20000 100000 # quicker
    /work/venv/bin/python benchmarks/subscribers.py --only floor,load --subscribers 1000000
    /work/venv/bin/python benchmarks/subscribers.py --only load --sizes 100000 --profile

The sandbox runs in this process (a thread); the floor, the connector's load and the upsert each run
in a fresh subprocess, so each peak RSS is that worker's own. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from cm_source.api_facts import MAX_PAGE_SIZE as PAGE_SIZE  # noqa: E402
from cm_source.api_facts import SUBSCRIBER_PARAMS  # noqa: E402
from cm_source.api_facts import SUBSCRIBER_STATES as STATES  # noqa: E402

CONCURRENCY_ENV = "SOURCES__CAMPAIGN_MONITOR__MAX_CONCURRENT_REQUESTS"
DATASET = "campaign_monitor_data"
DUCKDB_FILE = "bench_warehouse.duckdb"  # not the dataset's name: DuckDB would find the reference ambiguous
RESULT_MARKER = "BENCHMARK-RESULT "
SCENARIOS = ("floor", "load", "latency", "ratelimit", "write")

# Targets from the issue.
TARGET_LOAD_VS_FLOOR = 2.0
TARGET_PEAK_RSS_MB = 500.0
TARGET_MEMORY_GROWTH = 1.5
TARGET_LATENCY_SPEEDUP = 3.0
TARGET_RATE_SHARE = 0.8  # "close to the allowed rate": at least this share of it
TARGET_MAX_429_SHARE = 0.10  # "no storm of 429s": at most this share of all requests
TARGET_WRITE_OVERHEAD = 0.25  # "well under the time of the calls": local work at most this share of it


def peak_rss_mb() -> float:
    """This process's peak resident set size so far: VmHWM, the high-water mark of its own address space.

    Not getrusage's ru_maxrss: Linux carries that over from the parent across fork+exec, so every worker
    would report at least the sandbox process's RSS at the moment it was started (1.9 GB at 1M rows).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu_s() -> float:
    """CPU seconds this process has used, every thread counted."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


# ==================================================================================================
# Workers: each runs in its own fresh process and prints one JSON result line
# ==================================================================================================


def worker_floor(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The floor: one keep-alive session fetching and JSON-decoding every page; nothing else."""
    import requests

    baseline = peak_rss_mb()
    session = requests.Session()
    session.auth = (spec["api_key"], "x")
    rows = sent = 0
    started = time.perf_counter()
    for path in spec["paths"]:
        page = 1
        while True:
            response = session.get(
                f"{spec['base_url']}/{path}",
                params={**SUBSCRIBER_PARAMS, "page": page, "pagesize": PAGE_SIZE},
                timeout=300,
            )
            sent += 1
            response.raise_for_status()
            body = response.json()
            rows += len(body["Results"])
            if page >= int(body["NumberOfPages"]):
                break
            page += 1
    return {
        "wall_s": time.perf_counter() - started,
        "rows": rows,
        "requests": sent,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
    }


class RssSampler(threading.Thread):
    """Samples this process's RSS ten times a second, so peaks can be put down to dlt's steps."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: List[Tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.time(), current_rss_mb()))
            self.stop.wait(0.1)

    def peak_between(self, start: float, end: float) -> Optional[float]:
        inside = [rss for moment, rss in self.samples if start <= moment <= end]
        return max(inside) if inside else None


def is_list_state_table(name: str) -> bool:
    """active_subscribers … deleted_subscribers: a list's subscribers in one state (not e.g. segment_subscribers)."""
    return name.endswith("_subscribers") and name.removesuffix("_subscribers").capitalize() in STATES


def worker_load(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The connector's full load of the subscriber tables into DuckDB, as the project's pipeline does it
    (parquet files, insert-from-staging replace), in a pipelines dir of its own."""
    import inspect

    import dlt

    from cm_source import campaign_monitor_source
    from cm_source.read.destinations import destination_for

    baseline = peak_rss_mb()
    workdir = Path(spec["workdir"])
    supports_concurrency = "max_concurrent_requests" in inspect.signature(campaign_monitor_source).parameters
    source = campaign_monitor_source(api_key=spec["api_key"], base_url=spec["base_url"])
    tables = [name for name in source.resources if is_list_state_table(name)]
    source = source.with_resources(*tables)
    destination = destination_for("duckdb", str(workdir / DUCKDB_FILE))  # as pipelines/campaign_monitor_pipeline.py
    pipeline = dlt.pipeline(
        pipeline_name="cm_benchmark",
        destination=destination,
        dataset_name=DATASET,
        pipelines_dir=str(workdir / "pipelines"),
    )
    sampler = RssSampler()
    sampler.start()
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu_started = time.perf_counter(), process_cpu_s()
    pipeline.run(source, loader_file_format="parquet")
    wall, cpu = time.perf_counter() - started, process_cpu_s() - cpu_started
    if profiler is not None:
        profiler.disable()
    sampler.stop.set()
    sampler.join()
    steps = []
    for step in pipeline.last_trace.steps:
        if step.started_at is None or step.finished_at is None:
            continue
        begin, end = step.started_at.timestamp(), step.finished_at.timestamp()
        steps.append({"step": step.step, "s": end - begin, "peak_rss_mb": sampler.peak_between(begin, end)})
    result = {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
        "tables": tables,
        "supports_max_concurrent_requests": supports_concurrency,
        "max_concurrent_requests_env": os.environ.get(CONCURRENCY_ENV),
        "steps": steps,
        "duckdb": str(workdir / DUCKDB_FILE),
    }
    if profiler is not None:
        import io
        import pstats

        for order in ("cumulative", "tottime"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(15)
            result[f"profile_{order}"] = text.getvalue()
        profiler.dump_stats(str(workdir / "load.prof"))
    return result


def write_rows(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Rows as a user would hand them over: names, two custom fields the list has, and mobile numbers, a
    third of them in national (GB) format, a third already E.164; some rows update existing subscribers."""
    existing = spec["existing_emails"]
    rows = []
    for number in range(spec["rows"]):
        email = existing[number] if number < len(existing) else f"bench.writer.{number}@example.com"
        row: Dict[str, Any] = {
            "email_address": email,
            "name": f"Writer {number}",
            "website": f"https://w{number}.example.com",
            "age": 18 + number % 60,
        }
        if number % 3 == 0:
            row["mobile_number"] = f"07700 9{number % 100000:05d}"  # national: needs default_region GB
        elif number % 3 == 1:
            row["mobile_number"] = f"+614{number % 100000000:08d}"
        rows.append(row)
    return rows


def worker_write(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The write side three ways: local work alone (a dry run: validation, E.164, batching); the calls
    alone (the same import bodies posted one after another on one keep-alive session, to a twin sandbox
    in the same state); and the real upsert. What the local work adds is the upsert less the calls.
    Calls and upsert alternate for ``rounds`` rounds (medians reported): this machine's timings wander."""
    import statistics

    import requests

    from cm_source import UpsertSettings, upsert_subscribers
    from cm_source.write.custom_fields import CustomFields
    from cm_source.write.imports import import_body, prepare, subscriber_batches

    baseline = peak_rss_mb()
    rows = write_rows(spec)
    settings = UpsertSettings(default_region="GB")
    common = {"api_key": spec["api_key"], "base_url": spec["base_url"], "settings": settings}
    session = requests.Session()
    session.auth = (spec["twin_api_key"], "x")
    url = f"{spec['twin_base_url']}/subscribers/{spec['list_id']}/import.json"
    fields = CustomFields(spec["list_id"], session.get(f"{spec['twin_base_url']}/lists/{spec['list_id']}/customfields.json").json())
    prepared = prepare(rows, fields)
    bodies = [import_body(batch, settings) for batch in subscriber_batches(prepared, fields, settings)]
    dry_s, calls_s, wall_s, reports = [], [], [], []
    for _ in range(spec["rounds"]):
        started = time.perf_counter()
        dry = upsert_subscribers(rows, spec["list_id"], dry_run=True, **common)
        dry_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        for body in bodies:
            session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=300).raise_for_status()
        calls_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        reports.append(upsert_subscribers(rows, spec["list_id"], **common))
        wall_s.append(time.perf_counter() - started)
    first = reports[0]  # later rounds update the rows the first one added
    return {
        "rows": len(rows),
        "rounds": spec["rounds"],
        "dry_run_s": statistics.median(dry_s),
        "calls_s": statistics.median(calls_s),
        "wall_s": statistics.median(wall_s),
        "each_round": {"dry_run_s": dry_s, "calls_s": calls_s, "upsert_s": wall_s},
        "imports_sent": first.imports_sent,
        "new": first.new,
        "updated": first.updated,
        "rejected": max(len(report.rejected) for report in reports),
        "dry_rejected": len(dry.rejected),
        "rejections_sample": [f"{r.code} {r.message}" for r in first.rejected[:3]],
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
    }


WORKERS = {"floor": worker_floor, "load": worker_load, "write": worker_write}


def run_as_worker(kind: str, spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    result = WORKERS[kind](spec)
    print(RESULT_MARKER + json.dumps(result), flush=True)


# ==================================================================================================
# The sandbox side (this process)
# ==================================================================================================


def release(*objects: Any) -> None:
    """Forget a finished sandbox's account and collect, so that its rows do not outlive it (a live 1M
    account in this process slows every later sandbox down through GC)."""
    del objects
    gc.collect()


class Recorder:
    """Times every request the sandbox answers through its on_served hook: handling (routing, auth,
    handler, any latency fault) and encoding the answer. Pass ``record`` as the Sandbox's on_served."""

    def __init__(self) -> None:
        self.events: List[Tuple[float, float, int]] = []  # (start, end of handling, status)
        self.encode_s = 0.0

    def record(self, served: Any) -> None:
        self.events.append((served.started, served.started + served.handled_s, served.status))
        self.encode_s += served.encoded_s

    def reset(self, sandbox: Any) -> None:
        sandbox.requests.clear()
        self.events.clear()
        self.encode_s = 0.0

    def server_s(self) -> float:
        return sum(end - start for start, end, _ in self.events)

    def span_s(self) -> float:
        if not self.events:
            return 0.0
        return max(end for _, end, _ in self.events) - min(start for start, _, _ in self.events)


def build_account(subscribers: int, lists: int, layout: str, seed: int = 7) -> Any:
    """`lists` non-empty lists in one client (plus the empty list the generator always puts last).

    generator: as generate_account spreads them (the first list takes 80%).
    even: every list gets an equal share, each generated on its own (so addresses stay unique per list).
    """
    from cm_source.sandbox import generate_account

    if layout == "generator":
        return generate_account(seed=seed, clients=1, lists_per_client=lists + 1, subscribers=subscribers)
    account = generate_account(seed=seed, clients=1, lists_per_client=lists + 1, subscribers=0)
    list_ids = [row["ListID"] for row in account.lists[account.clients[0]["ClientID"]]]
    for number, list_id in enumerate(list_ids[:lists]):
        share = subscribers // lists + (1 if number < subscribers % lists else 0)
        part = generate_account(seed=seed + 1 + number, clients=1, lists_per_client=2, subscribers=share)
        first = part.lists[part.clients[0]["ClientID"]][0]["ListID"]
        account.subscribers[list_id] = part.subscribers[first]
    return account


def layout_text(account: Any, states: List[str]) -> str:
    sizes = [sum(len(members[state]) for state in states) for members in account.subscribers.values()]
    per_state = {state: sum(len(m[state]) for m in account.subscribers.values()) for state in states}
    shown = ", ".join(f"{size:,}" for size in sizes)
    return f"rows per list [{shown}]; per state {', '.join(f'{s} {n:,}' for s, n in per_state.items())}"


def subscriber_paths(account: Any, states: List[str]) -> List[str]:
    return [
        f"lists/{list_id}/{state.lower()}.json"
        for client in account.clients
        for row in account.lists[client["ClientID"]]
        for list_id in [row["ListID"]]
        for state in states
    ]


def changed_since_count(account: Any, rows: List[dict]) -> int:
    """Rows the connector's catch-up request returns: Date on or after the account's system date less one
    minute, at minute precision (see CampaignMonitorAPI.system_date)."""
    now = datetime.strptime(account.system_date, "%Y-%m-%d %H:%M:%S")
    since = (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M") + ":00"
    return sum(row["Date"] >= since for row in rows)


def expected_requests(account: Any, states: List[str]) -> Dict[str, int]:
    """The minimum, by get_pages in cm_source/api.py: every list-state at pagesize=1000, max(1, ceil(n/1000))
    pages; one catch-up request (rows changed since it began) after each list-state of several pages; one
    systemdate.json if there was any such read; clients.json and one lists.json per client."""
    pages = catch_up = 0
    for members in account.subscribers.values():
        for state in states:
            count = len(members[state])
            read = max(1, math.ceil(count / PAGE_SIZE))
            pages += read
            if read > 1:
                catch_up += max(1, math.ceil(changed_since_count(account, members[state]) / PAGE_SIZE))
    # clients.json, then per client its details (for its time zone) and lists.json; systemdate.json once
    other = 1 + 2 * len(account.clients) + (1 if catch_up else 0)
    return {"pages": pages, "catch_up": catch_up, "other": other, "total": pages + catch_up + other}


SUBSCRIBER_PATH = re.compile(r"^/lists/[^/]+/(active|unconfirmed|unsubscribed|bounced|deleted)\.json$")
ID_PATTERN = re.compile(r"[0-9a-f]{32}")


def classify_requests(requests: List[Any]) -> Dict[str, Any]:
    """Page reads, catch-ups and the rest; reads not at pagesize=1000; pages read twice; 429s."""
    pages = catch_up = limited = 0
    bad_size = 0
    seen: Counter = Counter()
    other: Counter = Counter()
    for request in requests:
        if request.fault is not None:
            limited += request.fault in ("rate_limit_window", "rate_limit")
            continue
        query = {name.lower(): value for name, value in request.query.items()}
        if SUBSCRIBER_PATH.match(request.path):
            if "date" in query:
                catch_up += 1
                continue
            pages += 1
            bad_size += query.get("pagesize") != str(PAGE_SIZE)
            seen[(request.path, query.get("page", "1"))] += 1
        else:
            other[f"{request.method} {ID_PATTERN.sub('{id}', request.path)}"] += 1
    return {
        "total": len(requests),
        "pages": pages,
        "catch_up": catch_up,
        "other": sum(other.values()),
        "other_by_path": dict(other),
        "not_pagesize_1000": bad_size,
        "read_twice": sum(count - 1 for count in seen.values() if count > 1),
        "rate_limited": limited,
    }


def sandbox_counts(account: Any, tables: List[str]) -> Dict[str, int]:
    return {
        table: sum(len(members[table.removesuffix("_subscribers").capitalize()]) for members in account.subscribers.values())
        for table in tables
    }


def duckdb_counts(path: str, tables: List[str]) -> Dict[str, Any]:
    import duckdb

    counts: Dict[str, Any] = {}
    with duckdb.connect(path, read_only=True) as connection:
        for table in tables:
            try:
                counts[table] = connection.execute(f"SELECT count(*) FROM {DATASET}.{table}").fetchone()[0]
            except duckdb.Error as error:
                counts[table] = f"error: {error}".splitlines()[0]
    return counts


def connector_states() -> Tuple[List[str], str]:
    """The states the connector loads: from its source's resources ending in _subscribers; from the
    endpoint catalogue if the source cannot be built (it is being edited)."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    try:
        from cm_source import campaign_monitor_source

        source = campaign_monitor_source(api_key="benchmark", base_url="http://127.0.0.1:9/api/v3.3")
        tables = [name for name in source.resources if name.endswith("_subscribers")]
        how = "the source's resources ending in _subscribers"
    except Exception as error:  # noqa: BLE001 - report and fall back
        from cm_source.read.catalogue import ENDPOINTS

        tables = [e.table for e in ENDPOINTS if e.table.endswith("_subscribers")]
        how = f"the endpoint catalogue (building the source failed: {type(error).__name__}: {error})"
    states = [table.removesuffix("_subscribers").capitalize() for table in tables]
    others = [table for table, state in zip(tables, states) if state not in STATES]
    if others:
        how += f"; not list states, left out: {', '.join(others)}"
    return [state for state in states if state in STATES], how


# ==================================================================================================
# Running workers
# ==================================================================================================


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: List[Dict[str, Any]] = []  # the figures table
        self.checks: List[Tuple[str, Optional[bool], str]] = []
        self.notes: List[str] = []
        self.records: List[Dict[str, Any]] = []
        self.workdirs: List[str] = []

    def worker(self, kind: str, spec: Dict[str, Any], concurrency: Optional[int] = None) -> Dict[str, Any]:
        workdir = tempfile.mkdtemp(prefix=f"cm-bench-{kind}-")
        self.workdirs.append(workdir)
        spec = {**spec, "workdir": workdir}
        spec_path = Path(workdir) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
        env.pop(CONCURRENCY_ENV, None)
        if concurrency is not None:
            env[CONCURRENCY_ENV] = str(concurrency)
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(spec_path)],
            cwd=workdir, env=env, capture_output=True, text=True,
        )
        process_s = time.perf_counter() - started
        lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_MARKER)]
        if process.returncode != 0 or not lines:
            tail = "\n".join((process.stderr or process.stdout).strip().splitlines()[-12:])
            return {"error": f"{kind} worker exited {process.returncode}:\n{tail}", "process_s": process_s}
        result = json.loads(lines[-1][len(RESULT_MARKER):])
        result["process_s"] = process_s
        return result

    def add_row(self, scenario: str, subscribers: int, result: Dict[str, Any], rows: int,
                expected: Optional[int], actual: Optional[int], floor_s: Optional[float] = None,
                note: str = "") -> None:
        wall = result.get("wall_s")
        self.rows.append({
            "scenario": scenario,
            "subscribers": subscribers,
            "wall_s": wall,
            "rows_per_s": rows / wall if wall else None,
            "peak_rss_mb": result.get("peak_rss_mb"),
            "requests": f"{'-' if expected is None else expected}/{'-' if actual is None else actual}",
            "x_floor": wall / floor_s if wall and floor_s else None,
            "note": note if "error" not in result else "FAILED: " + result["error"].strip().splitlines()[-1][:160],
        })

    def say(self, text: str) -> None:
        print(text, flush=True)

    # ---- scenarios -------------------------------------------------------------------------------

    def run_size(self, size: int, states: List[str], want_floor: bool, want_load: bool) -> Dict[str, Any]:
        from cm_source.sandbox import Sandbox

        args = self.args
        started = time.perf_counter()
        account = build_account(size, args.lists, args.layout)
        generated_s = time.perf_counter() - started
        total = sum(len(members[state]) for members in account.subscribers.values() for state in states)
        self.say(f"\n== {size:,} subscribers, {args.lists} lists ({args.layout} layout): generated in {generated_s:.1f} s,"
                 f" this process's RSS now {current_rss_mb():,.0f} MB (peak {peak_rss_mb():,.0f} MB)")
        self.say(f"   {layout_text(account, states)}")
        self.say(f"   the connector's states: {', '.join(states)} -> {total:,} rows to read")
        out: Dict[str, Any] = {"size": size, "rows": total, "generate_s": generated_s}
        expected = expected_requests(account, states)
        recorder = Recorder()
        with Sandbox(account, on_served=recorder.record) as sandbox:
            if args.latency:
                sandbox.faults.latency(args.latency)
            if args.rate_limit:
                sandbox.faults.rate_limit_window(args.rate_limit, per_seconds=1.0)
            spec = {"base_url": sandbox.base_url, "api_key": sandbox.api_key}
            floor_s = None
            if want_floor:
                recorder.reset(sandbox)
                self.say("   floor ...")
                floor = self.worker("floor", {**spec, "paths": subscriber_paths(account, states)})
                seen = classify_requests(sandbox.requests)
                floor.update(server_s=recorder.server_s(), encode_s=recorder.encode_s, requests_seen=seen)
                out["floor"] = floor
                if "error" not in floor:
                    floor_s = floor["wall_s"]
                    self.say(f"   floor: {floor_s:.1f} s, {floor['rows']:,} rows, peak RSS {floor['peak_rss_mb']:.0f} MB;"
                             f" sandbox handler time {floor['server_s']:.1f} s + JSON encoding {floor['encode_s']:.1f} s")
                else:
                    self.say("   " + floor["error"])
                self.add_row("floor", size, floor, total, expected["pages"], seen["total"], floor_s)
                self.checks.append((f"floor requests at {size:,}: exactly the pages", seen["total"] == expected["pages"]
                                    and not seen["read_twice"],
                                    f"expected {expected['pages']}, sent {seen['total']}"))
            if want_load:
                recorder.reset(sandbox)
                self.say("   connector load ...")
                load = self.worker("load", {**spec, "profile": False}, args.concurrency)
                seen = classify_requests(sandbox.requests)
                load.update(server_s=recorder.server_s(), encode_s=recorder.encode_s, requests_seen=seen,
                            expected_requests=expected)
                out["load"] = load
                self.report_load(size, load, account, states, expected, seen, total, floor_s)
        release()
        del account
        gc.collect()
        return out

    def report_load(self, size: int, load: Dict[str, Any], account: Any, states: List[str],
                    expected: Dict[str, int], seen: Dict[str, Any], total: int, floor_s: Optional[float]) -> None:
        if "error" in load:
            self.say("   " + load["error"])
            self.add_row("load", size, load, total, expected["total"], seen["total"], floor_s)
            self.checks.append((f"load at {size:,} finished", False, load["error"].splitlines()[-1]))
            return
        tables = load["tables"]
        loaded = duckdb_counts(load["duckdb"], tables)
        want = sandbox_counts(account, tables)
        load["loaded_rows"], load["sandbox_rows"] = loaded, want
        steps = ", ".join(
            f"{s['step']} {s['s']:.1f} s" + (f" (RSS up to {s['peak_rss_mb']:.0f} MB)" if s["peak_rss_mb"] else "")
            for s in load["steps"] if s["step"] != "run"
        )
        self.say(f"   load: {load['wall_s']:.1f} s, peak RSS {load['peak_rss_mb']:.0f} MB (after imports"
                 f" {load['baseline_rss_mb']:.0f} MB); {steps}")
        self.say(f"   sandbox handler time {load['server_s']:.1f} s + JSON encoding {load['encode_s']:.1f} s;"
                 f" max_concurrent_requests: {'supported' if load['supports_max_concurrent_requests'] else 'NOT an argument yet'},"
                 f" env {CONCURRENCY_ENV}={load['max_concurrent_requests_env'] or '(unset: connector default)'}")
        self.say(f"   requests expected {expected} / seen pages {seen['pages']}, catch-up {seen['catch_up']},"
                 f" other {seen['other_by_path']}, not pagesize=1000 {seen['not_pagesize_1000']},"
                 f" read twice {seen['read_twice']}, 429s {seen['rate_limited']}")
        self.say(f"   rows in DuckDB {loaded} vs sandbox {want}")
        self.add_row("load", size, load, total, expected["total"], seen["total"], floor_s)
        self.checks.append((f"load at {size:,}: rows in DuckDB equal the sandbox's", loaded == want,
                            f"{sum(v for v in loaded.values() if isinstance(v, int)):,} loaded vs {sum(want.values()):,}"))
        exact = (seen["total"] == expected["total"] and not seen["not_pagesize_1000"] and not seen["read_twice"])
        self.checks.append((f"load at {size:,}: requests exactly the minimum", exact,
                            f"expected {expected['total']} ({expected['pages']} pages + {expected['catch_up']} catch-up"
                            f" + {expected['other']} other), sent {seen['total']} ({seen['pages']} pages +"
                            f" {seen['catch_up']} catch-up + {seen['other']} other); {seen['not_pagesize_1000']} not at"
                            f" pagesize=1000, {seen['read_twice']} pages read twice"))

    def comparison_setup(self, states: List[str]) -> Tuple[Any, int, Dict[str, int], int]:
        """The latency and rate-limit scenarios' account (equal lists), its rows, the requests it needs,
        and the concurrency of the connector's concurrent side (its own default unless --concurrency)."""
        from cm_source.http import DEFAULT_MAX_CONCURRENT_REQUESTS

        account = build_account(self.args.compare_subscribers, self.args.compare_lists, "even")
        total = sum(len(members[state]) for members in account.subscribers.values() for state in states)
        return account, total, expected_requests(account, states), self.args.concurrency or DEFAULT_MAX_CONCURRENT_REQUESTS

    def run_latency(self, states: List[str]) -> None:
        from cm_source.sandbox import Sandbox

        args = self.args
        account, total, expected, concurrent = self.comparison_setup(states)
        self.say(f"\n== latency: {args.compare_subscribers:,} subscribers over {args.compare_lists} lists (even),"
                 f" {args.compare_latency * 1000:.0f} ms a request")
        self.say(f"   {layout_text(account, states)}; expected requests {expected}")
        results = {}
        recorder = Recorder()
        with Sandbox(account, on_served=recorder.record) as sandbox:
            sandbox.faults.latency(args.compare_latency)
            spec = {"base_url": sandbox.base_url, "api_key": sandbox.api_key}
            recorder.reset(sandbox)
            floor = self.worker("floor", {**spec, "paths": subscriber_paths(account, states)})
            self.add_row("latency floor (1 session)", args.compare_subscribers, floor, total, expected["pages"],
                         len(sandbox.requests))
            for label, concurrency in (("sequential", 1), ("concurrent", concurrent)):
                recorder.reset(sandbox)
                self.say(f"   connector, max_concurrent_requests={concurrency} ...")
                result = self.worker("load", {**spec}, concurrency)
                seen = classify_requests(sandbox.requests)
                result["requests_seen"] = seen
                results[label] = result
                if "error" in result:
                    self.say("   " + result["error"])
                else:
                    steps = ", ".join(f"{s['step']} {s['s']:.1f} s" for s in result["steps"] if s["step"] != "run")
                    self.say(f"   {label}: {result['wall_s']:.2f} s ({steps}; CPU {result['cpu_s']:.1f} s);"
                             f" {seen['total']} requests over"
                             f" {recorder.span_s():.2f} s: {seen['pages']} pages, {seen['catch_up']} catch-up,"
                             f" other {seen['other_by_path']}, read twice {seen['read_twice']}")
                self.add_row(f"latency load c={concurrency}", args.compare_subscribers, result, total,
                             expected["total"], seen["total"], floor.get("wall_s"))
        release()
        self.records.append({"scenario": "latency", "floor": floor, **results})
        seq, con = results["sequential"], results["concurrent"]
        if "error" in seq or "error" in con:
            self.checks.append(("latency: concurrent ≥ 3× sequential", False, "a run failed"))
            return
        # Reading is dlt's extract step; normalize and load (the same ~0.6 s of DuckDB work either way)
        # are not reading, so the target is checked on extract and the whole run is printed beside it.
        reading = {label: next(s["s"] for s in run["steps"] if s["step"] == "extract") for label, run in results.items()}
        speedup = reading["sequential"] / reading["concurrent"]
        whole = seq["wall_s"] / con["wall_s"]
        supported = con["supports_max_concurrent_requests"]
        self.checks.append((
            f"latency {args.compare_latency * 1000:.0f} ms, {args.compare_lists} lists: reading concurrently ≥"
            f" {TARGET_LATENCY_SPEEDUP:g}× faster than one at a time", speedup >= TARGET_LATENCY_SPEEDUP,
            f"extract {reading['sequential']:.2f} s / {reading['concurrent']:.2f} s = {speedup:.2f}× (c=1 vs c={concurrent});"
            f" whole run incl. normalize+load {seq['wall_s']:.2f} s / {con['wall_s']:.2f} s = {whole:.2f}×"
            f" (max_concurrent_requests {'supported' if supported else 'not an argument yet'})"))

    def run_rate_limit(self, states: List[str]) -> None:
        from cm_source.sandbox import Sandbox

        args = self.args
        account, total, expected, concurrent = self.comparison_setup(states)
        limit = args.compare_rate_limit
        self.say(f"\n== rate limit: {limit} requests/s (fixed 1 s window), {args.compare_subscribers:,} subscribers over"
                 f" {args.compare_lists} lists, connector max_concurrent_requests={concurrent}")
        recorder = Recorder()
        with Sandbox(account, on_served=recorder.record) as sandbox:
            sandbox.faults.rate_limit_window(limit, per_seconds=1.0)
            before = sandbox.faults.rate_limited_count
            result = self.worker("load", {"base_url": sandbox.base_url, "api_key": sandbox.api_key}, concurrent)
            seen = classify_requests(sandbox.requests)
            refused = sandbox.faults.rate_limited_count - before
            answered = [event for event in recorder.events if event[2] != 429]
            span = recorder.span_s()
        release()
        rate = len(answered) / span if span else 0.0
        result.update(requests_seen=seen, rate_per_s=rate, refused_429=refused, span_s=span)
        self.records.append({"scenario": "ratelimit", "limit": limit, "result": result})
        self.add_row(f"rate limit {limit}/s c={concurrent}", args.compare_subscribers, result, total,
                     expected["total"], seen["total"], note=f"{rate:.1f} req/s, {refused} × 429")
        self.say(f"   {len(answered)} answered + {refused} × 429 over {span:.1f} s: {rate:.2f} answered/s of {limit} allowed"
                 + (f"; FAILED: {result['error']}" if "error" in result else f"; load {result['wall_s']:.1f} s"))
        self.checks.append((f"rate limit {limit}/s: achieved ≥ {TARGET_RATE_SHARE:.0%} of the allowed rate",
                            "error" not in result and rate >= TARGET_RATE_SHARE * limit,
                            f"{rate:.2f} req/s answered of {limit}/s" + (" (the load FAILED)" if "error" in result else "")))
        self.checks.append((f"rate limit {limit}/s: 429s ≤ {TARGET_MAX_429_SHARE:.0%} of requests",
                            refused <= TARGET_MAX_429_SHARE * max(1, seen["total"]),
                            f"{refused} × 429 of {seen['total']} requests"))

    def run_write(self) -> None:
        from cm_source.sandbox import Sandbox, generate_account

        args = self.args

        def account() -> Any:  # the upsert's sandbox and the calls-only twin start in the same state
            return generate_account(seed=7, clients=1, lists_per_client=2, subscribers=args.write_existing)

        first = account()
        list_id = first.lists[first.clients[0]["ClientID"]][0]["ListID"]
        members = first.subscribers[list_id]
        existing = [row["EmailAddress"] for row in members["Active"]][: args.write_rows // 10]
        self.say(f"\n== write: {args.write_rows:,} rows upserted into a list of {sum(map(len, members.values())):,}"
                 f" ({len(existing):,} of the rows update existing subscribers); default_region GB")
        recorder = Recorder()
        with Sandbox(first, on_served=recorder.record) as sandbox, Sandbox(account()) as twin:
            result = self.worker("write", {"base_url": sandbox.base_url, "api_key": sandbox.api_key, "list_id": list_id,
                                           "twin_base_url": twin.base_url, "twin_api_key": twin.api_key,
                                           "rows": args.write_rows, "existing_emails": existing,
                                           "rounds": args.write_rounds})
            imports = sum(1 for r in sandbox.requests
                          if r.method == "POST" and r.path.endswith("/import.json")) // args.write_rounds
            server_s = recorder.server_s() / args.write_rounds
        release()
        self.records.append({"scenario": "write", "result": result, "import_requests": imports, "server_s": server_s})
        expected_imports = math.ceil(args.write_rows / 1000)
        if "error" in result:
            self.say("   " + result["error"])
            self.add_row("write upsert", args.write_rows, result, args.write_rows, expected_imports, imports)
            self.checks.append(("write finished", False, result["error"].splitlines()[-1]))
            return
        calls, added = result["calls_s"], result["wall_s"] - result["calls_s"]
        self.say(f"   medians of {args.write_rounds} rounds: upsert {result['wall_s']:.2f} s; the same {expected_imports} imports alone {calls:.2f} s, so the local"
                 f" work adds {added:.2f} s; that work alone (dry run) takes {result['dry_run_s']:.2f} s of CPU."
                 f" Sandbox handler time {server_s:.1f} s a round; {result['new']:,} new, {result['updated']:,} updated,"
                 f" {result['rejected']:,} rejected" + (f" e.g. {result['rejections_sample']}" if result["rejected"] else ""))
        self.add_row("write upsert", args.write_rows, result, args.write_rows, expected_imports, imports,
                     note=f"adds {added:.2f} s to the calls")
        self.add_row("write calls alone", args.write_rows, {**result, "wall_s": calls}, args.write_rows,
                     expected_imports, None, note="same bodies, 1 session, twin sandbox")
        self.add_row("write dry run", args.write_rows, {**result, "wall_s": result["dry_run_s"]}, args.write_rows,
                     None, None, note="validation, E.164, batching; 1 GET customfields")
        self.checks.append((f"write: {args.write_rows:,} rows in {expected_imports} import calls",
                            imports == expected_imports and result["imports_sent"] == expected_imports,
                            f"{imports} import requests ({result['imports_sent']} reported)"))
        self.checks.append((f"write: local work adds ≤ {TARGET_WRITE_OVERHEAD:.0%} to the calls' time",
                            calls > 0 and added <= TARGET_WRITE_OVERHEAD * calls,
                            f"upsert {result['wall_s']:.2f} s vs calls alone {calls:.2f} s (+{added / calls:.0%});"
                            f" the local work's own CPU time is {result['dry_run_s']:.2f} s"
                            f" ({result['dry_run_s'] / calls:.0%} of the calls), mostly hidden behind them"
                            if calls > 0 else "calls took no time"))
        self.checks.append(("write: no row rejected", result["rejected"] == 0, f"{result['rejected']} rejected"))

    def run_profile(self, states: List[str]) -> None:
        from cm_source.sandbox import Sandbox

        args = self.args
        account = build_account(args.profile_size, args.lists, args.layout)
        self.say(f"\n== cProfile of the load worker at {args.profile_size:,} (main thread only)")
        with Sandbox(account) as sandbox:
            result = self.worker("load", {"base_url": sandbox.base_url, "api_key": sandbox.api_key, "profile": True},
                                 args.concurrency)
        release()
        if "error" in result:
            self.say("   " + result["error"])
            return
        self.say(f"   profiled load {result['wall_s']:.1f} s (profiler overhead included)")
        for order in ("cumulative", "tottime"):
            self.say(f"\n-- top 15 by {order} --")
            self.say("\n".join(line for line in result[f"profile_{order}"].splitlines() if line.strip()))
        self.records.append({"scenario": "profile", "result": result})

    # ---- summary ---------------------------------------------------------------------------------

    def size_checks(self, sizes: List[Dict[str, Any]]) -> None:
        loads = [s for s in sizes if "load" in s and "error" not in s["load"]]
        if not loads:
            return
        largest = max(loads, key=lambda s: s["size"])
        if "floor" in largest and "error" not in largest["floor"]:
            ratio = largest["load"]["wall_s"] / largest["floor"]["wall_s"]
            self.checks.append((f"load at {largest['size']:,} within {TARGET_LOAD_VS_FLOOR:g}× the floor",
                                ratio <= TARGET_LOAD_VS_FLOOR,
                                f"{largest['load']['wall_s']:.1f} s / {largest['floor']['wall_s']:.1f} s = {ratio:.1f}×"))
        for s in loads:
            self.checks.append((f"load at {s['size']:,}: peak RSS < {TARGET_PEAK_RSS_MB:g} MB",
                                s["load"]["peak_rss_mb"] < TARGET_PEAK_RSS_MB, f"{s['load']['peak_rss_mb']:.0f} MB"))
        if len(loads) > 1:
            smallest = min(loads, key=lambda s: s["size"])
            growth = largest["load"]["peak_rss_mb"] / smallest["load"]["peak_rss_mb"]
            self.checks.append((f"memory at {largest['size']:,} ≤ {TARGET_MEMORY_GROWTH:g}× memory at {smallest['size']:,}",
                                growth <= TARGET_MEMORY_GROWTH,
                                f"{largest['load']['peak_rss_mb']:.0f} MB / {smallest['load']['peak_rss_mb']:.0f} MB = {growth:.2f}×"))

    def print_summary(self) -> None:
        def fmt(value: Any, spec: str) -> str:
            return "-" if value is None else format(value, spec)

        header = f"{'scenario':<28} {'subscribers':>11} {'wall s':>8} {'rows/s':>9} {'peak RSS MB':>11} {'requests exp/act':>17} {'x floor':>7}  note"
        self.say("\n" + header + "\n" + "-" * len(header))
        for row in self.rows:
            self.say(f"{row['scenario']:<28} {row['subscribers']:>11,} {fmt(row['wall_s'], '8.2f')} "
                     f"{fmt(row['rows_per_s'], '9,.0f')} {fmt(row['peak_rss_mb'], '11.0f')} {row['requests']:>17} "
                     f"{fmt(row['x_floor'], '7.1f')}  {row['note']}")
        self.say("\nTargets:")
        for name, passed, detail in self.checks:
            verdict = "n/a " if passed is None else ("PASS" if passed else "FAIL")
            self.say(f"  [{verdict}] {name}: {detail}")
        for note in self.notes:
            self.say(f"note: {note}")


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--subscribers", type=int, help="one size: total subscriber rows in the sandbox")
    sizes.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                       help="sizes to run floor and load at (default: 100000 1000000)")
    parser.add_argument("--lists", type=int, default=4, help="non-empty lists for floor/load (default 4)")
    parser.add_argument("--layout", choices=("generator", "even"), default="generator",
                        help="generator: generate_account's spread (first list 80%%); even: equal lists (default generator)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="per-request latency of the floor/load sandbox (default 0)")
    parser.add_argument("--rate-limit", type=int, default=None, metavar="N",
                        help="requests/s the floor/load sandbox allows (default: no limit)")
    parser.add_argument("--concurrency", type=int, default=None, metavar="N",
                        help=f"{CONCURRENCY_ENV} for the connector (default: unset for floor/load, i.e. the"
                             " connector's default, also for the concurrent side of latency/ratelimit)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios among {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--compare-subscribers", type=int, default=24_000, help="latency/ratelimit size (default 24000)")
    parser.add_argument("--compare-lists", type=int, default=12, help="latency/ratelimit lists (default 12, even)")
    parser.add_argument("--compare-latency", type=float, default=0.05, help="latency scenario, seconds (default 0.05)")
    parser.add_argument("--compare-rate-limit", type=int, default=10, help="ratelimit scenario, requests/s (default 10)")
    parser.add_argument("--write-rows", type=int, default=100_000, help="rows the write scenario upserts (default 100000)")
    parser.add_argument("--write-existing", type=int, default=20_000,
                        help="subscribers already on the sandbox list written to (default 20000)")
    parser.add_argument("--write-rounds", type=int, default=3,
                        help="rounds of calls-alone then upsert in the write scenario, medians reported (default 3)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one load (a separate, untimed run)")
    parser.add_argument("--profile-size", type=int, default=100_000, help="subscribers for --profile (default 100000)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the workers' temp dirs (DuckDB files, pipelines)")
    args = parser.parse_args(argv)
    args.sizes = [args.subscribers] if args.subscribers is not None else args.sizes
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--worker":
        run_as_worker(sys.argv[2], sys.argv[3])
        return 0
    args = parse_args(argv)
    command = " ".join(shlex.quote(part) for part in [sys.executable, *sys.argv])
    import dlt

    print(f"command: {command}")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, dlt {dlt.__version__},"
          f" {platform.platform()}; code: {REPO_ROOT}")
    bench = Bench(args)
    states, how = connector_states()
    print(f"subscriber states loaded by the connector (from {how}): {', '.join(states)}", flush=True)
    sizes: List[Dict[str, Any]] = []
    try:
        if "floor" in args.only or "load" in args.only:
            for size in args.sizes:
                sizes.append(bench.run_size(size, states, "floor" in args.only, "load" in args.only))
            bench.size_checks(sizes)
        if "latency" in args.only:
            bench.run_latency(states)
        if "ratelimit" in args.only:
            bench.run_rate_limit(states)
        if "write" in args.only:
            bench.run_write()
        if args.profile:
            bench.run_profile(states)
        print(f"\ncommand: {command}")
        bench.print_summary()
        if args.json:
            Path(args.json).write_text(json.dumps({"command": command, "sizes": sizes, "scenarios": bench.records,
                                                   "table": bench.rows, "checks": bench.checks}, indent=2, default=str))
    finally:
        if args.keep:
            print("kept: " + " ".join(bench.workdirs))
        else:
            for workdir in bench.workdirs:
                shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
