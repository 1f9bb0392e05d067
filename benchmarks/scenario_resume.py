"""Resume: a long first sync under the API's rate window, cut off and run again (issue 37).

The account is the issue's: 2 clients, the first with 150 sent campaigns. ``cm-source load --incremental``
runs it whole once, in pieces of ``--resume-minutes``; then again in a fresh folder, killed (SIGKILL, as an
orchestrator's timeout does) once it has sent 70% of the whole sync's requests, and run again to the end.
The ratio is the second run's requests to the whole sync's; the target: what was left, two pieces' worth
and each of the second run's pieces' listings, at most.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.runner import Bench
from cm_source.sandbox import Sandbox, generate_account

CUT_AT = 0.7  # the cut: 70% of a whole sync's requests
PIECES_SAID = re.compile(r"Incremental: (\d+) piece\(s\) so far")
COMMAND = [sys.executable, "-c", "import sys; from cm_source.commands import main; sys.exit(main())"]


@dataclass
class Sync:
    requests: int
    wall_s: float
    pieces: list[int]  # the requests sent by the time each piece was loaded, as the command said it


def run(bench: Bench) -> None:
    args = bench.args
    limit, minutes = args.resume_window, args.resume_minutes
    bench.say(
        f"\n== resume: 2 clients, {args.resume_campaigns} sent campaigns, a window of {limit} requests per second,"
        f" pieces of {minutes} min; cut at {CUT_AT:.0%} and run again"
    )
    with Sandbox(generate_account(sent_campaigns=args.resume_campaigns)) as sandbox:
        sandbox.faults.rate_limit_window(limit, 1.0)
        one = sync(bench, sandbox, 0)  # no pieces: what a whole sync needs
        whole = sync(bench, sandbox, minutes)
        folder = fresh_folder(bench)
        cut = sync(bench, sandbox, minutes, folder, kill_after=int(CUT_AT * one.requests))
        again = sync(bench, sandbox, minutes, folder)
    piece = max(after - before for before, after in zip([0, *whole.pieces], whole.pieces, strict=False))
    listings = math.ceil((whole.requests - one.requests) / max(len(whole.pieces) - 1, 1))
    bound = one.requests - cut.requests + 2 * piece + len(again.pieces) * listings
    bench.say(
        f"   whole: {one.requests:,} requests, {one.wall_s:.1f} s; in {len(whole.pieces)} pieces {whole.requests:,},"
        f" {whole.wall_s:.1f} s (the largest piece {piece:,} requests, {listings} a piece for its listings);"
        f" cut after {cut.requests:,}; again: {again.requests:,} requests in {len(again.pieces)} pieces,"
        f" {again.wall_s:.1f} s = {again.requests / one.requests:.2f}× a whole sync (bound {bound:,})"
    )
    bench.report.records.append(
        {"scenario": "resume", "whole": one.__dict__, "cut": cut.__dict__, "again": again.__dict__, "bound": bound}
    )
    bench.report.check(
        f"resume: cut at {CUT_AT:.0%}, the run again sends ≤ what was left + 2 pieces + its pieces' listings",
        again.requests <= bound,
        f"{again.requests:,} requests ≤ {bound:,}: {again.requests / one.requests:.2f}× a whole sync"
        f" of {one.requests:,}",
    )


def fresh_folder(bench: Bench) -> Path:
    folder = tempfile.mkdtemp(prefix="cm-bench-resume-")
    bench.workdirs.append(folder)
    return Path(folder)


def sync(
    bench: Bench, sandbox: Sandbox, minutes: float, folder: Path | None = None, kill_after: int | None = None
) -> Sync:
    """``cm-source load --incremental`` in ``folder`` (a fresh one if None), killed once it has sent
    ``kill_after`` requests if given, with the requests sent by each piece's load."""
    folder = folder or fresh_folder(bench)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DLT_DATA_DIR": str(folder / "dlt"),
            "SOURCES__CAMPAIGN_MONITOR__API_KEY": sandbox.api_key,
            "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url,
            "SOURCES__CAMPAIGN_MONITOR__CHECKPOINT_MINUTES": str(minutes),
        }
    )
    before, began = len(sandbox.requests), time.monotonic()
    process = subprocess.Popen(
        [*COMMAND, "load", "--incremental", "--quiet"], cwd=folder, env=env, stderr=subprocess.PIPE, text=True
    )
    pieces: list[int] = []
    log: list[str] = []

    def follow() -> None:  # each piece's line, as it is written: the requests sent by then
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            if PIECES_SAID.search(line):
                pieces.append(len(sandbox.requests) - before)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    while process.poll() is None:
        if kill_after is not None and len(sandbox.requests) - before >= kill_after:
            process.kill()
        time.sleep(0.002)
    follower.join()
    if kill_after is None and process.returncode != 0:
        raise RuntimeError(f"the sync failed: {''.join(log)[-2000:]}")
    return Sync(len(sandbox.requests) - before, time.monotonic() - began, pieces)
