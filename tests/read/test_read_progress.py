"""RunProgress: what a run has done so far, as the readers report it."""

from __future__ import annotations

from cm_source.read.progress import RunProgress


def test_the_run_progress_counts_requests_pages_and_429s() -> None:
    progress = RunProgress()
    progress.started("lists")
    for status, waited in ((200, 0.0), (429, 0.0), (200, 2.5)):
        progress.answered(status, waited)
    progress.page("lists")
    progress.page("lists")
    assert (progress.requests, progress.rate_limited, progress.waited_s) == (3, 1, 2.5)
    assert progress.tables["lists"].pages == 2 and progress.tables["lists"].wall_s >= 0
    assert "campaigns" not in progress.tables
