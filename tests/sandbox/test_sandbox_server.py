"""The server itself: request recording, encoding and keep-alive, start and stop, the on_served hook,
and the command line (python -m cm_source.sandbox)."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from helpers import sandbox as shared
from helpers.sandbox import Writer, admin_session, all_rows, basic_auth, field, get, person

from cm_source.sandbox import RecordedRequest, Sandbox, Served, generate_account

session, ids, writer = shared.session, shared.ids, shared.writer  # fixtures

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "cm_source.sandbox"]


def test_requests_are_recorded(session, sandbox, ids) -> None:
    before = len(sandbox.requests)
    get(session, sandbox, f"/lists/{ids['small_list']}/deleted.json", page=2, pagesize=10)
    requests.get(sandbox.base_url + "/clients.json")  # refused for lack of auth, still recorded
    assert sandbox.requests[before:] == [
        RecordedRequest("GET", f"/lists/{ids['small_list']}/deleted.json", {"page": "2", "pagesize": "10"}),
        RecordedRequest("GET", "/clients.json", {}),
    ]


def test_write_bodies_are_recorded_as_decoded_json(writer: Writer) -> None:
    assert [f.name for f in dataclasses.fields(RecordedRequest)] == ["method", "path", "query", "body", "fault"]
    assert RecordedRequest("GET", "/x.json", {}).body is None
    subscribers = [person("zoë.neu@bücher.example", Name="Zoë Neu", CustomFields=[field("[interests]", "news")])]
    writer.import_(subscribers, Resubscribe=True)
    raw = json.dumps(subscribers[0], ensure_ascii=False).encode("utf-8")  # UTF-8 on the wire, not \u escapes
    writer.http.post(writer.url + ".json", data=raw, headers={"Content-Type": "application/json"})
    writer.details("zoë.neu@bücher.example")
    writer.http.post(writer.url + ".json", data=b"{not json")
    path = f"/subscribers/{writer.list_id}"
    assert writer.sandbox.requests[-4:] == [
        RecordedRequest("POST", path + "/import.json", {}, {"Subscribers": subscribers, "Resubscribe": True}),
        RecordedRequest("POST", path + ".json", {}, subscribers[0]),
        RecordedRequest("GET", path + ".json", {"email": "zoë.neu@bücher.example"}),
        RecordedRequest("POST", path + ".json", {}, None),
    ]
    assert writer.details("zoë.neu@bücher.example")["Name"] == "Zoë Neu"


def test_headers_and_utf8_round_trip(session, sandbox, account) -> None:
    list_id, state, row = next(
        (lid, state, row)
        for lid, state, row in all_rows(account)
        if row["Name"] == "Zoë Ångström" and len(account.subscribers[lid][state]) <= 1000
    )
    response = get(session, sandbox, f"/lists/{list_id}/{state.lower()}.json")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert "Zoë Ångström".encode() in response.content and b"\\u00" not in response.content
    served = next(item for item in response.json()["Results"] if item["EmailAddress"] == row["EmailAddress"])
    assert served["Name"] == "Zoë Ångström"
    assert served["EmailAddress"] == "zoë.ångström@bücher.example"


def test_the_connection_stays_usable_after_a_write(writer: Writer) -> None:
    base = urlsplit(writer.sandbox.base_url)
    headers = {**basic_auth(writer.sandbox), "Content-Type": "application/json"}
    body = json.dumps({"Subscribers": [person(f"keep{n}@example.com") for n in range(300)]})
    connection = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
    try:
        connection.request("POST", f"{base.path}/subscribers/{writer.list_id}/import.json", body=body, headers=headers)
        first = connection.getresponse()
        first.read()
        socket = connection.sock
        path = f"{base.path}/subscribers/{writer.list_id}.json?email=keep299@example.com"
        connection.request("GET", path, headers=headers)
        second = connection.getresponse()
        assert (first.status, second.status) == (201, 200)
        assert json.loads(second.read())["EmailAddress"] == "keep299@example.com"
        assert socket is not None and connection.sock is socket
    finally:
        connection.close()


def test_start_and_stop_without_with() -> None:
    sandbox = Sandbox(generate_account(subscribers=50)).start()
    base_url = sandbox.base_url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v3\.3", base_url)
    assert requests.get(base_url + "/systemdate.json", auth=(sandbox.api_key, "x")).status_code == 200
    sandbox.stop()
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(base_url + "/systemdate.json", auth=(sandbox.api_key, "x"), timeout=2)


def test_on_served_reports_each_answer_as_the_server_saw_it() -> None:
    seen: list[Served] = []
    with Sandbox(generate_account(subscribers=200), on_served=seen.append) as sandbox, admin_session(sandbox) as http:
        list_id = sandbox.account.lists[sandbox.account.clients[0]["ClientID"]][0]["ListID"]
        before = time.monotonic()
        page = http.get(f"{sandbox.base_url}/lists/{list_id}/active.json")
        after = time.monotonic()
        http.post(f"{sandbox.base_url}/subscribers/{list_id}/unsubscribe.json", json={"EmailAddress": "no@example.com"})
        http.get(sandbox.base_url.replace("/api/v3.3", "") + "/elsewhere.json")
        requests.get(sandbox.base_url + "/systemdate.json")  # no key
        assert len(seen) == 4  # each was reported before its answer went out
    assert [(served.method, served.path, served.status) for served in seen] == [
        ("GET", f"/lists/{list_id}/active.json", 200),
        ("POST", f"/subscribers/{list_id}/unsubscribe.json", 400),
        ("GET", "/elsewhere.json", 404),
        ("GET", "/systemdate.json", 401),
    ]
    assert [(request.method, request.path) for request in sandbox.requests] == [(s.method, s.path) for s in seen]
    first = seen[0]
    assert page.json()["RecordsOnThisPage"] > 100 and first.encoded_s > 0
    assert before <= first.started and first.started + first.handled_s + first.encoded_s <= after
    assert [served.started for served in seen] == sorted(served.started for served in seen)
    assert all(served.handled_s > 0 and served.encoded_s >= 0 for served in seen)


def test_on_served_times_a_latency_fault_and_encodes_nothing_for_a_reset() -> None:
    seen: list[Served] = []
    with Sandbox(generate_account(subscribers=50), on_served=seen.append) as sandbox:
        sandbox.faults.latency(0.05, only="systemdate")
        assert requests.get(sandbox.base_url + "/systemdate.json", auth=(sandbox.api_key, "x")).status_code == 200
        sandbox.faults.reset_connection(1)
        with pytest.raises(requests.ConnectionError):
            requests.get(sandbox.base_url + "/clients.json", auth=(sandbox.api_key, "x"))
    slow, reset = seen
    assert (slow.path, slow.status) == ("/systemdate.json", 200) and slow.handled_s >= 0.05
    assert (reset.path, reset.status, reset.encoded_s) == ("/clients.json", 0, 0.0)


def test_without_on_served_nothing_is_reported(sandbox: Sandbox) -> None:
    assert sandbox.on_served is None
    assert requests.get(sandbox.base_url + "/systemdate.json", auth=(sandbox.api_key, "x")).status_code == 200


def test_command_line_help_names_every_option() -> None:
    shown = subprocess.run([*COMMAND, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: python -m cm_source.sandbox")
    options = ("--port", "--subscribers", "--seed", "--clients", "--lists-per-client", "--latency", "--rate-limit")
    assert all(option in shown.stdout for option in options)


@contextlib.contextmanager
def sandbox_command(*options: str) -> Iterator[tuple[str, str]]:
    """``python -m cm_source.sandbox`` with ``options``: the base URL and key it prints; stopped after."""
    process = subprocess.Popen([*COMMAND, *options], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base_url = process.stdout.readline().split()[-1]
        api_key = process.stdout.readline().split()[-1]
        yield base_url, api_key
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_command_line_prints_url_and_key() -> None:
    with sandbox_command("--subscribers", "40", "--seed", "3") as (base_url, api_key):
        assert api_key == generate_account(seed=3, subscribers=40).api_key
        assert requests.get(base_url + "/clients.json", auth=(api_key, "x")).status_code == 200


def test_command_line_latency_and_rate_limit() -> None:
    with sandbox_command("--subscribers", "40", "--latency", "0.02", "--rate-limit", "2") as (base_url, api_key):
        with requests.Session() as http:
            http.auth = (api_key, "x")
            answers = []
            for _ in range(3):
                start = time.perf_counter()
                response = http.get(base_url + "/systemdate.json", timeout=10)
                elapsed = time.perf_counter() - start
                answers.append((response.status_code, response.headers["X-RateLimit-Limit"], elapsed))
        assert [(status, limit) for status, limit, _ in answers] == [(200, "2"), (200, "2"), (429, "2")]
        assert all(elapsed >= 0.02 for _, _, elapsed in answers)


def test_command_line_clients_and_lists_per_client() -> None:
    with sandbox_command("--subscribers", "60", "--clients", "3", "--lists-per-client", "2") as (base_url, api_key):
        expected = generate_account(clients=3, lists_per_client=2, subscribers=60)
        assert api_key == expected.api_key
        clients = requests.get(base_url + "/clients.json", auth=(api_key, "x")).json()
        assert clients == expected.clients and len(clients) == 3
        lists = requests.get(f"{base_url}/clients/{clients[2]['ClientID']}/lists.json", auth=(api_key, "x")).json()
        assert len(lists) == 2
    refused = subprocess.run(
        [*COMMAND, "--lists-per-client", "1"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 2 and "lists_per_client >= 2" in refused.stderr


def test_the_answer_cache_sends_the_same_bytes_records_every_request_and_forgets_on_a_write() -> None:
    account = generate_account(seed=2, subscribers=300)
    list_id = next(row["ListID"] for rows in account.lists.values() for row in rows)
    served: list = []
    with (
        Sandbox(generate_account(seed=2, subscribers=300)) as plain,
        Sandbox(account, cache_answers=True, on_served=served.append) as cached,
    ):
        auth = (plain.api_key, "x")

        def page(server: Sandbox) -> bytes:
            answer = requests.get(f"{server.base_url}/lists/{list_id}/active.json", auth=auth, params={"pagesize": 50})
            return answer.content

        first, again = page(cached), page(cached)
        assert first == again == page(plain)
        assert served[1].encoded_s == 0.0  # the second was sent as it was encoded the first time
        assert len([r for r in cached.requests if r.path.endswith("/active.json")]) == 2
        body = {
            "Subscribers": [{"EmailAddress": "new.person@example.com", "ConsentToTrack": "Yes"}],
            "Resubscribe": False,
        }
        requests.post(f"{cached.base_url}/subscribers/{list_id}/import.json", auth=auth, json=body).raise_for_status()
        after = json.loads(page(cached))
        assert after["TotalNumberOfRecords"] == json.loads(first)["TotalNumberOfRecords"] + 1
