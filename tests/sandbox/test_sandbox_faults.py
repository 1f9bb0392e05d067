"""The fault switches (Sandbox.faults): one-shot 429s, 5xx, truncated answers, HTML, dropped
connections, latency, a real rate-limit window, and rows inserted or removed while a list is paged."""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from helpers import sandbox as shared
from helpers.sandbox import Faulty

from cm_source.sandbox import Faults

faulty = shared.faulty  # fixtures


JSON_TYPE = "application/json; charset=utf-8"
RATE_LIMITED = {"Code": 429, "Message": "Rate limit exceeded"}


def rate_limit_headers(response: requests.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower().startswith("x-ratelimit")}


def test_no_switch_is_on_until_armed_and_clear_turns_every_one_off(faulty: Faulty) -> None:
    faults = faulty.faults
    assert not faults.armed and faults.rate_limited_count == 0 and faults.inserted == faults.removed == []
    faults.rate_limit(1)
    faults.server_error(1)
    faults.truncate(1)
    faults.garbage(1)
    faults.reset_connection(1)
    faults.latency(30)
    faults.insert_while_paging(faulty.list_id)
    faults.rate_limit_window(1)
    assert faults.armed
    faults.clear()
    assert not faults.armed
    responses = [faulty.get(faulty.active) for _ in range(3)]
    answers = [(r.status_code, r.headers["Content-Type"], rate_limit_headers(r)) for r in responses]
    assert answers == [(200, JSON_TYPE, {})] * 3
    assert faulty.recorded_faults() == [None] * 3 and faults.inserted == []
    faults.rate_limit(0)  # nothing to arm
    assert not faults.armed


def test_rate_limit_answers_429_with_headers_to_matching_requests_only(faulty: Faulty) -> None:
    faulty.faults.rate_limit(2, reset_seconds=3, only=r"/active\.json$")
    other = faulty.get("/systemdate.json")
    limited = [faulty.get(faulty.active, page=1) for _ in range(2)]
    served = faulty.get(faulty.active)
    assert (other.status_code, served.status_code) == (200, 200)
    for response in limited:
        assert (response.status_code, response.json()) == (429, RATE_LIMITED)
        assert response.headers["Content-Type"] == JSON_TYPE
        headers = rate_limit_headers(response)
        assert (headers["X-RateLimit-Remaining"], headers["X-RateLimit-Reset"]) == ("0", "3")
        assert int(headers["X-RateLimit-Limit"]) > 0
    assert rate_limit_headers(served) == {}
    assert faulty.recorded_faults() == [None, "rate_limit", "rate_limit", None]
    assert faulty.faults.rate_limited_count == 2 and not faulty.faults.armed


def test_rate_limit_reset_is_whole_or_decimal_seconds_or_left_out(faulty: Faulty) -> None:
    faulty.faults.rate_limit(1, reset_seconds=0.25)
    faulty.faults.rate_limit(1, reset_seconds=2.0)
    faulty.faults.rate_limit(1)
    faulty.faults.rate_limit(1, reset_seconds=None)
    answers = [faulty.get("/systemdate.json") for _ in range(4)]
    assert [rate_limit_headers(r).get("X-RateLimit-Reset") for r in answers] == ["0.25", "2", "1", None]
    assert rate_limit_headers(answers[3]) == {}
    assert [(r.status_code, r.json()) for r in answers] == [(429, RATE_LIMITED)] * 4
    assert faulty.faults.rate_limited_count == 4


def test_server_errors_answer_their_status_with_a_json_error(faulty: Faulty) -> None:
    faulty.faults.server_error(1)
    faulty.faults.server_error(1, status=503)
    first, second, third = (faulty.get(faulty.active) for _ in range(3))
    assert (first.status_code, first.json()) == (500, {"Code": 500, "Message": "Internal Server Error"})
    assert (second.status_code, second.json()) == (503, {"Code": 503, "Message": "Service Unavailable"})
    assert third.status_code == 200 and third.json()["TotalNumberOfRecords"] == len(faulty.stored_emails())
    assert faulty.recorded_faults() == ["server_error", "server_error", None]
    assert faulty.faults.rate_limited_count == 0


def test_garbage_is_a_200_html_page(faulty: Faulty) -> None:
    path = f"/lists/{faulty.list_id}/customfields.json"
    faulty.faults.garbage(1, only="customfields")
    page = faulty.get(path)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.text.lower().startswith("<!doctype html") and "</html>" in page.text
    with pytest.raises(ValueError):
        page.json()
    assert faulty.get(path).json() == faulty.account.custom_fields[faulty.list_id]
    assert faulty.recorded_faults() == ["garbage", None]


def test_faults_that_answer_in_full_keep_the_connection_alive(faulty: Faulty) -> None:
    faulty.faults.rate_limit(1)
    faulty.faults.server_error(1, status=502)
    faulty.faults.garbage(1)
    faulty.faults.latency(0.01)
    connection, base_path, headers = faulty.connection()
    answers, sockets = [], set()
    try:
        for _ in range(4):
            connection.request("GET", base_path + "/systemdate.json", headers=headers)
            response = connection.getresponse()
            body = response.read()
            assert len(body) == int(response.getheader("Content-Length"))
            answers.append((response.status, response.getheader("Content-Type")))
            sockets.add(connection.sock)
    finally:
        connection.close()
    assert answers == [(429, JSON_TYPE), (502, JSON_TYPE), (200, "text/html; charset=utf-8"), (200, JSON_TYPE)]
    assert len(sockets) == 1 and None not in sockets


def test_truncate_sends_half_the_body_then_closes(faulty: Faulty) -> None:
    faulty.faults.truncate(1, only=r"/active\.json$")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        faulty.get(faulty.active)
    assert faulty.get(faulty.active).json()["TotalNumberOfRecords"] == len(faulty.stored_emails())
    faulty.faults.truncate(1)
    connection, base_path, headers = faulty.connection()
    try:
        connection.request("GET", f"{base_path}{faulty.active}", headers=headers)
        response = connection.getresponse()
        length = int(response.getheader("Content-Length"))
        assert (response.status, response.getheader("Content-Type")) == (200, JSON_TYPE)
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
        assert len(cut.value.partial) == length // 2 > 0
    finally:
        connection.close()
    assert faulty.recorded_faults() == ["truncate", None, "truncate"]


def test_a_truncated_write_still_lands(faulty: Faulty) -> None:
    faulty.faults.truncate(1, only="^/subscribers/")
    url = f"{faulty.sandbox.base_url}/subscribers/{faulty.list_id}.json"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        faulty.http.post(url, json={"EmailAddress": "cut@example.com", "ConsentToTrack": "Yes"})
    assert faulty.http.get(url, params={"email": "cut@example.com"}).json()["State"] == "Active"


def test_reset_connection_answers_nothing(faulty: Faulty) -> None:
    faulty.faults.reset_connection(1, only="systemdate")
    with pytest.raises(requests.exceptions.ConnectionError):
        faulty.get("/systemdate.json")
    assert faulty.get("/systemdate.json").status_code == 200
    faulty.faults.reset_connection(1)
    connection, base_path, headers = faulty.connection()
    try:
        connection.request("GET", base_path + "/clients.json", headers=headers)
        with pytest.raises(http.client.RemoteDisconnected):
            connection.getresponse()
    finally:
        connection.close()
    assert faulty.recorded_faults() == ["reset_connection", None, "reset_connection"]


def test_one_shot_faults_are_taken_in_arrival_order_first_armed_first(faulty: Faulty) -> None:
    faulty.faults.server_error(1, only="customfields")
    faulty.faults.rate_limit(2, reset_seconds=None)
    faulty.faults.garbage(1, only=re.compile("systemdate"))
    fields = f"/lists/{faulty.list_id}/customfields.json"
    paths = ["/systemdate.json", fields, "/systemdate.json", "/systemdate.json", "/systemdate.json", fields]
    answers = [faulty.get(path) for path in paths]
    assert [r.status_code for r in answers] == [429, 500, 429, 200, 200, 200]
    assert answers[3].headers["Content-Type"].startswith("text/html") and answers[4].json()["SystemDate"]
    assert faulty.recorded_faults() == ["rate_limit", "server_error", "rate_limit", "garbage", None, None]


def test_concurrent_requests_take_exactly_the_armed_faults(faulty: Faulty) -> None:
    faulty.faults.rate_limit(25, reset_seconds=None)
    faulty.faults.server_error(5)

    def worker(_: int) -> list[int]:
        with requests.Session() as http:
            http.auth = faulty.http.auth
            return [http.get(faulty.sandbox.base_url + "/systemdate.json").status_code for _ in range(10)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [status for batch in pool.map(worker, range(8)) for status in batch]
    assert Counter(statuses) == {429: 25, 500: 5, 200: 50}
    assert faulty.recorded_faults() == ["rate_limit"] * 25 + ["server_error"] * 5 + [None] * 50
    assert faulty.faults.rate_limited_count == 25 and not faulty.faults.armed


def test_latency_delays_matching_requests_side_by_side(faulty: Faulty) -> None:
    delay = 0.05
    sessions = [requests.Session() for _ in range(2)]
    try:
        for client in sessions:
            client.auth = faulty.http.auth
            assert client.get(faulty.sandbox.base_url + faulty.active).status_code == 200  # connect before timing
        faulty.faults.latency(delay, only=r"/active\.json$")
        barrier = threading.Barrier(2)

        def timed(client: requests.Session) -> tuple[float, float, int]:
            barrier.wait()
            start = time.perf_counter()
            status = client.get(faulty.sandbox.base_url + faulty.active).status_code
            return start, time.perf_counter(), status

        with ThreadPoolExecutor(2) as pool:
            timings = list(pool.map(timed, sessions))
    finally:
        for client in sessions:
            client.close()
    assert all(status == 200 and end - start >= delay for start, end, status in timings)
    span = max(end for _, end, _ in timings) - min(start for start, _, _ in timings)
    assert span < 2 * delay  # they waited at the same time, not one after the other
    faulty.faults.latency(30, only="^/nothing-matches$")
    assert faulty.http.get(faulty.sandbox.base_url + faulty.active, timeout=5).status_code == 200
    faulty.faults.latency(0)
    assert not faulty.faults.armed


def test_insert_while_paging_shifts_later_pages_forward(faulty: Faulty) -> None:
    before = faulty.stored_emails()
    faulty.faults.insert_while_paging(faulty.list_id, after_page=2, count=3)
    read = faulty.read_pages(faulty.active)
    inserted = faulty.faults.inserted
    assert inserted == [f"0000-inserted-{n}@example.com" for n in (1, 2, 3)] and faulty.faults.removed == []
    assert read == before[:20] + before[17:]  # the end of page 2 is read again; the new rows never
    truth = faulty.stored_emails()
    assert truth == inserted + before
    assert set(truth) - set(read) == set(inserted)
    assert faulty.read_pages(faulty.active) == truth  # it fired once
    assert not faulty.faults.armed
    details = faulty.http.get(
        f"{faulty.sandbox.base_url}/subscribers/{faulty.list_id}.json", params={"email": inserted[0]}
    ).json()
    assert (details["State"], details["Date"]) == ("Active", faulty.account.system_date)


def test_insert_and_remove_while_paging_shifts_later_pages_back(faulty: Faulty) -> None:
    before = faulty.stored_emails()
    unsubscribed_before = faulty.stored_emails("Unsubscribed")
    faulty.faults.insert_while_paging(faulty.list_id, "active", after_page=1, count=1, remove=3)
    read = faulty.read_pages(faulty.active)
    removed, inserted = faulty.faults.removed, faulty.faults.inserted
    assert removed == before[:3] and len(inserted) == 1
    assert read == before[:10] + before[12:]  # one in, three out: two rows slip past page 2 unread
    truth = set(faulty.stored_emails())
    assert truth == set(before[3:] + inserted)
    assert truth - set(read) == {before[10], before[11], *inserted}
    assert set(read) - truth == set(removed)
    assert faulty.stored_emails("Unsubscribed") == sorted(
        unsubscribed_before + removed, key=lambda email: (email.casefold(), email)
    )
    moved = {row["EmailAddress"]: row for row in faulty.account.subscribers[faulty.list_id]["Unsubscribed"]}
    assert all(
        (moved[email]["State"], moved[email]["Date"]) == ("Unsubscribed", faulty.account.system_date)
        for email in removed
    )


def test_insert_while_paging_waits_for_a_page_served_in_full(faulty: Faulty) -> None:
    path = f"/lists/{faulty.list_id}/unsubscribed.json"
    before = faulty.stored_emails("Unsubscribed")
    deleted_before = len(faulty.stored_emails("Deleted"))
    faulty.faults.insert_while_paging(faulty.list_id, state="Unsubscribed", remove=1)
    faulty.faults.truncate(1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        faulty.get(path)
    assert faulty.get(path, page=2).status_code == 200 and faulty.faults.inserted == []
    first = faulty.get(path).json()["Results"]  # no page parameter: page 1
    assert [row["EmailAddress"] for row in first] == before
    assert faulty.faults.removed == before[:1]
    assert faulty.stored_emails("Unsubscribed") == faulty.faults.inserted + before[1:]
    assert len(faulty.stored_emails("Deleted")) == deleted_before + 1  # Unsubscribed rows move on to Deleted


def test_inserted_addresses_sort_first_even_before_unusual_ones(faulty: Faulty) -> None:
    url = f"{faulty.sandbox.base_url}/subscribers/{faulty.list_id}.json"
    for email in ("!a@example.com", "0000-inserted-1@example.com"):
        assert faulty.http.post(url, json={"EmailAddress": email, "ConsentToTrack": "Yes"}).status_code == 201
    faulty.faults.insert_while_paging(faulty.list_id, count=2)
    faulty.get(faulty.active, pagesize=10)
    inserted = faulty.faults.inserted
    assert len(inserted) == 2 and "0000-inserted-1@example.com" not in inserted
    assert faulty.stored_emails()[:3] == sorted(inserted, key=str.casefold) + ["!a@example.com"]


def test_rate_limit_window_counts_requests_by_the_clock(faulty: Faulty) -> None:
    now = [1000.0]
    faulty.faults.clock = lambda: now[0]
    faulty.faults.rate_limit_window(2, per_seconds=10)

    def call(**kwargs: Any) -> tuple:
        response = requests.get(faulty.sandbox.base_url + "/systemdate.json", timeout=10, **kwargs)
        headers = response.headers
        limit, remaining, reset = (headers[f"X-RateLimit-{name}"] for name in ("Limit", "Remaining", "Reset"))
        return response.status_code, limit, remaining, reset

    auth = {"auth": faulty.http.auth}
    assert call(**auth) == (200, "2", "1", "10")
    now[0] += 2.5
    assert call(**auth) == (200, "2", "0", "8")
    assert call(**auth) == (429, "2", "0", "8")
    now[0] = 1009.99
    assert call(**auth) == (429, "2", "0", "1")
    now[0] = 1010.0  # a new window
    assert call() == (401, "2", "1", "10")  # every answer carries the headers, errors too
    assert call(**auth) == (200, "2", "0", "10")
    faulty.faults.server_error(1)
    refused = faulty.get("/systemdate.json")
    assert (refused.status_code, refused.json()) == (429, RATE_LIMITED)  # refused before it reaches the switches
    now[0] = 1020.0
    failed = faulty.get("/systemdate.json")
    assert failed.status_code == 500 and rate_limit_headers(failed) == {}  # a one-shot fault answers as armed
    assert faulty.recorded_faults() == [
        None,
        None,
        "rate_limit_window",
        "rate_limit_window",
        None,
        None,
        "rate_limit_window",
        "server_error",
    ]
    assert faulty.faults.rate_limited_count == 3
    faulty.faults.rate_limit_window(None)
    assert not faulty.faults.armed and rate_limit_headers(faulty.get("/systemdate.json")) == {}


def test_a_short_window_still_says_at_least_one_second(faulty: Faulty) -> None:
    faulty.faults.clock = lambda: 50.0
    faulty.faults.rate_limit_window(1, per_seconds=0.25)
    first, second = faulty.get("/systemdate.json"), faulty.get("/systemdate.json")
    assert (first.status_code, second.status_code) == (200, 429)
    expected = {"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}
    assert rate_limit_headers(second) == expected


@pytest.mark.parametrize(
    "arm",
    [
        lambda faults: faults.rate_limit(-1),
        lambda faults: faults.rate_limit(1, reset_seconds=-1),
        lambda faults: faults.server_error(1, status=404),
        lambda faults: faults.truncate(1.5),
        lambda faults: faults.garbage(True),
        lambda faults: faults.latency(-0.1),
        lambda faults: faults.insert_while_paging("abc", state="Gone"),
        lambda faults: faults.insert_while_paging("abc", after_page=0),
        lambda faults: faults.insert_while_paging("abc", remove=-1),
        lambda faults: faults.rate_limit_window(0),
        lambda faults: faults.rate_limit_window(5, per_seconds=0),
    ],
)
def test_impossible_switch_settings_are_refused(arm: Any) -> None:
    faults = Faults()
    with pytest.raises(ValueError):
        arm(faults)
    assert not faults.armed
