"""The transactional tables from Campaign Monitor's own samples (tx_*): their shape, keys and times."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import dlt
import pytest
from helpers.mock_account import API_KEY, BASE_URL, CLIENT_IDS, MockAccount
from helpers.samples import sample
from helpers.warehouse import query

from cm_source import campaign_monitor_source
from cm_source.read.catalogue import smart_email_with_details

UTC = dt.timezone.utc
TABLES = (
    "transactional_smart_emails",
    "transactional_classic_groups",
    "transactional_messages",
    "transactional_statistics",
)


def load(pipeline: dlt.Pipeline, *tables: str, **kwargs: Any) -> None:
    source = campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL, **kwargs)
    pipeline.run(source.with_resources(*tables))


def test_a_smart_email_row_is_its_listing_with_its_details_flattened() -> None:
    listed = sample("transactional/tx_smartemails.json")[0]
    row = smart_email_with_details(listed, sample("transactional/tx_smartemail_details.json"))
    assert row["SmartEmailID"] == listed["ID"] and "ID" not in row
    assert (row["Name"], row["Status"], row["CreatedAt"]) == (listed["Name"], listed["Status"], listed["CreatedAt"])
    assert row["From"] == '"Team" <team@example.com>' and row["ReplyTo"] == "joe@example.com"
    assert row["EmailVariables"] == ["username", "reset_token"] and row["AddRecipientsToList"] is True
    assert "Content" not in row and "HTML" not in row


def test_the_four_tables_hold_every_clients_samples_with_the_ids_they_were_read_under(
    mock_account: MockAccount, pipeline: dlt.Pipeline
) -> None:
    load(pipeline, *TABLES)
    per_client = {
        "transactional_smart_emails": len(sample("transactional/tx_smartemails.json")),
        "transactional_classic_groups": len(sample("transactional/tx_classicemail_groups.json")),
        "transactional_messages": len(sample("transactional/tx_messages.json")),
        "transactional_statistics": len(sample("transactional/tx_smartemails.json"))
        + len(sample("transactional/tx_classicemail_groups.json")),
    }
    for table, rows in per_client.items():
        assert dict(query(pipeline, f"SELECT client_id, count(*) FROM {table} GROUP BY 1")) == {
            cid: rows for cid in CLIENT_IDS
        }, table
    variables = query(pipeline, "SELECT email_variables FROM transactional_smart_emails LIMIT 1")[0][0]
    assert "reset_token" in str(variables)  # one JSON column, not a child table
    assert not [
        t for t in pipeline.default_schema.data_tables() if t["name"].startswith("transactional_smart_emails__")
    ]
    asked = [r for r in mock_account.mocker.request_history if r.path.endswith("/transactional/smartemail")]
    assert {r.qs["clientid"][0] for r in asked} == {cid.lower() for cid in CLIENT_IDS}  # an agency key names the client


def test_message_times_are_the_instant_their_offset_says_in_utc(
    mock_account: MockAccount, pipeline: dlt.Pipeline
) -> None:
    load(pipeline, "transactional_messages", convert_to_utc=False)  # offsets are exact: UTC all the same
    rows = query(pipeline, 'SELECT sent_at, smart_email_id, "group", total_opens FROM transactional_messages')
    assert {row[0] for row in rows} == {dt.datetime(2014, 1, 15, 21, 9, 19, tzinfo=UTC)}
    assert {row[1] for row in rows} == {None, "21dab350-f484-11e4-ad38-6c4008bc7468"}
    assert {row[2] for row in rows} == {None, "Password Reset"} and {row[3] for row in rows} == {2}


def test_statistics_rows_say_what_they_are_for_and_the_window(
    mock_account: MockAccount, pipeline: dlt.Pipeline
) -> None:
    load(pipeline, "transactional_statistics")
    rows = query(pipeline, 'SELECT smart_email_id, "group", "from", "to", sent, bounces FROM transactional_statistics')
    system_day = dt.date(2030, 1, 1)  # the mock account's systemdate.json
    assert {(row[2], row[3]) for row in rows} == {(system_day - dt.timedelta(days=30), system_day)}
    assert {row[1] for row in rows if row[1]} == {
        g["Group"] for g in sample("transactional/tx_classicemail_groups.json")
    }
    assert {row[0] for row in rows if row[0]} == {
        f"{e['ID']}-{n}" for e in sample("transactional/tx_smartemails.json") for n in range(len(CLIENT_IDS))
    }
    assert {(row[4], row[5]) for row in rows} == {(1000, 8)}


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_of_transactional_email_is_one_warning_and_empty_tables(
    mock_account: MockAccount, pipeline: dlt.Pipeline, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    for path in (
        "transactional/smartEmail",
        "transactional/classicEmail/groups",
        "transactional/messages",
        "transactional/statistics",
    ):
        mock_account.mocker.get(f"{BASE_URL}/{path}", status_code=status, json={"Code": 50, "Message": "No access"})
    with caplog.at_level(logging.WARNING):
        load(pipeline, "clients", *TABLES)
    said = [r.getMessage() for r in caplog.records if "refused transactional email" in r.getMessage()]
    assert len(said) == len(CLIENT_IDS) and all(f"({status} Code 50)" in line for line in said)
    assert query(pipeline, "SELECT count(*) FROM clients") == [(len(CLIENT_IDS),)]
