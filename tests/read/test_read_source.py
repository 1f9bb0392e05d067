"""The source against a mocked API built from Campaign Monitor's own response samples."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dlt
import pytest
from helpers.mock_account import API_KEY, BASE_URL, CLIENT_IDS, MockAccount, client_details
from helpers.samples import rows_of, sample
from helpers.warehouse import CUSTOM_FIELDS, query, table_names

from cm_source import TABLES, campaign_monitor_source
from cm_source.read import account_reader


def load(pipeline: dlt.Pipeline, **kwargs: Any) -> None:
    pipeline.run(campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL, **kwargs), loader_file_format="parquet")


def test_every_table_loads_with_its_rows(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    load(pipeline)
    counts = dict(
        query(
            pipeline,
            """
        SELECT 'clients', count(*) FROM clients UNION ALL SELECT 'campaigns', count(*) FROM campaigns
        UNION ALL SELECT 'scheduled_campaigns', count(*) FROM scheduled_campaigns
        UNION ALL SELECT 'draft_campaigns', count(*) FROM draft_campaigns
        UNION ALL SELECT 'lists', count(*) FROM lists UNION ALL SELECT 'segments', count(*) FROM segments
        UNION ALL SELECT 'templates', count(*) FROM templates
        UNION ALL SELECT 'suppression_list', count(*) FROM suppression_list
        UNION ALL SELECT 'active_subscribers', count(*) FROM active_subscribers
        UNION ALL SELECT 'unsubscribed_subscribers', count(*) FROM unsubscribed_subscribers
        UNION ALL SELECT 'bounced_subscribers', count(*) FROM bounced_subscribers""",
        )
    )
    per_client = 2  # every bare-array sample holds two rows
    active_sample = len(rows_of("active_subscribers_with_tracking_preference.json"))
    assert counts == {
        "clients": 2,
        "campaigns": 2 * per_client,
        "scheduled_campaigns": 2 * per_client,
        "draft_campaigns": 2 * per_client,
        "lists": 2 * per_client,
        "segments": 2 * per_client,
        "templates": 2 * per_client,
        "suppression_list": 2 * len(rows_of("suppressionlist.json")),
        "active_subscribers": 2500 + 3 * active_sample,  # one big list, one empty, two sample lists
        "unsubscribed_subscribers": 3 * len(rows_of("unsubscribed_subscribers.json")),
        "bounced_subscribers": 3 * len(rows_of("bounced_subscribers.json")),
    }
    assert set(TABLES) <= set(table_names(pipeline))


def test_paged_reads_send_the_minimum_requests(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    load(pipeline)
    big_list = mock_account.arrays[f"clients/{CLIENT_IDS[0]}/lists.json"][0]["ListID"]
    pages = mock_account.requests_to(f"lists/{big_list}/active.json")
    assert [r.qs["page"] for r in pages] == [["1"], ["2"], ["3"], ["1"]]  # 2,505 rows, then the catch-up
    assert {r.qs["pagesize"][0] for r in pages} == {"1000"}
    assert pages[0].qs["includetrackingpreference"] == ["true"]
    empty_list = mock_account.arrays[f"clients/{CLIENT_IDS[1]}/lists.json"][1]["ListID"]
    assert len(mock_account.requests_to(f"lists/{empty_list}/active.json")) == 1
    # clients.json and each client's details, admins.json; 10 client-scoped reads per client; 9 per list (5
    # states, details, stats, custom fields, webhooks) plus two more pages for the big list, the account's
    # date once and one catch-up request for rows that changed while it was paged; 2 per segment;
    # 9 per campaign (summary, 6 reports, client usage, and lists-and-segments once for its two tables);
    # per journey its details, and 5 reports per journey email; per client's transactional
    # email, its smart emails and groups listed (twice: for their tables and for statistics), each smart
    # email's details, one call of the timeline and statistics per smart email and group. Nothing else.
    clients, lists, segments, campaigns, journeys, journey_emails = 2, 4, 4, 4, 4, 4
    smart_emails, groups = 2, 3
    transactional = 4 + smart_emails + 1 + smart_emails + groups
    expected = (
        1
        + clients
        + 1
        + clients * 10
        + lists * 9
        + 2
        + 1
        + 1
        + segments * 2
        + campaigns * 9
        + journeys
        + journey_emails * 5
        + clients * transactional
    )
    assert pages[-1].qs["date"] == ["2029-12-31 23:59"] and "date" not in pages[0].qs
    assert len(mock_account.mocker.request_history) == expected
    assert all(r.qs.get("pagesize") == ["1000"] for r in mock_account.mocker.request_history if "page" in r.qs)


def test_every_row_carries_its_parent_ids(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    load(pipeline)
    for table in (
        "campaigns",
        "scheduled_campaigns",
        "draft_campaigns",
        "lists",
        "segments",
        "templates",
        "suppression_list",
    ):
        assert query(pipeline, f"SELECT count(*) FROM {table} WHERE client_id IS NULL") == [(0,)]
        assert {r[0] for r in query(pipeline, f"SELECT DISTINCT client_id FROM {table}")} == set(CLIENT_IDS)
    lists_by_client = dict(query(pipeline, "SELECT list_id, client_id FROM lists"))
    for table in ("active_subscribers", "unsubscribed_subscribers", "bounced_subscribers"):
        for list_id, client_id in query(pipeline, f"SELECT DISTINCT list_id, client_id FROM {table}"):
            assert lists_by_client[list_id] == client_id


def test_keys_are_unique_and_declared(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    load(pipeline)
    keys = {
        "clients": "client_id",
        "campaigns": "campaign_id",
        "lists": "list_id",
        "segments": "segment_id",
        "templates": "template_id",
        "suppression_list": "client_id, email_address",
        "active_subscribers": "list_id, email_address",
        "bounced_subscribers": "list_id, email_address",
    }
    for table, key in keys.items():
        assert query(pipeline, f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}") == [(0,)], table
        schema_key = [c for c, h in pipeline.default_schema.get_table_columns(table).items() if h.get("primary_key")]
        assert schema_key == [k.strip() for k in key.split(",")], table


def test_custom_fields_keep_every_value_including_multi_select(
    mock_account: MockAccount, pipeline: dlt.Pipeline
) -> None:
    load(pipeline)
    rows = query(
        pipeline,
        f"""
        SELECT unnest({CUSTOM_FIELDS}, recursive := true) FROM active_subscribers
        WHERE email_address = 'subs+7t8787Y@example.com'
          AND list_id = (SELECT min(list_id) FROM active_subscribers)""",
    )
    source_fields = rows_of("active_subscribers_with_tracking_preference.json")[0]["CustomFields"]
    assert rows == [(f["Key"], f["Value"]) for f in source_fields]
    assert ("multi select field", "option one") in rows and ("multi select field", "option two") in rows


def test_typed_columns(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    load(pipeline)
    sent, recipients = query(
        pipeline,
        f"SELECT sent_date, total_recipients FROM campaigns WHERE client_id = '{CLIENT_IDS[0]}'"
        " ORDER BY sent_date DESC LIMIT 1",
    )[0]
    # 2010-10-12 12:58 in Sydney, where daylight saving (+11:00) began on 3 October 2010
    assert sent == dt.datetime(2010, 10, 12, 1, 58, tzinfo=dt.timezone.utc) and recipients == 2245
    consent = dict(
        query(
            pipeline, "SELECT email_address, consent_to_track FROM active_subscribers WHERE email_address LIKE 'subs%'"
        )
    )
    assert consent["subs+7t8787Y@example.com"] == "Yes" and consent["subs+7878787y8ggg@example.com"] == "No"
    types = dict(
        query(
            pipeline,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'active_subscribers'",
        )
    )
    assert types["date"] == "TIMESTAMP WITH TIME ZONE" and types["list_joined_date"] == "TIMESTAMP WITH TIME ZONE"


def test_one_client_by_id_never_loads_its_api_key(requests_mock: Any, pipeline: dlt.Pipeline) -> None:
    cid = CLIENT_IDS[0]
    details = sample("client_details.json")
    requests_mock.get(f"{BASE_URL}/clients/{cid}.json", json=details)
    requests_mock.get(f"{BASE_URL}/clients/{cid}/lists.json", json=[])
    load_source = campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL, client_id=cid)
    pipeline.run(load_source.with_resources("clients", "lists"))
    assert query(pipeline, "SELECT client_id, name FROM clients") == [(cid, "Client One")]
    assert not any("clients.json" in r.path for r in requests_mock.request_history)
    everything = str(query(pipeline, "SELECT * FROM clients"))
    assert details["ApiKey"] not in everything


def test_clients_selected_alone_reads_only_clients(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    pipeline.run(campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL).with_resources("clients"))
    assert [r.path for r in mock_account.mocker.request_history] == [
        "/api/v3.3/clients.json",
        *(f"/api/v3.3/clients/{cid}.json" for cid in CLIENT_IDS),
    ]


def test_sends_the_key_as_basic_username(mock_account: MockAccount, pipeline: dlt.Pipeline) -> None:
    import base64

    pipeline.run(campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL).with_resources("clients"))
    header = mock_account.mocker.request_history[0].headers["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")).decode().startswith(f"{API_KEY}:")


@pytest.mark.parametrize(
    "status, body, client_id, expected",
    [
        (401, {"Code": 100, "Message": "Invalid API key"}, CLIENT_IDS[0], "check SOURCES__CAMPAIGN_MONITOR__API_KEY"),
        (
            401,
            {"Code": 50, "Message": "Must supply a valid HTTP Basic Authorization header"},
            CLIENT_IDS[0],
            "rejected the API key",
        ),
        (
            401,
            {"Code": 102, "Message": "Invalid ClientID"},
            "nope123",
            "client nope123 does not exist or this API key cannot see it",
        ),
        (
            401,
            {"Code": 100, "Message": "Invalid API key"},
            None,
            "if it is a client's API key, set SOURCES__CAMPAIGN_MONITOR__CLIENT_ID",
        ),
        (404, {"Code": 404, "Message": "Not found"}, None, "not a Campaign Monitor endpoint"),
    ],
)
def test_errors_name_the_fault_and_the_fix(
    requests_mock: Any, pipeline: dlt.Pipeline, status: int, body: Any, client_id: Any, expected: str
) -> None:
    path = f"clients/{client_id}.json" if client_id else "clients.json"
    requests_mock.get(f"{BASE_URL}/{path}", status_code=status, json=body)
    with pytest.raises(Exception) as failure:
        pipeline.run(
            campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL, client_id=client_id).with_resources("clients")
        )
    from cm_source.failures import explain_failure

    message = explain_failure(failure.value)
    assert message is not None and expected in message
    assert "\n" not in message and API_KEY not in message


def test_unknown_list_is_named(requests_mock: Any, pipeline: dlt.Pipeline) -> None:
    cid = CLIENT_IDS[0]
    requests_mock.get(f"{BASE_URL}/clients.json", json=[{"ClientID": cid, "Name": "One"}])
    requests_mock.get(f"{BASE_URL}/clients/{cid}.json", json=client_details(cid, 0))
    requests_mock.get(f"{BASE_URL}/clients/{cid}/lists.json", json=[{"ListID": "gone42", "Name": "Gone"}])
    requests_mock.get(
        f"{BASE_URL}/lists/gone42/active.json", status_code=400, json={"Code": 101, "Message": "Invalid ListID"}
    )
    with pytest.raises(Exception) as failure:
        pipeline.run(campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL).with_resources("active_subscribers"))
    from cm_source.failures import explain_failure

    assert "list gone42 does not exist" in (explain_failure(failure.value) or "")


def test_a_bare_array_where_an_envelope_belongs_is_an_error_not_an_empty_table(
    requests_mock: Any, pipeline: dlt.Pipeline
) -> None:
    """The v3.2 shape of sent campaigns: loading it as zero rows is the bug to never ship."""
    cid = CLIENT_IDS[0]
    requests_mock.get(f"{BASE_URL}/clients.json", json=[{"ClientID": cid, "Name": "One"}])
    requests_mock.get(f"{BASE_URL}/clients/{cid}.json", json=client_details(cid, 0))
    requests_mock.get(f"{BASE_URL}/clients/{cid}/campaigns.json", json=rows_of("campaigns.json"))
    with pytest.raises(Exception) as failure:
        pipeline.run(campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL).with_resources("campaigns"))
    assert isinstance(failure.value.__cause__, Exception)
    from cm_source.failures import explain_failure

    assert "expected a v3.3 paged envelope" in (explain_failure(failure.value) or "")


def test_configuration_comes_from_the_campaign_monitor_section(
    mock_account: MockAccount, pipeline: dlt.Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__API_KEY", API_KEY)
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__BASE_URL", BASE_URL)
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__CLIENT_ID", CLIENT_IDS[1])
    mock_account.mocker.get(f"{BASE_URL}/clients/{CLIENT_IDS[1]}.json", json=sample("client_details.json"))
    pipeline.run(campaign_monitor_source().with_resources("clients", "lists"))
    assert {r[0] for r in query(pipeline, "SELECT DISTINCT client_id FROM lists")} == {CLIENT_IDS[1]}


def test_an_unparseable_date_is_kept_not_dropped(requests_mock: Any, pipeline: dlt.Pipeline) -> None:
    cid = CLIENT_IDS[0]
    drafts = rows_of("drafts.json")
    drafts[1]["DateCreated"] = "19/08/2010 4:08pm"
    requests_mock.get(f"{BASE_URL}/clients.json", json=[{"ClientID": cid, "Name": "One"}])
    requests_mock.get(f"{BASE_URL}/clients/{cid}.json", json=client_details(cid, 0))
    requests_mock.get(f"{BASE_URL}/clients/{cid}/drafts.json", json=drafts)
    pipeline.run(campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL).with_resources("draft_campaigns"))
    rows = query(pipeline, "SELECT date_created, date_created__v_text FROM draft_campaigns ORDER BY campaign_id")
    created = dt.datetime(2010, 8, 19, 6, 8, tzinfo=dt.timezone.utc)  # 16:08 in Sydney (+10:00)
    assert sorted(rows, key=str) == sorted([(created, None), (None, "19/08/2010 4:08pm")], key=str)


def test_arrow_memory_is_given_back_once_each_large_table_is_read(
    mock_account: MockAccount, pipeline: dlt.Pipeline, monkeypatch: Any
) -> None:
    """Once per large (columnar) table's read, not for the small tables: the pool would otherwise keep
    the pages' memory through the load step."""
    released: list = []
    monkeypatch.setattr(account_reader, "release_unused_memory", lambda: released.append(1))
    pipeline.run(
        campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL).with_resources("lists", "active_subscribers")
    )
    assert released  # once per parent item the table is read under
    released.clear()
    pipeline.run(campaign_monitor_source(api_key=API_KEY, base_url=BASE_URL).with_resources("lists", "segments"))
    assert released == []
