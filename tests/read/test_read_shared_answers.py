"""Answers several tables read under one parent (``read.shared_answers``): asked once whichever table takes
it first, handed to each, let go after the last, and an error raised to every taker."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cm_source.read.catalogue import CAMPAIGN_SUMMARY
from cm_source.read.shared_answers import SharedAnswers

LISTS_AND_SEGMENTS = "campaigns/{CampaignID}/listsandsegments.json"


def test_an_answer_is_asked_once_for_every_table_that_reads_it_and_then_let_go() -> None:
    asked: list[str] = []
    gate = threading.Event()

    def get(path: str) -> dict:
        asked.append(path)
        gate.wait(5)
        return {"Lists": [], "Segments": [], "path": path}

    answers = SharedAnswers(get)
    path = "campaigns/c1/listsandsegments.json"
    with ThreadPoolExecutor(2) as pool:
        taken = [pool.submit(answers.take, LISTS_AND_SEGMENTS, path, True) for _ in range(2)]
        gate.set()
        assert [future.result()["path"] for future in taken] == [path, path]
    assert asked == [path] and answers.saved == 1
    answers.take(LISTS_AND_SEGMENTS, path, True)  # a third take: let go after the second, so asked again
    assert asked == [path, path]


def test_the_summary_is_held_until_each_table_that_counts_by_it_took_it() -> None:
    asked: list[str] = []
    answers = SharedAnswers(lambda path: asked.append(path) or {"Clicks": 0})
    answers.selected = ("campaign_summaries", "campaign_clicks", "campaign_opens")
    path = "campaigns/c1/summary.json"
    for own in (False, True, False):
        assert answers.take(CAMPAIGN_SUMMARY, path, own) == {"Clicks": 0}
    assert asked == [path] and answers.saved == 0  # the summary's own table would have asked for it anyway


def test_an_answer_that_fails_fails_every_table_that_takes_it() -> None:
    def get(path: str) -> dict:
        raise RuntimeError(f"GET {path}: refused")

    answers = SharedAnswers(get)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="refused"):
            answers.take(LISTS_AND_SEGMENTS, "campaigns/c1/listsandsegments.json", True)


def test_a_summary_asked_for_its_counts_is_ahead_until_its_own_table_reads_it() -> None:
    answers = SharedAnswers(lambda path: {"Clicks": 1})
    answers.selected = ("campaign_summaries", "campaign_clicks")
    answers.take(CAMPAIGN_SUMMARY, "campaigns/c1/summary.json", own=False)  # the clicks table, for the count
    answers.take(CAMPAIGN_SUMMARY, "campaigns/c2/summary.json", own=False)
    assert answers.ahead == 2
    answers.take(CAMPAIGN_SUMMARY, "campaigns/c1/summary.json", own=True)  # the summaries table reads it
    assert answers.ahead == 1
    alone = SharedAnswers(lambda path: {"Clicks": 1})
    alone.selected = ("campaign_clicks",)  # no table loads the summary: a request, not a page to come
    alone.take(CAMPAIGN_SUMMARY, "campaigns/c1/summary.json", own=False)
    assert alone.ahead == 0
