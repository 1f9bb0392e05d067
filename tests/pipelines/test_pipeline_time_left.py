"""The time left a run's progress line gives, against the time the run then takes: a sync held by the API's
rate window of 50 requests per 5 s, as one user's account announces."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import dlt
import pytest

from cm_source import campaign_monitor_source
from cm_source.read.progress import ProgressLine, RunProgress
from cm_source.sandbox import Sandbox, generate_account

pytestmark = pytest.mark.slow  # 40 s held by the window

LINE = re.compile(r"(\d+):(\d\d):(\d\d) extract \| requests ([\d,]+) .*\| (\d+)% done, about (\d+) s left")


def test_the_time_left_after_a_tenth_of_the_run_is_within_a_quarter_of_the_time_it_then_takes(tmp_path: Path) -> None:
    with Sandbox(generate_account(subscribers=800, sent_campaigns=20)) as sandbox:
        sandbox.faults.rate_limit_window(50, 5.0)
        progress, log = RunProgress(), io.StringIO()
        pipeline = dlt.pipeline(
            "time_left",
            destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
            dataset_name="data",
            pipelines_dir=str(tmp_path / "pipelines"),
            progress=ProgressLine(progress, log_period=1.0, stream=log),
        )
        began = time.monotonic()
        pipeline.run(campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url, progress=progress))
        took = time.monotonic() - began
        requests = len(sandbox.requests)
    said = [match for match in map(LINE.match, log.getvalue().splitlines()) if match]
    assert said, log.getvalue()[-2000:]
    elapsed, sent, share, left = next(
        (int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]), int(m[4].replace(",", "")), int(m[5]), int(m[6]))
        for m in said
        if int(m[4].replace(",", "")) >= requests / 10
    )
    assert abs(left - (took - elapsed)) <= 0.25 * (took - elapsed), (elapsed, left, took)
    assert abs(share / 100 - sent / requests) <= 0.05  # the share done follows the requests sent
