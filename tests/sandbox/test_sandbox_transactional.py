"""The sandbox's transactional email: shapes from the shared samples, the timeline's cursor paging (both
directions, the 200 cap), times with their own offsets across daylight saving, clientID, an empty client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from helpers.samples import sample

from cm_source.sandbox import Sandbox, generate_account
from cm_source.sandbox.transactional import send_message


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate_account()) as running:
        yield running


def get(sandbox: Sandbox, path: str, auth: Any = None, **params: Any) -> requests.Response:
    return requests.get(sandbox.base_url + path, params=params, auth=auth or (sandbox.api_key, "x"), timeout=10)


def timeline(sandbox: Sandbox, client_id: str, count: int = 200) -> list[dict]:
    """Every message, walking back from the newest with sentBeforeID until a short page."""
    rows: list[dict] = []
    while True:
        params = {"clientID": client_id, "count": count, **({"sentBeforeID": rows[-1]["MessageID"]} if rows else {})}
        page = get(sandbox, "/transactional/messages", **params).json()
        rows += page
        if len(page) < count:
            return rows


def test_answers_have_the_shapes_of_the_samples(sandbox: Sandbox) -> None:
    client_id = sandbox.account.clients[0]["ClientID"]
    listed = get(sandbox, "/transactional/smartEmail", clientID=client_id, status="all").json()
    assert isinstance(listed, list) and set(listed[0]) == set(sample("transactional/tx_smartemails.json")[0])
    details = get(sandbox, f"/transactional/smartEmail/{listed[0]['ID']}").json()
    assert set(details) == set(sample("transactional/tx_smartemail_details.json"))
    assert set(details["Properties"]) == set(sample("transactional/tx_smartemail_details.json")["Properties"])
    groups = get(sandbox, "/transactional/classicEmail/groups", clientID=client_id).json()
    assert set(groups[0]) == set(sample("transactional/tx_classicemail_groups.json")[0])
    allowed = {key for row in sample("transactional/tx_messages.json") for key in row} | {"SmartEmailID"}
    assert all(set(row) <= allowed for row in timeline(sandbox, client_id))
    statistics = get(sandbox, "/transactional/statistics", clientID=client_id).json()
    assert set(statistics) == set(sample("transactional/tx_statistics_smart.json"))


def test_the_timeline_pages_back_and_forward_by_message_id(sandbox: Sandbox) -> None:
    client_id = sandbox.account.clients[0]["ClientID"]
    stored = sandbox.account.transactional[client_id].messages
    walked = timeline(sandbox, client_id)
    assert [row["MessageID"] for row in walked] == [row["MessageID"] for row in stored] and len(stored) > 400
    moments = [datetime.fromisoformat(row["SentAt"]) for row in walked]
    assert moments == sorted(moments, reverse=True)  # newest first
    newer = get(
        sandbox, "/transactional/messages", clientID=client_id, count=10, sentAfterID=stored[30]["MessageID"]
    ).json()
    assert [row["MessageID"] for row in newer] == [row["MessageID"] for row in stored[20:30]]
    assert get(sandbox, "/transactional/messages", clientID=client_id, count=201).status_code == 400
    assert len(get(sandbox, "/transactional/messages", clientID=client_id).json()) == 50  # the default count


def test_times_carry_their_own_offset_across_daylight_saving(sandbox: Sandbox) -> None:
    sydney = sandbox.account.clients[0]["ClientID"]  # the generator's first client is in Sydney
    offsets = {datetime.fromisoformat(row["SentAt"]).utcoffset() for row in timeline(sandbox, sydney)}
    assert offsets == {timedelta(hours=10), timedelta(hours=11)}


def test_client_id_is_required_with_the_account_key_and_not_with_a_clients_own(sandbox: Sandbox) -> None:
    assert get(sandbox, "/transactional/messages").status_code == 400
    client_id = sandbox.account.clients[0]["ClientID"]
    own = (sandbox.account.client_details[client_id]["ApiKey"], "x")
    assert len(get(sandbox, "/transactional/messages", auth=own, count=5).json()) == 5
    other = sandbox.account.clients[1]["ClientID"]
    assert get(sandbox, "/transactional/messages", auth=own, clientID=other).status_code == 401


def test_a_client_without_transactional_email_answers_empty(sandbox: Sandbox) -> None:
    last = sandbox.account.clients[-1]["ClientID"]
    assert get(sandbox, "/transactional/messages", clientID=last).json() == []
    assert get(sandbox, "/transactional/smartEmail", clientID=last).json() == []
    assert get(sandbox, "/transactional/statistics", clientID=last).json()["Sent"] == 0


def test_statistics_count_the_messages_of_the_window(sandbox: Sandbox) -> None:
    client_id = sandbox.account.clients[0]["ClientID"]
    smart = sandbox.account.transactional[client_id].smart_emails[0]["SmartEmailID"]
    answer = get(
        sandbox,
        "/transactional/statistics",
        clientID=client_id,
        smartEmailID=smart,
        **{"from": "2024-01-01", "to": "2024-07-15"},
    ).json()
    mine = [
        row
        for row in sandbox.account.transactional[client_id].messages
        if row.get("SmartEmailID") == smart
        and "2024-01-01"
        <= datetime.fromisoformat(row["SentAt"]).astimezone(timezone.utc).date().isoformat()
        <= "2024-07-15"
    ]
    assert answer["Query"]["SmartEmailID"] == smart and answer["Sent"] == len(mine) > 0
    assert answer["Delivered"] + answer["Bounces"] <= answer["Sent"]


def test_a_new_message_tops_the_timeline() -> None:
    account = generate_account()
    client_id = account.clients[0]["ClientID"]
    newest = dict(account.transactional[client_id].messages[0], MessageID="new-one")
    send_message(account, client_id, newest)
    with Sandbox(account) as sandbox:
        assert get(sandbox, "/transactional/messages", clientID=client_id, count=1).json()[0]["MessageID"] == "new-one"
