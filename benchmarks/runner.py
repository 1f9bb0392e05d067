"""What every scenario shares: the server the workers read from (a sandbox process of its own; a sandbox
thread for the scenarios that change its account as they go), the workers and the ``cm-source`` command
run as fresh subprocesses, and the report (the figures table, the targets' verdicts, what ``--json`` writes)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.accounts import classify_requests
from benchmarks.memory import peak_rss_mb, process_cpu_s
from benchmarks.workers import CONCURRENCY_ENV, RESULT_MARKER
from cm_source.sandbox import Account, RecordedRequest, Sandbox, Served

REPO_ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINT = Path(__file__).resolve().with_name("subscribers.py")
COMMAND = Path(sys.executable).with_name("cm-source")  # the console script, as a user runs it
POLL_SECONDS = 0.02  # how often a running process's peak RSS is read and its exit looked for


# DuckDB held to 128 MB in the plain call, as docs/performance.md tells a Python user to (issue 38's
# memory target is measured so); the command sets the same itself.
DUCKDB_MEMORY_ENV = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"
DUCKDB_MEMORY = '{"memory_limit": "128MB"}'


def child_env(concurrency: int | None = None) -> dict[str, str]:
    """The environment of every process the benchmark starts: this one's, with the repo importable and
    dlt's telemetry off, the connector's concurrency ``concurrency`` (else unset: its default), no Arrow
    memory pool set, so that the plain call runs as in a user's Python (the command sets its own), and
    DuckDB held to 128 MB through the documented setting."""
    env = dict(os.environ)
    env[DUCKDB_MEMORY_ENV] = DUCKDB_MEMORY
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env.pop("ARROW_DEFAULT_MEMORY_POOL", None)
    env.pop(CONCURRENCY_ENV, None)
    if concurrency is not None:
        env[CONCURRENCY_ENV] = str(concurrency)
    return env


class ServerFigures:
    """What a server saw while workers ran: its ``requests`` (RecordedRequest) and what it ``served``
    (Served: how long it took over each answer)."""

    requests: list[RecordedRequest]
    served: list[Served]

    def handler_s(self) -> float:
        """Time in Sandbox.handle: routing, auth, handlers, any latency fault."""
        return sum(served.handled_s for served in self.served)

    def encode_s(self) -> float:
        """Time spent encoding the answers' bodies."""
        return sum(served.encoded_s for served in self.served)

    def span_s(self) -> float:
        """From the first request's start to the last one's end of handling."""
        if not self.served:
            return 0.0
        return max(s.started + s.handled_s for s in self.served) - min(s.started for s in self.served)

    def answered(self) -> int:
        """Requests answered other than with a 429."""
        return sum(served.status != 429 for served in self.served)

    def figures(self, cpu_s: float) -> dict[str, Any]:
        """The requests seen (see classify_requests), the server's own time and its CPU time ``cpu_s``."""
        return {
            "requests_seen": classify_requests(self.requests),
            "server_s": self.handler_s(),
            "encode_s": self.encode_s(),
            "span_s": self.span_s(),
            "server_cpu_s": cpu_s,
            "answered": len(self.served),
        }


class TimedSandbox(ServerFigures):
    """A Sandbox serving ``account`` from a thread of this process (for the scenarios that change the
    account or read it back as they go); every answer it gives is timed through its ``on_served`` hook,
    and with ``cache_answers`` a page served before goes out as it was encoded then. A context manager,
    as the Sandbox is."""

    def __init__(self, account: Account, cache_answers: bool = False) -> None:
        self.served = []
        self.sandbox = Sandbox(account, on_served=self.served.append, cache_answers=cache_answers)

    def __enter__(self) -> TimedSandbox:
        self.sandbox.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sandbox.stop()

    @property
    def requests(self) -> list[RecordedRequest]:  # type: ignore[override]
        return self.sandbox.requests

    @property
    def spec(self) -> dict[str, str]:
        """What a worker needs to reach it."""
        return {"base_url": self.sandbox.base_url, "api_key": self.sandbox.api_key}

    def reset(self) -> None:
        """Forget the requests and timings so far: the next worker's are counted alone."""
        self.sandbox.requests.clear()
        self.served.clear()

    def cpu_s(self) -> float:
        """This process's CPU time: it does nothing else while a worker runs, so that is the server's."""
        return process_cpu_s()

    def collect(self) -> None:
        """Nothing to fetch: the requests and timings are this process's own."""


class ServerProcess(ServerFigures):
    """A sandbox serving an account generated in a process of its own (benchmarks/server_process.py):
    ``subscribers`` over ``lists`` lists (accounts.build_account), ``campaigns`` sent campaigns when given.
    Every answer is encoded once and sent from memory after. ``facts`` is what accounts.account_facts
    says of the account. A context manager; the other methods are its control commands."""

    def __init__(
        self, subscribers: int, lists: int = 1, layout: str = "generator", campaigns: int | None = None
    ) -> None:
        command = [
            sys.executable,
            "-m",
            "benchmarks.server_process",
            "--subscribers",
            str(subscribers),
            "--lists",
            str(lists),
            "--layout",
            layout,
        ]
        if campaigns is not None:
            command += ["--campaigns", str(campaigns)]
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=child_env(), text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.requests, self.served = [], []
        hello = self._answer()
        self.spec = {"base_url": hello["base_url"], "api_key": hello["api_key"]}
        self.facts: dict[str, Any] = hello["facts"]
        self.generated_s: float = hello["generated_s"]

    def _answer(self) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the server process exited with {self.process.wait()} (its stderr is above)")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the server process refused {answer['error']}")
        return answer

    def ask(self, command: str) -> dict[str, Any]:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._answer()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.process.poll() is None:
                self.ask("stop")
            self.process.wait(timeout=30)
        except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()

    def reset(self) -> None:
        """Forget the requests and timings so far: the next worker's are counted alone."""
        self.ask("clear")
        self.requests, self.served = [], []

    def cpu_s(self) -> float:
        """The server process's CPU time so far."""
        return self.ask("cpu")["cpu_s"]

    def collect(self) -> None:
        """Fetch the requests and timings since the last reset."""
        answer = self.ask("requests")
        self.requests = [
            RecordedRequest(method, path, query, None, fault) for method, path, query, fault in answer["requests"]
        ]
        self.served = [Served(*row) for row in answer["served"]]

    def latency(self, seconds: float) -> None:
        """Every answer waits ``seconds`` (0: none)."""
        self.ask(f"latency {seconds}")

    def window(self, limit: int, seconds: float) -> None:
        """A fixed window of ``limit`` requests per ``seconds``, a new one from now (limit 0: none)."""
        self.ask(f"window {limit} {seconds}")


@dataclass
class Started:
    """A worker or command process started by Bench.start."""

    kind: str
    process: subprocess.Popen
    workdir: str
    spawned: float  # time.monotonic() just before it was started


class Report:
    """The figures table, the targets' verdicts, notes, and every scenario's raw figures (for --json)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.checks: list[tuple[str, bool | None, str]] = []
        self.notes: list[str] = []
        self.records: list[dict[str, Any]] = []

    @staticmethod
    def say(text: str) -> None:
        print(text, flush=True)

    def check(self, name: str, passed: bool | None, detail: str) -> None:
        self.checks.append((name, passed, detail))

    def row(
        self,
        scenario: str,
        subscribers: int,
        result: dict[str, Any],
        rows: int,
        expected: int | None,
        actual: int | None,
        floor_s: float | None = None,
        note: str = "",
        wall: float | None = None,
    ) -> None:
        """One line of the figures table (``wall`` instead of the result's ``wall_s`` when given; the ratio
        is to ``floor_s``, a floor or a bound); a failed worker's line says why instead of ``note``."""
        wall = wall if wall is not None else result.get("wall_s")
        self.rows.append(
            {
                "scenario": scenario,
                "subscribers": subscribers,
                "wall_s": wall,
                "rows_per_s": rows / wall if wall else None,
                "peak_rss_mb": result.get("peak_rss_mb"),
                "requests": f"{'-' if expected is None else expected}/{'-' if actual is None else actual}",
                "ratio": wall / floor_s if wall and floor_s else None,
                "note": note if "error" not in result else "FAILED: " + result["error"].strip().splitlines()[-1][:160],
            }
        )

    def print_summary(self) -> None:
        def fmt(value: Any, spec: str) -> str:
            return "-".rjust(int(spec.split(".")[0].split(",")[0])) if value is None else format(value, spec)

        header = (
            f"{'scenario':<28} {'subscribers':>11} {'wall s':>8} {'rows/s':>9} {'peak RSS MB':>11}"
            f" {'requests exp/act':>17} {'ratio':>7}  note"
        )
        self.say("\n" + header + "\n" + "-" * len(header))
        for row in self.rows:
            self.say(
                f"{row['scenario']:<28} {row['subscribers']:>11,} {fmt(row['wall_s'], '8.2f')} "
                f"{fmt(row['rows_per_s'], '9,.0f')} {fmt(row['peak_rss_mb'], '11.0f')} {row['requests']:>17} "
                f"{fmt(row['ratio'], '7.2f')}  {row['note']}"
            )
        self.say("\nTargets:")
        for name, passed, detail in self.checks:
            verdict = "n/a " if passed is None else ("PASS" if passed else "FAIL")
            self.say(f"  [{verdict}] {name}: {detail}")
        for note in self.notes:
            self.say(f"note: {note}")

    def write_json(self, path: str, command: str, sizes: list[dict[str, Any]]) -> None:
        Path(path).write_text(
            json.dumps(
                {
                    "command": command,
                    "sizes": sizes,
                    "scenarios": self.records,
                    "table": self.rows,
                    "checks": self.checks,
                },
                indent=2,
                default=str,
            )
        )


class Bench:
    """One benchmark run: its options, its report and the temp dirs its workers ran in."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.report = Report()
        self.say = self.report.say
        self.workdirs: list[str] = []

    def start(
        self, kind: str, spec: dict[str, Any], concurrency: int | None = None, workdir: str | None = None
    ) -> Started:
        """Start worker ``kind`` on ``spec`` in a fresh process (this interpreter, in ``workdir`` or a temp
        dir of its own, the connector's concurrency ``concurrency`` or its default). Kind ``command`` is
        ``cm-source load --tables <spec's tables> --quiet`` instead, reading the spec's sandbox through
        SOURCES__CAMPAIGN_MONITOR__API_KEY / __BASE_URL, with dlt's data dir (its pipeline state) in its dir."""
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix=f"cm-bench-{kind}-")
            self.workdirs.append(workdir)
        env = child_env(concurrency)
        if kind == "command":
            argv = [str(COMMAND), "load", "--tables", ",".join(spec["tables"]), "--quiet"]
            env.update(
                {
                    "SOURCES__CAMPAIGN_MONITOR__API_KEY": spec["api_key"],
                    "SOURCES__CAMPAIGN_MONITOR__BASE_URL": spec["base_url"],
                    "DLT_DATA_DIR": str(Path(workdir) / "dlt"),
                }
            )
        else:
            spec_path = Path(workdir) / "spec.json"
            spec_path.write_text(json.dumps({**spec, "workdir": workdir}), encoding="utf-8")
            argv = [sys.executable, str(ENTRY_POINT), "--worker", kind, str(spec_path)]
        with open(Path(workdir) / f"{kind}.out", "w") as out, open(Path(workdir) / f"{kind}.err", "w") as err:
            spawned = time.monotonic()
            process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=out, stderr=err)
        return Started(kind, process, workdir, spawned)

    def finish(self, started: Started) -> dict[str, Any]:
        """Wait for a started process and return its figures, or ``{"error": …}`` with the end of its
        output. Every result has ``process_s`` (start to exit) and ``process_cpu_s``; the command's peak
        RSS is read from /proc while it runs (VmHWM, as a worker reads its own), its ``wall_s`` is its
        ``process_s`` and its DuckDB file is the one in its dir."""
        pid, peak = started.process.pid, 0.0
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            peak = max(peak, peak_rss_mb(str(pid)))
            time.sleep(POLL_SECONDS)
        process_s = time.monotonic() - started.spawned
        started.process.returncode = code = os.waitstatus_to_exitcode(status)
        figures = {"process_s": process_s, "process_cpu_s": usage.ru_utime + usage.ru_stime}
        out, err = (Path(started.workdir, f"{started.kind}.{end}").read_text() for end in ("out", "err"))
        lines = [line for line in out.splitlines() if line.startswith(RESULT_MARKER)]
        if code != 0 or not (lines or started.kind == "command"):
            tail = "\n".join((err or out).strip().splitlines()[-12:])
            return {"error": f"{started.kind} exited {code}:\n{tail}", **figures}
        if started.kind == "command":
            duckdb_file = next(Path(started.workdir).glob("*.duckdb"))
            return {
                **figures,
                "wall_s": process_s,
                "cpu_s": figures["process_cpu_s"],
                "peak_rss_mb": peak,
                "duckdb": str(duckdb_file),
            }
        return {**json.loads(lines[-1][len(RESULT_MARKER) :]), **figures}

    def worker(self, kind: str, spec: dict[str, Any], concurrency: int | None = None) -> dict[str, Any]:
        """Run worker ``kind`` on ``spec`` (see ``start``) and return its figures."""
        return self.finish(self.start(kind, spec, concurrency))

    def measure(
        self,
        server: ServerFigures,
        kind: str,
        spec: dict[str, Any],
        concurrency: int | None = None,
        workdir: str | None = None,
    ) -> dict[str, Any]:
        """``measure_together`` with one worker."""
        return self.measure_together(server, kind, [spec], concurrency, workdir)[0]

    def measure_together(
        self,
        server: Any,
        kind: str,
        specs: list[dict[str, Any]],
        concurrency: int | None = None,
        workdir: str | None = None,
    ) -> list[dict[str, Any]]:
        """Workers ``kind``, one per spec, started at once against ``server`` (TimedSandbox or ServerProcess)
        alone. Each result gets what the server saw meanwhile (ServerFigures.figures: requests, its own
        time, its CPU time; the same for all of them), the time from the worker's start to the first
        request (``first_request_s``) and, from a load, to the end of its run (``end_s``)."""
        server.reset()
        cpu_before = server.cpu_s()
        started = [self.start(kind, {**server.spec, **spec}, concurrency, workdir) for spec in specs]
        results = [self.finish(run) for run in started]
        cpu_s = server.cpu_s() - cpu_before
        server.collect()
        figures = server.figures(cpu_s)
        first = min((served.started for served in server.served), default=None)
        for run, result in zip(started, results, strict=True):
            result.update(figures, first_request_s=None if first is None else first - run.spawned)
            if "finished_at" in result:
                result["end_s"] = result["finished_at"] - run.spawned
        return results

    def clean_up(self) -> None:
        """Remove the workers' temp dirs, or with --keep say where they are."""
        if self.args.keep:
            self.say("kept: " + " ".join(self.workdirs))
            return
        for workdir in self.workdirs:
            shutil.rmtree(workdir, ignore_errors=True)
