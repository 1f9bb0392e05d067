"""The incremental state's typed views: a state the previous version wrote reads back, and what the views
write keeps that layout, so a pipeline upgraded between two runs goes on from its cursors."""

from __future__ import annotations

import copy

from cm_source.read.incremental_state import IncrementalState

# As the version before the typed state wrote it (dlt's source state, under "incremental").
WRITTEN_BEFORE = {
    "runs": 4,
    "reconciled": 120,
    "place": {"destination": "duckdb", "dataset": "cm", "database": "/data/w.duckdb"},
    "clients": None,
    "lists": {"run": "r4", "cursors": {"L1": "2024-07-15 09:25"}, "owners": {"L1": "C1"}},
    "tables": {
        "active_subscribers": {"run": "r4"},
        "campaign_opens": {"parents": {"K1": {"minute": "2024-07-15 09:30", "seen": {"ab12": 2}}}},
        "campaign_summaries": {"parents": {"K1": True}},
        "transactional_messages": {"parents": {"C1": {"id": "M9", "sent": "2024-07-15T09:00:00Z"}}},
    },
    "reconcile": {
        "L1": {
            "active_subscribers": {
                "after": "m@x",
                "page": 3,
                "pages": 7,
                "cycle_from": 4,
                "read_since": 2,
                "credit": 0.5,
            }
        }
    },
}


def test_a_state_written_before_reads_back_through_the_typed_views() -> None:
    state = IncrementalState(copy.deepcopy(WRITTEN_BEFORE))
    assert (state.runs, state.reconciled, state.clients) == (4, 120, None)
    assert state.place == WRITTEN_BEFORE["place"] and state.has_tables()
    assert state.lists.moved_in_run == "r4" and state.lists.cursors == {"L1": "2024-07-15 09:25"}
    assert state.lists.owners == {"L1": "C1"}
    assert state.table("active_subscribers").read_in_run == "r4"
    assert state.table("campaign_opens").event_cursor("K1") == ("2024-07-15 09:30", {"ab12": 2})
    assert state.table("campaign_summaries").was_read("K1") and not state.table("campaign_summaries").was_read("K2")
    assert state.table("transactional_messages").newest_message("C1") == ("M9", "2024-07-15T09:00:00Z")
    rotation = state.rotation("L1", "active_subscribers")
    assert (rotation.after, rotation.page, rotation.pages, rotation.read_since, rotation.credit) == (
        "m@x",
        3,
        7,
        2,
        0.5,
    )


def test_what_the_views_write_keeps_the_stored_layout() -> None:
    stored: dict = {}
    state = IncrementalState(stored)
    state.begin_run()
    state.place = copy.deepcopy(WRITTEN_BEFORE["place"])
    state.clients = None
    state.add_reconciled(120)
    state.lists.moved_in_run = "r4"
    state.lists.cursors["L1"] = "2024-07-15 09:25"
    state.lists.owners["L1"] = "C1"
    state.table("active_subscribers").read_in_run = "r4"
    state.table("campaign_opens").set_event_cursor("K1", "2024-07-15 09:30", {"ab12": 2})
    state.table("campaign_summaries").mark_read("K1")
    state.table("transactional_messages").set_newest_message("C1", "M9", "2024-07-15T09:00:00Z")
    rotation = state.rotation("L1", "active_subscribers")
    rotation.start(pages=7, run=1, read_since=None, credit=0.5)
    rotation.round_completed(run=3)
    rotation.went_on_to("m@x", 3)
    for _ in range(3):
        state.begin_run()
    state.add_reconciled(120)
    assert stored == WRITTEN_BEFORE


def test_a_first_run_reads_an_empty_state_and_forgetting_keeps_the_run_count() -> None:
    state = IncrementalState({})
    assert (state.runs, state.place, state.has_tables(), state.had_tables()) == (0, None, False, False)
    assert state.table("campaign_opens").event_cursor("K1") == (None, {})
    assert state.table("transactional_messages").newest_message("C1") is None
    before = IncrementalState(copy.deepcopy(WRITTEN_BEFORE))
    before.forget_tables(keep_place=True)
    assert before.runs == 4 and before.place == WRITTEN_BEFORE["place"] and not before.had_tables()
    before.forget_list("L1")
    assert before.lists.cursors == {} and list(before.rotations()) == []
