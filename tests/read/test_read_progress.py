"""RunProgress: what a run has done so far, as the readers report it."""

from __future__ import annotations

import io
import threading

from cm_source.read.progress import ProgressLine, RunProgress


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


def drive(line: ProgressLine, seconds: int) -> None:
    """A pretend extract step: a table read, rows and requests reported once a second for ``seconds``."""
    with line("Extract campaign_monitor"):
        with line.progress.reading("active_subscribers"):
            line.progress.started("active_subscribers")
            for _ in range(seconds):
                line.progress.answered(200, 0.0)
                line.update("active_subscribers", inc=1000)
                line.last_log_time -= 1.0 if line.last_log_time is not None else 0  # a second goes by
    with line("Load"):
        line.update("Jobs", inc=0, total=3)
        line.update("Jobs", inc=3)


def test_a_log_gets_one_line_per_interval_saying_what_the_run_is_at() -> None:
    log = io.StringIO()
    drive(ProgressLine(RunProgress(), ["lists", "active_subscribers"], log_period=5.0, stream=log), seconds=20)
    lines = log.getvalue().splitlines()
    extract = [line for line in lines if " extract | " in line]
    assert 4 <= len(extract) <= 7  # one every 5 of the 20 seconds, and the last
    parts = extract[-2].split(" | ")  # the last while the table was read
    requests = int(parts[1].removeprefix("requests "))
    assert 15 <= requests < 20 and parts[2:] == [
        "429s 0",
        "tables 0/2",
        f"rows {requests * 1000:,}",
        "reading active_subscribers for 0 s",
    ]
    assert extract[-1].endswith("| tables 1/2 | rows 20,000")  # the read is over
    assert lines[-1].endswith(" load | jobs 3/3")


def test_a_terminal_gets_one_line_rewritten_in_place() -> None:
    screen = io.StringIO()
    drive(ProgressLine(RunProgress(), live=True, stream=screen), seconds=20)
    assert screen.getvalue().count("\n") == 2  # one line per step, each rewritten in place
    assert screen.getvalue().count("\r") > 4 and "tables 1 read | rows 20,000" in screen.getvalue()


def test_a_line_written_while_a_reader_reports_does_not_lock_the_reader_out() -> None:
    """A reader's report can make the collector write its line, which reads the same figures again."""
    log = io.StringIO()
    progress = RunProgress()
    line = ProgressLine(progress, log_period=0.0, stream=log)
    progress.collector = line
    finished = threading.Event()

    def reader() -> None:
        with line("Extract campaign_monitor"), progress.reading("lists"):
            progress.started("lists")
            progress.answered(200, 0.0)  # shown on the collector, which writes a line at once
            progress.page("lists")
        finished.set()

    threading.Thread(target=reader, daemon=True).start()
    assert finished.wait(timeout=10)
    assert "requests 1 | 429s 0 | tables 0 read | rows 0 | reading lists for 0 s" in log.getvalue()


def test_while_the_rate_window_holds_the_run_the_line_says_so() -> None:
    class Gate:
        def __init__(self) -> None:
            self.held = True
            self.held_s = 12.5

        def holding(self) -> bool:
            return self.held

        def rate_window(self) -> tuple[int, float]:
            return (50, 5.0)

    progress = RunProgress()
    gate = Gate()
    progress.gate = gate  # type: ignore[assignment]
    line = ProgressLine(progress, ["lists"], stream=io.StringIO())
    with line("Extract campaign_monitor"), progress.reading("lists"):
        progress.started("lists")
        assert line.line().endswith("| held by the API's rate window: 50 per 5 s")
        gate.held = False
        assert line.line().endswith("| reading lists for 0 s")
    assert progress.held_s == 12.5


def test_a_line_is_still_written_every_period_while_nothing_is_reported() -> None:
    """Every reader held by the rate window for minutes reports nothing; the log must not fall silent."""

    class Gate:
        held_s = 0.0

        def holding(self) -> bool:
            return True

        def rate_window(self) -> tuple[int, float]:
            return (60, 348.0)

    class Log(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.held = threading.Event()

        def write(self, text: str) -> int:
            if "held by the API's rate window: 60 per 348 s" in text:
                self.held.set()
            return super().write(text)

    progress, log = RunProgress(), Log()
    progress.gate = Gate()  # type: ignore[assignment]
    line = ProgressLine(progress, ["lists"], log_period=0.05, stream=log)
    with line("Extract campaign_monitor"):
        line.update("Requests", inc=0)  # the step's first line, then nothing more is reported
        assert log.held.wait(10)
