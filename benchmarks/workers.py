"""What runs inside a worker process: the floor, the connector's load and the upsert.

Each is started by ``runner.Bench.start`` as a fresh ``subscribers.py --worker KIND SPEC`` process in
a temp dir of its own, reads its spec (a JSON file: the sandbox's URL and key, what to do) and prints
one line, ``RESULT_MARKER`` and its figures as JSON. Nothing here imports the sandbox.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dlt
import requests

from benchmarks.memory import RssSampler, peak_rss_mb, process_cpu_s
from cm_source import TABLES, UpsertSettings, campaign_monitor_source, mirror_list, upsert_subscribers
from cm_source.api_facts import MAX_PAGE_SIZE, SUBSCRIBER_PARAMS, SUBSCRIBER_STATES
from cm_source.write.custom_fields import CustomFields
from cm_source.write.imports import import_body
from cm_source.write.rows import prepare, subscriber_batches

CONCURRENCY_ENV = "SOURCES__CAMPAIGN_MONITOR__MAX_CONCURRENT_REQUESTS"
DATASET = "campaign_monitor_data"
PIPELINE_NAME = "cm_benchmark"
# dlt's for destination="duckdb"; not the dataset's name, which DuckDB would find ambiguous
DUCKDB_FILE = f"{PIPELINE_NAME}.duckdb"
RESULT_MARKER = "BENCHMARK-RESULT "
Spec = dict[str, Any]


def list_state(table: str) -> str | None:
    """ "Active" for active_subscribers …: the list state a table holds; None for any other table
    (segment_subscribers too, which is not a list state)."""
    state = table.removesuffix("_subscribers").capitalize()
    return state if table.endswith("_subscribers") and state in SUBSCRIBER_STATES else None


def worker_floor(spec: Spec) -> dict[str, Any]:
    """The floor: one keep-alive session fetching and JSON-decoding every page; nothing else."""
    baseline = peak_rss_mb()
    session = requests.Session()
    session.auth = (spec["api_key"], "x")
    rows = sent = 0
    started, cpu_started = time.perf_counter(), process_cpu_s()
    for path in spec["paths"]:
        page = 1
        while True:
            response = session.get(
                f"{spec['base_url']}/{path}",
                params={**SUBSCRIBER_PARAMS, "page": page, "pagesize": MAX_PAGE_SIZE},
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
        "cpu_s": process_cpu_s() - cpu_started,
        "rows": rows,
        "requests": sent,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
    }


def worker_fan_out_floor(spec: Spec) -> dict[str, Any]:
    """The fan-out's floor: the requests the connector sent (path and query, as recorded), sent by
    ``threads`` threads at once, each on a keep-alive session of its own, and JSON-decoded; nothing else."""
    baseline = peak_rss_mb()
    local = threading.local()

    def fetch(request: list[Any]) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.auth = (spec["api_key"], "x")
        response = local.session.get(f"{spec['base_url']}/{request[0].lstrip('/')}", params=request[1], timeout=300)
        response.raise_for_status()
        response.json()
        return 1

    started, cpu_started = time.perf_counter(), process_cpu_s()
    with ThreadPoolExecutor(spec["threads"]) as pool:
        sent = sum(pool.map(fetch, spec["requests"]))
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": process_cpu_s() - cpu_started,
        "requests": sent,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
    }


def worker_load(spec: Spec) -> dict[str, Any]:
    """The connector's load of the list-state tables (or the spec's ``tables``) as a dlt user runs it:

        pipeline = dlt.pipeline(pipeline_name=..., destination="duckdb", dataset_name=...)
        pipeline.run(campaign_monitor_source(api_key=..., base_url=...).with_resources(...))

    No loader file format, replace strategy, DuckDB setting or environment variable of ours: dlt's
    DuckDB file (DUCKDB_FILE) lands in the worker's dir, and so does the pipelines dir (so no run reads
    another's state). cProfiled when the spec says ``profile``; with ``incremental`` an incremental run,
    which the next worker started in the same dir carries on from."""
    baseline = peak_rss_mb()
    tables = spec.get("tables") or [name for name in TABLES if list_state(name)]
    options = {"incremental": True} if spec.get("incremental") else {}
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination="duckdb",
        dataset_name=DATASET,
        pipelines_dir=str(Path.cwd() / "pipelines"),
    )
    sampler = RssSampler()
    sampler.start()
    profiler = cProfile.Profile() if spec.get("profile") else None
    if profiler is not None:
        profiler.enable()
    started, cpu_started = time.monotonic(), process_cpu_s()
    pipeline.run(
        campaign_monitor_source(api_key=spec["api_key"], base_url=spec["base_url"], **options).with_resources(*tables)
    )
    finished, cpu = time.monotonic(), process_cpu_s() - cpu_started
    if profiler is not None:
        profiler.disable()
    sampler.finish()
    result = {
        "wall_s": finished - started,
        "started_at": started,
        "finished_at": finished,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
        "tables": tables,
        "max_concurrent_requests_env": os.environ.get(CONCURRENCY_ENV),
        "steps": step_figures(pipeline, sampler),
        "duckdb": str(Path.cwd() / DUCKDB_FILE),
    }
    if profiler is not None:
        result.update(profile_figures(profiler, Path(spec["workdir"])))
    return result


def step_figures(pipeline: Any, sampler: RssSampler) -> list[dict[str, Any]]:
    """Each step of the pipeline's last run (extract, normalize, load, run): its time and highest RSS."""
    steps = []
    for step in pipeline.last_trace.steps:
        if step.started_at is None or step.finished_at is None:
            continue
        begin, end = step.started_at.timestamp(), step.finished_at.timestamp()
        steps.append({"step": step.step, "s": end - begin, "peak_rss_mb": sampler.peak_between(begin, end)})
    return steps


def profile_figures(profiler: cProfile.Profile, workdir: Path) -> dict[str, str]:
    """The top 15 functions by cumulative and by own time; the whole profile is left in load.prof."""
    figures = {}
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(15)
        figures[f"profile_{order}"] = text.getvalue()
    profiler.dump_stats(str(workdir / "load.prof"))
    return figures


def write_rows(spec: Spec) -> list[dict[str, Any]]:
    """Rows as a user would hand them over: names, two custom fields the list has, and mobile numbers, a
    third of them in national (GB) format, a third already E.164; some rows update existing subscribers."""
    existing = spec["existing_emails"]
    rows = []
    for number in range(spec["rows"]):
        email = existing[number] if number < len(existing) else f"bench.writer.{number}@example.com"
        row: dict[str, Any] = {
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


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds ``action`` took, what it returned)."""
    started = time.perf_counter()
    outcome = action()
    return time.perf_counter() - started, outcome


def worker_write(spec: Spec) -> dict[str, Any]:
    """The write side three ways: local work alone (a dry run: validation, E.164, batching); the calls
    alone (the same import bodies posted one after another on one keep-alive session, to a twin sandbox
    in the same state); and the real upsert. What the local work adds is the upsert less the calls.
    The three alternate for ``rounds`` rounds (medians reported): this machine's timings wander."""
    baseline = peak_rss_mb()
    rows, list_id = write_rows(spec), spec["list_id"]
    settings = UpsertSettings(default_region="GB")
    common = {"api_key": spec["api_key"], "base_url": spec["base_url"], "settings": settings}
    session = requests.Session()
    session.auth = (spec["twin_api_key"], "x")
    fields = CustomFields(list_id, session.get(f"{spec['twin_base_url']}/lists/{list_id}/customfields.json").json())
    bodies = [import_body(batch, settings) for batch in subscriber_batches(prepare(rows, fields), fields, settings)]
    url = f"{spec['twin_base_url']}/subscribers/{list_id}/import.json"

    def calls_alone() -> None:
        for body in bodies:
            session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=300).raise_for_status()

    dry_s, calls_s, wall_s, reports = [], [], [], []
    for _ in range(spec["rounds"]):
        seconds, dry = timed(lambda: upsert_subscribers(rows, list_id, dry_run=True, **common))
        dry_s.append(seconds)
        calls_s.append(timed(calls_alone)[0])
        seconds, report = timed(lambda: upsert_subscribers(rows, list_id, **common))
        wall_s.append(seconds)
        reports.append(report)
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
        "cpu_s": process_cpu_s(),
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
    }


def worker_replay(spec: Spec) -> dict[str, Any]:
    """The requests a mirror sent (the spec's ``requests``), sent again to a twin sandbox in the same state:
    reads and imports one after another on one keep-alive session, removals from ``concurrency`` threads
    with a session each, as the mirror sends them."""
    base_url, api_key, requests_made, concurrency = (
        spec["base_url"],
        spec["api_key"],
        spec["requests"],
        spec["concurrency"],
    )
    session = requests.Session()
    session.auth = (api_key, "x")
    sessions = threading.local()

    def send(request: dict[str, Any], on: requests.Session) -> None:
        on.request(
            request["method"], base_url + request["path"], params=request["query"], json=request["body"], timeout=300
        ).raise_for_status()

    def remove(request: dict[str, Any]) -> None:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
            sessions.session.auth = (api_key, "x")
        send(request, sessions.session)

    removals = [r for r in requests_made if r["method"] == "DELETE" or r["path"].endswith("/unsubscribe.json")]
    started = time.perf_counter()
    for request in requests_made:
        if request not in removals:
            send(request, session)
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(remove, removals))
    return {"wall_s": time.perf_counter() - started, "cpu_s": process_cpu_s(), "peak_rss_mb": peak_rss_mb()}


def worker_mirror(spec: Spec) -> dict[str, Any]:
    """The mirror three ways: a dry run (reading the list, the plan, validation and conversion; nothing
    sent); the real mirror; and the same requests alone, replayed by the parent against a twin sandbox
    (``replay``). Rows: the spec's ``keep`` members (renamed) and ``new`` addresses."""
    baseline = peak_rss_mb()
    rows = [{"email_address": email, "name": "Mirrored"} for email in spec["keep"]]
    rows += [{"email_address": f"bench.mirror.{number}@example.com", "name": "New"} for number in range(spec["new"])]
    common = {"api_key": spec["api_key"], "base_url": spec["base_url"], "max_removals": spec["max_removals"]}
    dry_s, planned = timed(lambda: mirror_list(rows, spec["list_id"], dry_run=True, **common))
    cpu_before = process_cpu_s()
    wall_s, report = timed(lambda: mirror_list(rows, spec["list_id"], **common))
    return {
        "rows": len(rows),
        "dry_run_s": dry_s,
        "wall_s": wall_s,
        "cpu_s": process_cpu_s() - cpu_before,
        "plan": {"add": len(planned.plan.add), "update": len(planned.plan.update), "remove": len(planned.plan.remove)},
        "new": report.upsert.new,
        "updated": report.upsert.updated,
        "removed": report.removals.done,
        "refused": report.refused,
        "not_found": len(report.removals.not_found),
        "imports_sent": report.upsert.imports_sent,
        "removal_requests": report.removals.requests_sent,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
    }


WORKERS: dict[str, Callable[[Spec], dict[str, Any]]] = {
    "floor": worker_floor,
    "load": worker_load,
    "write": worker_write,
    "fan_out_floor": worker_fan_out_floor,
    "mirror": worker_mirror,
    "replay": worker_replay,
}


def run_as_worker(kind: str, spec_path: str) -> None:
    """Run worker ``kind`` on the spec in ``spec_path`` and print its result line."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    result = WORKERS[kind](spec)
    print(RESULT_MARKER + json.dumps(result), flush=True)
