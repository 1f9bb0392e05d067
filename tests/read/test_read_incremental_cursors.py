"""The cursors of an incremental run: events at the boundary minute, and where a list is read from next."""

from __future__ import annotations

import pyarrow as pa

from cm_source.read.incremental import EventCursor, ListRead, now_in_one_state
from cm_source.read.incremental_state import TableState


def event(email: str, date: str, **more: str) -> dict:
    return {"EmailAddress": email, "Date": date, "IPAddress": "192.0.2.1", **more}


def kept(cursor: EventCursor) -> tuple:
    """The cursor as the source state keeps it for the next run, read back as that run does."""
    table = TableState({})
    table.set_event_cursor("campaign", cursor.minute, cursor.seen)
    return table.event_cursor("campaign")


def test_events_in_the_boundary_minute_are_neither_lost_nor_loaded_twice_and_true_repeats_are_kept() -> None:
    first = EventCursor(None, {}, "Date")
    loaded = first.new_rows(
        [event("a@x", "2024-07-15 09:00:10"), event("b@x", "2024-07-15 09:30:05"), event("b@x", "2024-07-15 09:30:05")]
    )  # a true repeat: the same open twice
    assert len(loaded) == 3 and first.params() == {"date": "2024-07-15 09:30"}
    # The next read asks from the boundary minute: the API answers it again, with what came since.
    again = EventCursor(*kept(first), "Date")
    fresh = again.new_rows(
        [
            event("b@x", "2024-07-15 09:30:05"),
            event("b@x", "2024-07-15 09:30:05"),  # loaded before
            event("b@x", "2024-07-15 09:30:05"),  # a third time, new since the last run
            event("c@x", "2024-07-15 09:30:40"),
            event("d@x", "2024-07-15 09:31:00"),
        ]
    )
    assert [(row["EmailAddress"], row["Date"]) for row in fresh] == [
        ("b@x", "2024-07-15 09:30:05"),
        ("c@x", "2024-07-15 09:30:40"),
        ("d@x", "2024-07-15 09:31:00"),
    ]
    assert kept(again) == ("2024-07-15 09:31", {next(iter(again.seen)): 1})


def test_a_read_with_nothing_new_keeps_the_cursor_and_its_boundary() -> None:
    first = EventCursor(None, {}, "Date")
    first.new_rows([event("a@x", "2024-07-15 09:30:05")])
    again = EventCursor(*kept(first), "Date")
    assert again.new_rows([event("a@x", "2024-07-15 09:30:05")]) == []
    assert kept(again) == kept(first)


def test_rows_before_the_cursor_are_never_loaded_again() -> None:
    cursor = EventCursor("2024-07-15 09:30", {}, "Date")
    assert cursor.new_rows([event("old@x", "2024-07-15 09:29:59")]) == []


def test_a_lists_next_cursor_is_no_later_than_the_start_of_this_runs_read() -> None:
    read = ListRead(started=100.0, ended=160.0)  # the reads of the list took a minute
    read.saw(
        [
            {"Date": "2024-07-15 09:30:00"},
            {"Date": "2024-07-15 08:00:00"},
            {"Date": "19/08/2010 4:08pm"},
            {"Date": "not a date"},
        ]
    )
    assert read.latest == "2024-07-15 09:30:00"
    assert read.next_since(None) == "2024-07-15 09:24"  # less the minute it took and five minutes' margin
    assert read.next_since("2024-07-15 09:26") == "2024-07-15 09:26"  # never moves back
    assert ListRead().next_since("2024-07-01 00:00") == "2024-07-01 00:00"  # nothing seen: kept


def test_someone_seen_in_two_states_is_kept_in_the_one_they_moved_to_last() -> None:
    by_state = {
        "active": [
            {"EmailAddress": "a@x", "Date": "2024-07-15 09:00:00"},
            {"EmailAddress": "b@x", "Date": "2024-07-15 09:00:00"},
        ],
        "unsubscribed": [{"EmailAddress": "A@x", "Date": "2024-07-15 09:10:00"}],
    }
    result = now_in_one_state(by_state)
    assert [row["EmailAddress"] for row in result["active"]] == ["b@x"]
    assert [row["EmailAddress"] for row in result["unsubscribed"]] == ["A@x"]


def test_a_list_cursor_is_noted_from_an_arrow_page_as_from_rows() -> None:
    """A first incremental read takes the fast Arrow path: its pages still move the list's cursor."""
    dates = ["2024-07-01 09:00:00", None, "2024-07-02 10:30:00", "not a time"]
    from_rows, from_arrow = ListRead(), ListRead()
    from_rows.saw([{"Date": value} for value in dates])
    from_arrow.saw(pa.table({"EmailAddress": ["a", "b", "c", "d"], "Date": pa.array(dates, pa.string())}))
    assert from_arrow.latest == from_rows.latest == "2024-07-02 10:30:00"
    no_dates = ListRead()
    no_dates.saw(pa.table({"EmailAddress": ["a"]}))
    assert no_dates.latest == ""


def test_the_destination_is_asked_for_loaded_addresses_one_query_at_a_time() -> None:
    """The state tables' readers ask from several threads; two DuckDB connections to one file opened at
    once in one process fail ("Unique file handle conflict", seen in a reconcile test), so each query
    holds the reconcile's lock while its connection is open."""
    from types import SimpleNamespace

    from cm_source.read import reconcile

    held: list[bool] = []

    class Client:
        def __enter__(self) -> Client:
            held.append(reconcile.DESTINATION_QUERIES.locked())
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def make_qualified_table_name(self, table: str) -> str:
            return table

        def execute_sql(self, sql: str, *args: object) -> list:
            return [("a@x",), ("m@x",)]

    schema = SimpleNamespace(data_table_names=lambda seen_data_only: ["active_subscribers"])
    pipeline = SimpleNamespace(
        default_schema=schema,
        destination=SimpleNamespace(destination_name="duckdb", destination_type="dlt.destinations.duckdb"),
        sql_client=Client,
    )
    assert reconcile.loaded_addresses(pipeline, "active_subscribers", "L1", None, "k@x") == ["a@x"]
    assert held == [True]
