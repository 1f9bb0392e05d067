"""Transactional email over real HTTP against the sandbox: three clients (two with multi-page timelines,
one that sends none), times with their own offsets across daylight saving, statistics per smart email and
group, an incremental run after new sends (requests counted), and a client whose key may not use it."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
from helpers.expected import KEY_SQL, expected_rows
from helpers.warehouse import query

from cm_source import campaign_monitor_source
from cm_source.api_facts import TIMELINE_COUNT
from cm_source.sandbox import Account, Sandbox, account_activity, generate_account
from cm_source.sandbox.transactional import transactional_activity

TABLES = (
    "transactional_smart_emails",
    "transactional_classic_groups",
    "transactional_messages",
    "transactional_statistics",
)
MESSAGES = "/transactional/messages"


@pytest.fixture
def account() -> Account:
    return generate_account(seed=5, clients=3, subscribers=300)


@pytest.fixture
def sandbox(account: Account) -> Iterator[Sandbox]:
    with Sandbox(account) as running:
        yield running


def load(pipeline: dlt.Pipeline, sandbox: Sandbox, tables: Any = TABLES, **settings: Any) -> list[Any]:
    """One run of ``tables``; the requests it sent."""
    sandbox.requests.clear()
    source = campaign_monitor_source(api_key=sandbox.api_key, base_url=sandbox.base_url, **settings)
    pipeline.run(source.with_resources(*tables))
    return list(sandbox.requests)


def assert_equal_to_account(pipeline: dlt.Pipeline, account: Account) -> None:
    truth = expected_rows(account)
    for table in TABLES:
        assert Counter(query(pipeline, f"SELECT {KEY_SQL[table]} FROM {table}")) == truth[table], table


def timeline_calls(requests: list[Any]) -> dict[str, list[dict[str, str]]]:
    calls: dict[str, list[dict[str, str]]] = {}
    for request in requests:
        if request.path == MESSAGES:
            calls.setdefault(request.query["clientID"], []).append(request.query)
    return calls


def test_a_full_refresh_loads_every_clients_transactional_email_reading_each_message_once(
    pipeline: dlt.Pipeline, sandbox: Sandbox, account: Account
) -> None:
    requests = load(pipeline, sandbox)
    assert_equal_to_account(pipeline, account)
    sizes = {cid: len(data.messages) for cid, data in account.transactional.items()}
    assert sorted(sizes.values()) == [0, 60, 450]  # two clients page, one sends nothing
    for cid, calls in timeline_calls(requests).items():
        assert len(calls) == sizes[cid] // TIMELINE_COUNT + 1, cid
        assert all(call["count"] == str(TIMELINE_COUNT) and call["status"] == "all" for call in calls)
        cursors = [call.get("sentBeforeID") for call in calls]
        messages = account.transactional[cid].messages
        assert cursors == [None, *(messages[k * TIMELINE_COUNT - 1]["MessageID"] for k in range(1, len(calls)))]
    empty = next(cid for cid, size in sizes.items() if size == 0)
    assert query(pipeline, f"SELECT count(*) FROM transactional_smart_emails WHERE client_id = '{empty}'") == [(0,)]


@pytest.mark.parametrize("convert_to_utc", [True, False])
def test_times_with_their_own_offset_are_that_instant_in_utc_across_daylight_saving(
    pipeline: dlt.Pipeline, sandbox: Sandbox, account: Account, convert_to_utc: bool
) -> None:
    load(pipeline, sandbox, ("transactional_messages", "transactional_classic_groups"), convert_to_utc=convert_to_utc)
    sent = dict(query(pipeline, "SELECT message_id, sent_at FROM transactional_messages"))
    sydney = account.transactional[account.clients[0]["ClientID"]].messages
    assert {row["SentAt"][-6:] for row in sydney} == {"+10:00", "+11:00"}  # both sides of the change
    for row in sydney:
        assert sent[row["MessageID"]] == dt.datetime.fromisoformat(row["SentAt"]).astimezone(dt.timezone.utc)
    created = dict(query(pipeline, 'SELECT "group", created_at FROM transactional_classic_groups'))
    first = account.transactional[account.clients[0]["ClientID"]].groups[0]
    assert created[first["Group"]] == dt.datetime.fromisoformat(first["CreatedAt"]).astimezone(dt.timezone.utc)


def test_statistics_cover_the_last_30_days_per_smart_email_and_per_group(
    pipeline: dlt.Pipeline, sandbox: Sandbox, account: Account
) -> None:
    requests = load(pipeline, sandbox, ("transactional_statistics",))
    today = dt.date.fromisoformat(account.system_date[:10])
    rows = query(
        pipeline,
        'SELECT client_id, smart_email_id, "group", "from", "to", sent, delivered FROM transactional_statistics',
    )
    assert {(row[3], row[4]) for row in rows} == {(today - dt.timedelta(days=30), today)}
    assert all((row[1] is None) != (row[2] is None) for row in rows)  # each row is for one smart email or one group
    asked = [r.query for r in requests if r.path == "/transactional/statistics"]
    assert all(q["timezone"] == "utc" and ("smartEmailID" in q) != ("group" in q) for q in asked) and len(asked) == len(
        rows
    )
    cid = account.clients[0]["ClientID"]
    data = account.transactional[cid]
    group = data.groups[0]["Group"]
    in_window = [
        m
        for m in data.messages
        if m.get("Group") == group
        and today - dt.timedelta(days=30)
        <= dt.datetime.fromisoformat(m["SentAt"]).astimezone(dt.timezone.utc).date()
        <= today
    ]
    found = {(row[0], row[2]): row[5:] for row in rows}
    assert found[(cid, group)] == (len(in_window), sum(m["Status"] == "Delivered" for m in in_window)) and in_window


def test_an_incremental_run_after_new_sends_adds_exactly_them_with_a_few_requests(
    pipeline: dlt.Pipeline, sandbox: Sandbox, account: Account
) -> None:
    load(pipeline, sandbox, incremental=True)
    activity = account_activity(account)  # 30 new messages on each of the two clients, recent ones opened again
    assert sum(len(ids) for ids in activity.sent_messages.values()) == 60 and activity.opened_messages
    requests = load(pipeline, sandbox, incremental=True)
    assert_equal_to_account(pipeline, account)  # opens of earlier messages are current too
    calls = timeline_calls(requests)
    assert sum(len(found) for found in calls.values()) == 5  # per client: what is new, then the recent ones again
    for cid in activity.sent_messages:
        assert "sentAfterID" in calls[cid][0]
    # More than one call's worth is new: the read still skips nothing.
    transactional_activity(random.Random(1), account, dt.datetime.fromisoformat(account.system_date), 60, 450)
    requests = load(pipeline, sandbox, incremental=True)
    assert_equal_to_account(pipeline, account)
    assert query(pipeline, "SELECT count(*) = count(DISTINCT message_id) FROM transactional_messages") == [(True,)]


def test_a_client_that_may_not_use_transactional_email_is_one_warning_and_the_rest_still_loads(
    pipeline: dlt.Pipeline, sandbox: Sandbox, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    refused = account.clients[1]["ClientID"]
    account.transactional[refused].refused = True
    with caplog.at_level(logging.WARNING):
        load(pipeline, sandbox, ("clients", *TABLES))
    said = [record.getMessage() for record in caplog.records if "refused transactional email" in record.getMessage()]
    assert len(said) == 1 and refused in said[0] and "transactional_messages" in said[0]
    assert query(pipeline, f"SELECT count(*) FROM transactional_messages WHERE client_id = '{refused}'") == [(0,)]
    loaded = dict(query(pipeline, "SELECT client_id, count(*) FROM transactional_messages GROUP BY 1"))
    assert loaded == {account.clients[0]["ClientID"]: 450}
    assert len(query(pipeline, "SELECT client_id FROM clients")) == 3


def test_each_table_loads_alone(tmp_path: Path, sandbox: Sandbox, account: Account) -> None:
    for table in TABLES:
        pipeline = dlt.pipeline(
            pipeline_name=f"alone_{table}",
            destination=dlt.destinations.duckdb(str(tmp_path / f"{table}.duckdb")),
            dataset_name="cm_data",
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        load(pipeline, sandbox, (table,))
        names = {t["name"] for t in pipeline.default_schema.data_tables()}
        assert table in names and not names & (set(TABLES) - {table}), table


def test_smart_emails_without_preview_urls_or_a_sender_load_every_column_with_no_warning(
    pipeline: dlt.Pipeline, sandbox: Sandbox, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """A table's columns do not depend on the account's data: fields the details leave out are typed."""
    for data in account.transactional.values():
        for smart_email in data.smart_emails:
            for field in ("TextPreviewUrl", "HtmlPreviewUrl", "ReplyTo"):
                smart_email["Properties"].pop(field)
    with caplog.at_level(logging.WARNING):
        load(pipeline, sandbox, ("transactional_smart_emails",))
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []
    columns = pipeline.default_schema.get_table_columns("transactional_smart_emails")
    assert {"html_preview_url", "text_preview_url", "reply_to"} <= set(columns)
    assert query(pipeline, "SELECT count(*) FROM transactional_smart_emails WHERE html_preview_url IS NULL") == [
        (sum(len(data.smart_emails) for data in account.transactional.values()),)
    ]
