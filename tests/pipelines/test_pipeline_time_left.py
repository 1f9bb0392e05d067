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
    lines = [
        (int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]), int(m[4].replace(",", "")), int(m[5]) / 100, int(m[6]))
        for m in said
    ]
    after_a_tenth = [line for line in lines if requests / 10 <= line[1] < requests]
    elapsed, _, _, left = after_a_tenth[0]
    assert abs(left - (took - elapsed)) <= 0.25 * (took - elapsed), (elapsed, left, took)
    # The share done follows the requests sent, on every line: within 15% of what is still to send (and the
    # line's rounding to whole percents). It was 7 points low at half way when pages were counted as they
    # were read, not as they were asked for (a summary asked for its counts, a second table on one answer).
    for _, sent, share, _ in after_a_tenth:
        assert abs(share - sent / requests) <= 0.15 * (1 - sent / requests) + 0.01, (sent, requests, share)
