"""What every scenario shares: a sandbox whose answers are timed, a worker run as a fresh subprocess,
and the report (the figures table, the targets' verdicts, what ``--json`` writes)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from benchmarks.accounts import classify_requests
from benchmarks.memory import process_cpu_s
from benchmarks.workers import CONCURRENCY_ENV, RESULT_MARKER
from cm_source.sandbox import Account, Sandbox, Served

REPO_ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINT = Path(__file__).resolve().with_name("subscribers.py")


class TimedSandbox:
    """A Sandbox serving ``account`` from a thread of this process; every answer it gives is timed
    through its ``on_served`` hook, and with ``cache_answers`` a page served before goes out as it was
    encoded then. A context manager, as the Sandbox is."""

    def __init__(self, account: Account, cache_answers: bool = False) -> None:
        self.served: List[Served] = []
        self.sandbox = Sandbox(account, on_served=self.served.append, cache_answers=cache_answers)

    def __enter__(self) -> "TimedSandbox":
        self.sandbox.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sandbox.stop()

    @property
    def spec(self) -> Dict[str, str]:
        """What a worker needs to reach it."""
        return {"base_url": self.sandbox.base_url, "api_key": self.sandbox.api_key}

    def reset(self) -> None:
        """Forget the requests and timings so far: the next worker's are counted alone."""
        self.sandbox.requests.clear()
        self.served.clear()

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


class Report:
    """The figures table, the targets' verdicts, notes, and every scenario's raw figures (for --json)."""

    def __init__(self) -> None:
        self.rows: List[Dict[str, Any]] = []
        self.checks: List[Tuple[str, Optional[bool], str]] = []
        self.notes: List[str] = []
        self.records: List[Dict[str, Any]] = []

    @staticmethod
    def say(text: str) -> None:
        print(text, flush=True)

    def check(self, name: str, passed: Optional[bool], detail: str) -> None:
        self.checks.append((name, passed, detail))

    def row(self, scenario: str, subscribers: int, result: Dict[str, Any], rows: int,
            expected: Optional[int], actual: Optional[int], floor_s: Optional[float] = None, note: str = "") -> None:
        """One line of the figures table; a failed worker's line says why instead of ``note``."""
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

    def print_summary(self) -> None:
        def fmt(value: Any, spec: str) -> str:
            return "-" if value is None else format(value, spec)

        header = (f"{'scenario':<28} {'subscribers':>11} {'wall s':>8} {'rows/s':>9} {'peak RSS MB':>11}"
                  f" {'requests exp/act':>17} {'x floor':>7}  note")
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

    def write_json(self, path: str, command: str, sizes: List[Dict[str, Any]]) -> None:
        Path(path).write_text(json.dumps({"command": command, "sizes": sizes, "scenarios": self.records,
                                          "table": self.rows, "checks": self.checks}, indent=2, default=str))


class Bench:
    """One benchmark run: its options, its report and the temp dirs its workers ran in."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.report = Report()
        self.say = self.report.say
        self.workdirs: List[str] = []

    def worker(self, kind: str, spec: Dict[str, Any], concurrency: Optional[int] = None) -> Dict[str, Any]:
        """Run worker ``kind`` on ``spec`` in a fresh process (this interpreter, a temp dir of its own, the
        connector's concurrency set to ``concurrency`` or left to its default) and return its figures, or
        ``{"error": …}`` with the end of its output."""
        workdir = tempfile.mkdtemp(prefix=f"cm-bench-{kind}-")
        self.workdirs.append(workdir)
        spec_path = Path(workdir) / "spec.json"
        spec_path.write_text(json.dumps({**spec, "workdir": workdir}), encoding="utf-8")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
        env.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")  # as the cm-source command sets it
        env.pop(CONCURRENCY_ENV, None)
        if concurrency is not None:
            env[CONCURRENCY_ENV] = str(concurrency)
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, str(ENTRY_POINT), "--worker", kind, str(spec_path)],
            cwd=workdir, env=env, capture_output=True, text=True,
        )
        process_s = time.perf_counter() - started
        lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_MARKER)]
        if process.returncode != 0 or not lines:
            tail = "\n".join((process.stderr or process.stdout).strip().splitlines()[-12:])
            return {"error": f"{kind} worker exited {process.returncode}:\n{tail}", "process_s": process_s}
        return {**json.loads(lines[-1][len(RESULT_MARKER):]), "process_s": process_s}

    def measure(self, server: TimedSandbox, kind: str, spec: Dict[str, Any],
                concurrency: Optional[int] = None) -> Dict[str, Any]:
        """``worker`` against ``server`` alone, with the requests the sandbox saw (``requests_seen``, see
        classify_requests), the sandbox's own time (handling, encoding, first to last request) and CPU
        time, and how long the worker took from its start to its first request (``first_request_s``)."""
        server.reset()
        spawned, cpu_before = time.monotonic(), process_cpu_s()
        result = self.worker(kind, {**server.spec, **spec}, concurrency)
        first = min((served.started for served in server.served), default=None)
        result.update(requests_seen=classify_requests(server.sandbox.requests), server_s=server.handler_s(),
                      encode_s=server.encode_s(), span_s=server.span_s(),
                      # this process does nothing else while the worker runs: its CPU is the server's
                      server_cpu_s=process_cpu_s() - cpu_before, answered=len(server.served),
                      first_request_s=None if first is None else first - spawned)
        return result

    def clean_up(self) -> None:
        """Remove the workers' temp dirs, or with --keep say where they are."""
        if self.args.keep:
            self.say("kept: " + " ".join(self.workdirs))
            return
        for workdir in self.workdirs:
            shutil.rmtree(workdir, ignore_errors=True)
