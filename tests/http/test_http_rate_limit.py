"""The pacer: requests stop just before the announced budget runs out and start again as the window ends;
429s without headers lower the number in flight; and over real HTTP, one list's pages go side by side."""

from __future__ import annotations

import dlt
import pytest
import requests

from cm_source import campaign_monitor_source
from cm_source.http.rate_limit import SUCCESSES_TO_GROW, RequestPacer, Ticket
from cm_source.sandbox import Sandbox, generate_account


class Clock:
    """Time that moves only when told to, or when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def answer(status: int = 200, remaining: int | None = None, reset: int | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    headers: dict[str, str] = {}
    if remaining is not None:
        headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}
    response.headers.update(headers)
    return response


def spend_window(pacer: RequestPacer, clock: Clock, limit: int = 10, seconds: int = 2) -> list[Ticket]:
    """``limit`` requests one after another, 10 ms each, answered as a window of ``limit`` per ``seconds``
    that opened at the first: Reset rounded up, as the API sends it."""
    tickets = []
    opened = clock.now
    for used in range(1, limit + 1):
        ticket = pacer.admit()
        clock.now += 0.01
        reset = -int(-(opened + seconds - clock.now) // 1)
        pacer.answered(ticket, answer(remaining=limit - used, reset=reset))
        tickets.append(ticket)
    return tickets


def test_a_spent_window_holds_every_request_until_it_has_surely_ended() -> None:
    clock = Clock()
    pacer = RequestPacer(6, clock.sleep, clock)
    spend_window(pacer, clock)
    assert clock.slept == []  # the whole budget was spent without waiting
    pacer.admit()
    # the first answer came 0.01 s into the window with Reset 2: the window ends by 100.01 + 2
    assert clock.slept == [pytest.approx(2.01 - 0.1)] and clock.now == pytest.approx(102.01)


def test_requests_in_flight_count_against_what_an_answer_says_is_left() -> None:
    clock = Clock()
    pacer = RequestPacer(10, clock.sleep, clock)
    first = pacer.admit()
    later = [pacer.admit() for _ in range(3)]  # sent after the first, not yet counted by the server
    pacer.answered(first, answer(remaining=9, reset=2))  # the server counted the first only
    later += [pacer.admit() for _ in range(6)]  # 9 left, 3 of ours not yet counted: room for 6 more
    assert clock.slept == []
    pacer.admit()
    assert clock.slept == [2.0] and len(later) == 9


def test_answers_to_requests_of_a_window_already_over_are_ignored() -> None:
    clock = Clock()
    pacer = RequestPacer(6, clock.sleep, clock)
    spend_window(pacer, clock)
    late = pacer.admit()  # waits for the window to end, then opens the next
    straggler = Ticket(0, 100.0, 0.0)  # a request of the old window, answered only now
    pacer.answered(straggler, answer(remaining=0, reset=1))
    pacer.answered(late, answer(remaining=9, reset=2))
    slept = list(clock.slept)
    pacer.admit()
    assert clock.slept == slept  # the straggler's "0 left" did not hold the new window


def test_a_429_the_budget_did_not_predict_leaves_a_margin_for_another_client() -> None:
    clock = Clock()
    pacer = RequestPacer(6, clock.sleep, clock)
    ticket = pacer.admit()
    pacer.answered(ticket, answer(remaining=9, reset=2))
    refused = pacer.admit()
    pacer.answered(refused, answer(429, remaining=0, reset=1), hold_s=1)  # the budget said 8 were left
    assert pacer.margin == 6 and pacer.shared_in_flight == 1  # others spent 8: a slot of the six is this client's
    pacer.answered(pacer.admit(), answer(remaining=9, reset=2))  # held for the 429's reset
    assert clock.slept == [1.0]


def test_other_clients_spending_the_window_get_a_share_and_a_margin_until_a_window_passes_without_them() -> None:
    clock = Clock()
    pacer = RequestPacer(6, clock.sleep, clock)
    ticket = pacer.admit()
    pacer.answered(ticket, answer(remaining=7, reset=2))  # 3 of 10 used, and this client sent 1: two others
    assert pacer.shared_in_flight == 2 and pacer.margin == 4  # a third of the slots; the others' 4 in flight
    clock.now += 2
    for used in range(1, 7):  # the next window, which this client has to itself: the margin is kept
        pacer.answered(pacer.admit(), answer(remaining=10 - used, reset=2))
        assert pacer.margin == 4
    assert clock.slept == []  # 4 left: the others' margin
    pacer.admit()
    assert clock.slept == [2.0]
    pacer.admit()  # the window after it, without a sign of the others: margin and slots lapse
    assert pacer.margin == 0 and pacer.shared_in_flight == 6


def test_429s_without_headers_halve_the_requests_in_flight_and_successes_raise_it_slowly() -> None:
    clock = Clock()
    pacer = RequestPacer(6, clock.sleep, clock)
    burst = [pacer.admit() for _ in range(3)]
    for ticket in burst:  # one burst of refusals is one cut
        pacer.answered(ticket, answer(429), hold_s=0.5)
    assert pacer.allowed_in_flight == 3
    clock.now += 2
    pacer.answered(pacer.admit(), answer(429), hold_s=0.5)
    assert pacer.allowed_in_flight == 1
    for _ in range(SUCCESSES_TO_GROW * 1):
        pacer.answered(pacer.admit(), answer())
    assert pacer.allowed_in_flight == 2
    for _ in range(SUCCESSES_TO_GROW * 2 - 1):
        pacer.answered(pacer.admit(), answer())
    assert pacer.allowed_in_flight == 2
    pacer.answered(pacer.admit(), answer())
    assert pacer.allowed_in_flight == 3


def max_in_flight(sandbox: Sandbox, path_part: str) -> int:
    """The most requests for ``path_part`` the server was handling at one moment."""
    served = [s for s in sandbox.served if path_part in s.path]
    moments = sorted([(s.started, 1) for s in served] + [(s.started + s.handled_s, -1) for s in served])
    most = now = 0
    for _, change in moments:
        now += change
        most = max(most, now)
    return most


def test_one_large_list_is_read_with_every_request_in_flight_and_every_row_once(tmp_path) -> None:
    account = generate_account(clients=1, lists_per_client=2, subscribers=12_000, sent_campaigns=1)
    served: list = []
    with Sandbox(account, on_served=served.append) as sandbox:
        sandbox.served = served  # type: ignore[attr-defined]
        sandbox.faults.latency(0.05, only=r"/active\.json$")
        pipeline = dlt.pipeline(
            pipeline_name="cm_wan",
            destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
            dataset_name="cm_data",
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        source = campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url, max_concurrent_requests=6)
        pipeline.run(source.with_resources("active_subscribers"))
        list_id = max(account.subscribers, key=lambda lid: len(account.subscribers[lid]["Active"]))
        pages = [r for r in sandbox.requests if r.path == f"/lists/{list_id}/active.json" and "date" not in r.query]
        assert len(pages) > 8
        assert max_in_flight(sandbox, f"/lists/{list_id}/active.json") == 6
    with pipeline.sql_client() as client:
        loaded = client.execute_sql("SELECT email_address FROM active_subscribers WHERE list_id = %s", list_id)
    assert sorted(r[0] for r in loaded) == sorted(r["EmailAddress"] for r in account.subscribers[list_id]["Active"])


def test_a_rate_window_announced_on_every_answer_is_never_exceeded(tmp_path) -> None:
    account = generate_account(clients=1, lists_per_client=2, subscribers=12_000, sent_campaigns=1)
    with Sandbox(account) as sandbox:
        sandbox.faults.rate_limit_window(8, per_seconds=1.0)
        pipeline = dlt.pipeline(
            pipeline_name="cm_window",
            destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
            dataset_name="cm_data",
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        source = campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url)
        pipeline.run(source.with_resources("active_subscribers"))
        assert len(sandbox.requests) > 16  # three windows' worth at least
        assert sandbox.faults.rate_limited_count == 0


def test_the_pacer_knows_the_announced_window_and_how_long_the_run_was_held() -> None:
    clock = Clock()
    pacer = RequestPacer(6, clock.sleep, clock)
    assert pacer.rate_window() is None and not pacer.holding()
    spend_window(pacer, clock)  # 10 per 2 s, spent at once
    assert pacer.rate_window() == (10, 2.0)
    pacer.admit()  # waits out the rest of the window
    assert pacer.held_s == pytest.approx(sum(clock.slept)) and pacer.held_s > 1.5
    # readers held through the same window count it once
    spend_window(pacer, clock)
    before = pacer.held_s
    pacer._note_hold(clock.now, 1.0)  # noqa: SLF001 - two readers find the same hold
    pacer._note_hold(clock.now, 1.0)  # noqa: SLF001
    assert pacer.holding() and pacer.held_s == pytest.approx(before + 1.0)
