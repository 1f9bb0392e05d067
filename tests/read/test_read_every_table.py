"""Every table beyond the basics — details, reports, segments, journeys — against the samples."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from typing import Any

import dlt
import pyarrow as pa
import pytest
from helpers.mock_account import API_KEY, BASE_URL, CLIENT_IDS, MockAccount, client_details
from helpers.samples import rows_of, sample
from helpers.warehouse import query

from cm_source import TABLES, campaign_monitor_source
from cm_source.concurrency import merged_streams
from cm_source.read.catalogue import ENDPOINTS_BY_TABLE, read_under
from cm_source.read.columnar import combined, gathered

UTC = dt.timezone.utc


def load(pipeline: dlt.Pipeline, *tables: str, **kwargs: Any) -> None:
    source = campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL, **kwargs)
    pipeline.run(source.with_resources(*tables) if tables else source, loader_file_format="parquet")


def count(pipeline: dlt.Pipeline, table: str) -> int:
    return query(pipeline, f"SELECT count(*) FROM {table}")[0][0]


def test_every_new_table_loads_every_row(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    load(pipeline)
    clients, lists, filled_lists, segments, campaigns, journeys = 2, 4, 3, 4, 4, 4
    expected = {
        "administrators": len(sample("administrators.json")),
        "people": clients * len(sample("people.json")),
        "unconfirmed_subscribers": filled_lists * len(rows_of("ruby/unconfirmed_subscribers.json")),
        "deleted_subscribers": filled_lists * len(rows_of("deleted_subscribers.json")),
        "list_details": lists,
        "list_stats": lists,
        "list_custom_fields": lists * len(sample("custom_fields.json")),
        "list_webhooks": filled_lists * len(sample("list_webhooks.json")),
        "segment_details": segments,
        "segment_subscribers": segments * len(rows_of("segment_subscribers_with_tracking_preference.json")),
        "tags": clients * 2,
        "campaign_summaries": campaigns,
        "campaign_recipients": campaigns * len(rows_of("campaign_recipients.json")),
        "campaign_opens": campaigns * len(rows_of("campaign_opens.json")),
        "campaign_clicks": campaigns * len(rows_of("campaign_clicks.json")),
        "campaign_bounces": campaigns * len(rows_of("campaign_bounces.json")),
        "campaign_unsubscribes": campaigns * len(rows_of("campaign_unsubscribes.json")),
        "campaign_spam_complaints": campaigns * len(rows_of("campaign_spam.json")),
        "campaign_email_client_usage": campaigns * len(sample("email_client_usage.json")),
        "campaign_lists": campaigns,
        "campaign_segments": campaigns,
        "journeys": journeys,
        "journey_emails": journeys,
        **{
            f"journey_email_{r}": journeys * len(rows_of(f"journeys/journey_email_{r}_with_params.json"))
            for r in ("recipients", "opens", "clicks", "bounces", "unsubscribes")
        },
    }
    assert {table: count(pipeline, table) for table in expected} == expected


def test_keys_are_unique_declared_and_every_row_carries_the_ids_it_was_read_under(
    mock_account: MockAccount, pipeline: dlt.Pipeline
) -> None:
    load(pipeline)
    for table in TABLES:
        endpoint = ENDPOINTS_BY_TABLE[table]
        columns = pipeline.default_schema.get_table_columns(table)
        assert [c for c, hint in columns.items() if hint.get("primary_key")] == list(endpoint.primary_key), table
        if endpoint.primary_key:
            key = ", ".join(f'"{column}"' for column in endpoint.primary_key)  # "group", "from", "to" are keywords
            assert query(pipeline, f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}") == [(0,)], table
        for api_name in read_under(endpoint):
            column = {
                "ClientID": "client_id",
                "ListID": "list_id",
                "SegmentID": "segment_id",
                "CampaignID": "campaign_id",
                "JourneyID": "journey_id",
                "EmailID": "email_id",
            }[api_name]
            assert query(pipeline, f"SELECT count(*) FROM {table} WHERE {column} IS NULL") == [(0,)], (table, column)
    # IDs come from the parent the row was read under, not from the samples' own values
    journeys = {r[0] for r in query(pipeline, "SELECT journey_id FROM journeys")}
    assert {r[0] for r in query(pipeline, "SELECT DISTINCT journey_id FROM journey_email_opens")} == journeys
    campaigns = {r[0] for r in query(pipeline, "SELECT campaign_id FROM campaigns")}
    assert {r[0] for r in query(pipeline, "SELECT DISTINCT campaign_id FROM campaign_summaries")} == campaigns
    segments = {r[0] for r in query(pipeline, "SELECT segment_id FROM segments")}
    assert {r[0] for r in query(pipeline, "SELECT DISTINCT segment_id FROM segment_subscribers")} == segments


def test_clients_carry_their_details_but_never_an_api_key(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    load(pipeline, "clients")
    rows = query(
        pipeline,
        """SELECT client_id, name, contact_name, email_address, country, time_zone,
        billing_details__currency, billing_details__credits, access_details__username
        FROM clients ORDER BY client_id""",
    )
    assert [r[0] for r in rows] == sorted(CLIENT_IDS)
    first = next(r for r in rows if r[0] == CLIENT_IDS[0])
    assert first[2:] == (
        "Client One (contact)",
        "contact@example.com",
        "Australia",
        "(GMT+10:00) Canberra, Melbourne, Sydney",
        "USD",
        500,
        "clientone",
    )
    assert first[1] == sample("clients.json")[0]["Name"]
    columns = pipeline.default_schema.get_table_columns("clients")
    assert not [c for c in columns if "api_key" in c]
    assert sample("client_details.json")["ApiKey"] not in str(query(pipeline, "SELECT * FROM clients"))


def test_administrators_load_as_sent_and_each_clients_people_carry_it_and_their_access_level(
    mock_account: MockAccount, pipeline: dlt.Pipeline
) -> None:
    load(pipeline, "administrators", "people")
    administrators = query(pipeline, "SELECT email_address, name, status FROM administrators ORDER BY 1")
    assert administrators == [(a["EmailAddress"], a["Name"], a["Status"]) for a in sample("administrators.json")]
    people = query(pipeline, "SELECT client_id, email_address, name, access_level, status FROM people ORDER BY 1, 2")
    assert people == sorted(
        (cid, p["EmailAddress"], p["Name"], p["AccessLevel"], p["Status"])
        for cid in CLIENT_IDS
        for p in sample("people.json")
    )
    assert pipeline.default_schema.get_table_columns("people")["access_level"]["data_type"] == "bigint"
    assert "client_id" not in pipeline.default_schema.get_table_columns("administrators")


def test_tag_counts_are_integers_whether_sent_as_numbers_or_strings(
    mock_account: MockAccount, pipeline: dlt.Pipeline
) -> None:
    load(pipeline, "tags")
    tags = dict(query(pipeline, "SELECT name, number_of_campaigns FROM tags"))
    assert tags == {"Happy": 3, "Sad": 1, "Tag One": 120, "Tag Two": 62}
    assert pipeline.default_schema.get_table_columns("tags")["number_of_campaigns"]["data_type"] == "bigint"


def test_subscriber_tables_carry_mobile_number_and_sms_consent(
    mock_account: MockAccount, pipeline: dlt.Pipeline
) -> None:
    load(pipeline, "unconfirmed_subscribers")
    served = rows_of("ruby/unconfirmed_subscribers.json")
    rows = set(
        query(
            pipeline, "SELECT DISTINCT email_address, mobile_number, consent_to_send_sms FROM unconfirmed_subscribers"
        )
    )
    assert rows == {(r["EmailAddress"], r.get("MobileNumber"), r["ConsentToSendSms"]) for r in served}
    sent = [r for r in mock_account.mocker.request_history if r.path.endswith("/unconfirmed.json")]
    assert sent and all(r.qs["includesmspreference"] == ["true"] for r in sent)


def test_event_rows_keep_true_repeats(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    opens = rows_of("campaign_opens.json")
    repeated = opens + [dict(opens[0]), dict(opens[0])]  # the same open, three times over
    for path in [p for p in mock_account.paged if p.endswith("/opens.json") and p.startswith("campaigns/")]:
        mock_account.paged[path] = repeated
    mock_account.serve()
    load(pipeline, "campaign_opens")
    first = opens[0]
    where = f"email_address = '{first['EmailAddress']}' AND ip_address = '{first['IPAddress']}'"
    per_campaign = query(pipeline, f"SELECT campaign_id, count(*) FROM campaign_opens WHERE {where} GROUP BY 1")
    assert len(per_campaign) == 4 and {n for _, n in per_campaign} == {
        3
        + sum(
            1 for o in opens[1:] if o["IPAddress"] == first["IPAddress"] and o["EmailAddress"] == first["EmailAddress"]
        )
    }
    assert count(pipeline, "campaign_opens") == 4 * len(repeated)


def test_reports_sent_after_limits_the_fan_out(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    campaigns = rows_of("campaigns.json")
    newest = max(c["SentDate"] for c in campaigns)
    load(pipeline, "campaign_summaries", "campaign_opens", reports_sent_after=newest[:10])
    wanted = {c["CampaignID"] for c in campaigns if c["SentDate"] >= newest[:10]}
    assert len(wanted) == 1
    read = {r.path.split("/")[4] for r in mock_account.mocker.request_history if "/campaigns/" in r.path}
    assert read == {f"{c}-{n}".lower() for c in wanted for n in range(2)}
    assert count(pipeline, "campaign_summaries") == 2


def test_a_bad_reports_sent_after_is_one_line_naming_the_setting(mock_account: MockAccount) -> None:
    from cm_source.errors import CampaignMonitorError

    with pytest.raises(
        CampaignMonitorError, match="reports_sent_after must be a date such as 2024-01-31, not 'last tuesday'"
    ):
        campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL, reports_sent_after="last tuesday")


def test_times_are_utc_from_each_clients_zone_and_scheduled_campaigns_use_their_own(
    mock_account: MockAccount, pipeline: dlt.Pipeline
) -> None:
    scheduled = rows_of("scheduled_campaigns.json")
    scheduled[0]["ScheduledTimeZone"] = "(GMT-05:00) Eastern Time (US & Canada)"
    mock_account.arrays[f"clients/{CLIENT_IDS[1]}/scheduled.json"] = scheduled
    mock_account.serve()
    load(pipeline, "scheduled_campaigns", "journey_email_recipients")
    rows = query(
        pipeline,
        f"""SELECT campaign_id, date_scheduled, date_created FROM scheduled_campaigns
        WHERE client_id = '{CLIENT_IDS[1]}'""",
    )
    by_id = {r[0]: r[1:] for r in rows}
    # 2011-05-25 10:40 in New York (EDT, -04:00); created 2011-05-24 10:37 in London (BST, +01:00)
    assert by_id[scheduled[0]["CampaignID"]] == (
        dt.datetime(2011, 5, 25, 14, 40, tzinfo=UTC),
        dt.datetime(2011, 5, 24, 9, 37, tzinfo=UTC),
    )
    # Journey reports use the client's zone too: 2019-08-21 04:26 in Sydney (AEST, +10:00)
    sent = {
        r[0]
        for r in query(
            pipeline,
            f"""SELECT sent_date FROM journey_email_recipients
        WHERE client_id = '{CLIENT_IDS[0]}' AND email_address = 'asdf@hardbouncemyemail.com'""",
        )
    }
    assert sent == {dt.datetime(2019, 8, 20, 18, 26, tzinfo=UTC)}


def test_conversion_can_be_turned_off(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    load(pipeline, "campaigns", convert_to_utc=False)
    sent = {r[0] for r in query(pipeline, "SELECT sent_date FROM campaigns")}
    assert dt.datetime(2010, 10, 12, 12, 58) in sent  # as the API sent it, no zone
    types = dict(
        query(pipeline, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'campaigns'")
    )
    assert types["sent_date"] == "TIMESTAMP"


def test_an_unknown_zone_warns_once_naming_it_and_keeps_the_values(
    mock_account: MockAccount, pipeline: dlt.Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    details = client_details(CLIENT_IDS[0], 0)
    details["BasicDetails"]["TimeZone"] = "(GMT+05:00) Atlantis"
    mock_account.objects[f"clients/{CLIENT_IDS[0]}.json"] = details
    mock_account.serve()
    with caplog.at_level(logging.WARNING):
        load(pipeline, "campaigns")
    warnings = [r.getMessage() for r in caplog.records if "Atlantis" in r.getMessage()]
    assert len(warnings) == 1 and "unknown Campaign Monitor time zone '(GMT+05:00) Atlantis'" in warnings[0]
    sent = {r[0] for r in query(pipeline, f"SELECT sent_date FROM campaigns WHERE client_id = '{CLIENT_IDS[0]}'")}
    assert dt.datetime(2010, 10, 12, 12, 58, tzinfo=UTC) in sent  # the local value, not shifted


# --- reading concurrently -------------------------------------------------------------------------


def test_readers_run_side_by_side_within_the_bound() -> None:
    workers, started, active, peak = 3, threading.Semaphore(0), [0], [0]
    lock, release = threading.Lock(), threading.Event()

    def reader(n: int) -> Iterator[list[int]]:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        started.release()
        assert release.wait(5), "readers were not released"
        yield [n, n]
        with lock:
            active[0] -= 1

    readers = [lambda n=n: reader(n) for n in range(10)]
    results = merged_streams(readers, workers)
    collected: list[int] = []

    def consume() -> None:
        collected.extend(x for page in results for x in page)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for _ in range(workers):  # three readers start before any finishes: they run at once
        assert started.acquire(timeout=5)
    assert not started.acquire(timeout=0.05)  # and a fourth does not start while they hold
    release.set()
    consumer.join(5)
    assert sorted(collected) == sorted(2 * list(range(10)))
    assert peak[0] == workers


def test_a_failing_reader_stops_the_rest_and_its_error_is_raised() -> None:
    calls: list[int] = []

    def reader(n: int) -> Iterator[list[int]]:
        calls.append(n)
        if n == 1:
            raise ValueError("boom from reader 1")
        yield [n]

    with pytest.raises(ValueError, match="boom from reader 1"):
        list(merged_streams([lambda n=n: reader(n) for n in range(200)], 2))
    assert len(calls) < 200


def test_a_fan_out_of_tiny_pages_reaches_dlt_as_a_few_large_items() -> None:
    """dlt's cost is per item: a thousand campaigns' pages of a few events each become one item per
    ``rows_per_item`` rows, Arrow pages one table, plain rows one list, every row kept."""
    readers = [lambda n=n: iter([pa.table({"email": [f"{n}@x", f"{n}@y"]}), [{"n": n}]]) for n in range(1000)]
    items = list(gathered(merged_streams(readers, 6), rows_per_item=1500))
    tables = [item for item in items if isinstance(item, pa.Table)]
    lists = [item for item in items if isinstance(item, list)]
    assert len(tables) == 2 and len(lists) == 2
    assert sorted(e for t in tables for e in t.column("email").to_pylist()) == sorted(
        f"{n}@{host}" for n in range(1000) for host in "xy"
    )
    assert sorted(row["n"] for rows in lists for row in rows) == list(range(1000))


def test_pages_gathered_together_become_one_table_where_their_columns_agree() -> None:
    page = lambda **columns: pa.table(columns)  # noqa: E731
    joined = combined([page(email=["a"], age=[1]), page(email=["b"], name=["B"])], [])
    assert len(joined) == 1 and joined[0].sort_by("email").to_pylist() == [
        {"email": "a", "age": 1, "name": None},
        {"email": "b", "age": None, "name": "B"},
    ]
    clashing = combined([page(email=["a"], age=[1]), page(email=["b"], age=["unknown"])], [])
    assert [table.column("age").to_pylist() for table in clashing] == [[1], ["unknown"]]
    assert combined([], [{"a": 1}, {"a": 2}]) == [[{"a": 1}, {"a": 2}]]


def test_one_worker_reads_in_order() -> None:
    readers = [lambda n=n: iter([[n], [n + 100]]) for n in range(5)]
    assert list(merged_streams(readers, 1)) == [[0], [100], [1], [101], [2], [102], [3], [103], [4], [104]]
