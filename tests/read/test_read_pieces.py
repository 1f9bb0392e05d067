"""A run in pieces (``read.pieces``): which parents each table takes, when a piece is cut, what a pass keeps,
and where a list's cursor goes when a piece left some of its states unread."""

from __future__ import annotations

import pytest

from cm_source.errors import InputError
from cm_source.read.catalogue import ENDPOINTS_BY_TABLE
from cm_source.read.incremental_state import IncrementalState, PassState
from cm_source.read.pieces import Piece, parents_read, pass_summary, read_by_first_piece
from cm_source.read.settings import ReadSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def piece_on(stored: dict, minutes: float = 1.0) -> tuple[Piece, Clock, list[str], list[tuple[str, str]]]:
    clock, notes, left = Clock(), list[str](), list[tuple[str, str]]()
    piece = Piece(minutes, notes.append, lambda table, parent: left.append((table, parent)), clock=clock)
    piece.begin(PassState(stored))
    return piece, clock, notes, left


def test_each_table_takes_parents_until_the_minutes_pass_then_the_piece_is_cut_and_says_so_once() -> None:
    stored: dict = {}
    piece, clock, notes, left = piece_on(stored, minutes=1.0)
    assert piece.admits("campaign_opens", "c1") and piece.admits("campaign_clicks", "c1")
    clock.now = 59.0
    assert piece.admits("campaign_opens", "c2")
    clock.now = 60.0
    assert not piece.admits("campaign_opens", "c3") and not piece.admits("campaign_clicks", "c2")
    assert piece.admits("campaign_summaries", "c3", free=True)  # an answer another table asked for
    assert PassState(stored).cut
    assert left == [("campaign_opens", "c3"), ("campaign_clicks", "c2")]
    assert len(notes) == 1 and "checkpoint_minutes (1)" in notes[0] and "3 campaign reports" in notes[0]


def test_the_next_piece_goes_on_with_the_pass_and_leaves_alone_what_the_pass_read() -> None:
    stored: dict = {}
    first, clock, _, _ = piece_on(stored)
    first.admits("campaign_opens", "c1")
    clock.now = 61.0
    first.admits("campaign_opens", "c2")
    second, _, notes, _ = piece_on(stored)
    assert second.goes_on and PassState(stored).pieces == 2 and not PassState(stored).cut
    assert not second.admits("campaign_opens", "c1")  # read by the first piece
    assert second.admits("campaign_opens", "c2") and second.admits("campaign_clicks", "c1")
    assert "piece 2 of a pass" in notes[0]
    third, _, _, _ = piece_on(stored)  # the second was not cut: the pass is whole, a new one begins
    assert not third.goes_on and PassState(stored).pieces == 1
    assert third.admits("campaign_opens", "c1")


def test_each_table_always_takes_its_first_parent_so_every_piece_gets_somewhere() -> None:
    piece, clock, _, _ = piece_on({}, minutes=0.001)
    clock.now = 3600.0
    assert piece.admits("active_subscribers", "L1")
    assert not piece.admits("active_subscribers", "L2")
    assert piece.admits("bounced_subscribers", "L2")  # a table that begins late still takes one


def test_no_minutes_means_no_cut() -> None:
    piece, clock, notes, _ = piece_on({}, minutes=0)
    clock.now = 10**9
    assert all(piece.admits("campaign_opens", f"c{k}") for k in range(100))
    assert notes == []


def test_a_pass_is_summed_up_by_parent_in_the_users_words() -> None:
    pass_ = PassState({})
    pass_.begin_piece()
    for table in ("active_subscribers", "bounced_subscribers"):
        pass_.mark_read(table, "L1")
    for k in range(3):
        pass_.mark_read("campaign_opens", f"c{k}")
    assert parents_read(pass_) == "2 list states, 3 campaign reports"
    pass_.cut = True
    assert pass_summary(pass_).endswith("the pass is unfinished: the next run continues it")


def test_a_split_lists_cursor_becomes_the_earliest_its_runs_give_when_the_pass_is_whole() -> None:
    state = IncrementalState({})
    lists = state.lists
    lists.cursors.update({"L1": "2024-07-01 00:00", "L2": "2024-07-01 00:00"})
    lists.split.update({"L1": {"run-a": "2024-07-10 09:00", "run-b": "2024-07-09 12:00"}, "L2": {}})
    lists.fold_split()
    assert lists.cursors == {"L1": "2024-07-09 12:00", "L2": "2024-07-01 00:00"} and lists.split == {}


def test_a_list_the_account_no_longer_has_is_forgotten_with_its_split_cursors() -> None:
    state = IncrementalState({})
    state.lists.split["L1"] = {"run-a": "2024-07-10 09:00"}
    state.forget_list("L1")
    assert state.lists.split == {}


def test_only_tables_read_in_full_that_nothing_is_read_under_are_left_to_the_first_piece() -> None:
    first_piece_only = {table for table, endpoint in ENDPOINTS_BY_TABLE.items() if read_by_first_piece(endpoint)}
    assert {"templates", "list_details", "segment_subscribers", "suppression_list"} <= first_piece_only
    assert not first_piece_only & {"clients", "campaigns", "lists", "segments", "journeys", "journey_emails"}
    assert "active_subscribers" not in first_piece_only and "campaign_opens" not in first_piece_only


@pytest.mark.parametrize("minutes", ["-1", "soon", "nan"])
def test_checkpoint_minutes_that_are_not_minutes_are_a_setting_to_fix(minutes: str) -> None:
    settings = ReadSettings()
    settings.checkpoint_minutes = minutes  # type: ignore[assignment]
    with pytest.raises(InputError, match="SOURCES__CAMPAIGN_MONITOR__CHECKPOINT_MINUTES"):
        settings.on_resolved()


def test_checkpoint_minutes_take_a_fraction() -> None:
    settings = ReadSettings()
    settings.checkpoint_minutes = "0.05"  # type: ignore[assignment]
    settings.on_resolved()
    assert settings.checkpoint_minutes == 0.05
