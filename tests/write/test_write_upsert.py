"""The write side against a mocked API shaped like import_subscribers*.json."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
from helpers.mock_account import API_KEY, BASE_URL
from helpers.samples import sample

from cm_source.concurrency import one_ahead
from cm_source.errors import CampaignMonitorError
from cm_source.http import CampaignMonitorAPI, RetryPolicy
from cm_source.write import UpsertSettings, upsert_subscribers
from cm_source.write.custom_fields import CustomFields
from cm_source.write.rows import RowError, e164, to_subscriber

LIST_ID = "a58ee1d3039b8bec838e6d1482a8a965"
IMPORT_URL = f"{BASE_URL}/subscribers/{LIST_ID}/import.json"
FIELDS = sample("custom_fields.json") + [
    {
        "FieldName": "interests",
        "Key": "[interests]",
        "DataType": "MultiSelectMany",
        "FieldOptions": ["cycling", "coffee", "jazz"],
        "VisibleInPreferenceCenter": True,
    },
]


def fields() -> CustomFields:
    return CustomFields(LIST_ID, FIELDS)


def api() -> CampaignMonitorAPI:
    return CampaignMonitorAPI(API_KEY, BASE_URL, retry=RetryPolicy(max_attempts=2, sleep=lambda _: None))


def mock_import(requests_mock: Any, bad: str = "invalid") -> list[dict[str, Any]]:
    """An import endpoint that fails addresses containing ``bad`` the way the API does (400, Code 210)."""
    bodies: list[dict[str, Any]] = []
    requests_mock.get(f"{BASE_URL}/lists/{LIST_ID}/customfields.json", json=FIELDS)

    def respond(request: Any, context: Any) -> dict[str, Any]:
        body = request.json()
        bodies.append(body)
        emails = [s["EmailAddress"] for s in body["Subscribers"]]
        failures = [{"EmailAddress": e, "Code": 1, "Message": "Invalid Email Address"} for e in emails if bad in e]
        result = {
            "TotalUniqueEmailsSubmitted": len(emails),
            "TotalExistingSubscribers": 0,
            "TotalNewSubscribers": len(emails) - len(failures),
            "DuplicateEmailsInSubmission": [],
            "FailureDetails": failures,
        }
        if failures:
            context.status_code = 400
            return {"Code": 210, "Message": "Subscriber Import had some failures", "ResultData": result}
        context.status_code = 201
        return result

    requests_mock.post(IMPORT_URL, json=respond)
    return bodies


@pytest.mark.parametrize(
    "given, sent",
    [
        ("true", "Yes"),
        ("YES", "Yes"),
        ("1", "Yes"),
        (True, "Yes"),
        (1, "Yes"),
        ("false", "No"),
        ("no", "No"),
        ("0", "No"),
        (False, "No"),
        ("", "Unchanged"),
        (None, "Unchanged"),
    ],
)
def test_consent_maps_to_the_only_values_the_api_takes(given: Any, sent: str) -> None:
    subscriber = to_subscriber(
        {"email_address": "a@example.com", "consent_to_track": given}, fields(), UpsertSettings()
    )
    assert subscriber["ConsentToTrack"] == sent


def test_consent_default_applies_only_where_the_column_is_absent() -> None:
    settings = UpsertSettings(consent_to_track_default="No")
    assert to_subscriber({"email_address": "a@example.com"}, fields(), settings)["ConsentToTrack"] == "No"
    assert (
        to_subscriber({"email_address": "a@example.com", "consent_to_track": ""}, fields(), settings)["ConsentToTrack"]
        == "Unchanged"
    )
    with pytest.raises(RowError) as refused:
        to_subscriber({"email_address": "a@example.com", "consent_to_track": "maybe"}, fields(), settings)
    assert refused.value.code == 215


@pytest.mark.parametrize(
    "given, region, sent",
    [
        ("+44 7700 900123", None, "+447700900123"),  # reserved: possible but not valid, still sent
        ("07700 900123", "GB", "+447700900123"),
        ("0412 345 678", "AU", "+61412345678"),
        ("+1 (415) 555-2671", None, "+14155552671"),
    ],
)
def test_mobile_numbers_go_as_e164(given: str, region: Any, sent: str) -> None:
    assert e164(given, region) == sent


@pytest.mark.parametrize("given, region", [("12", "GB"), ("+44 12", None), ("07700 900123", None), ("call me", "GB")])
def test_impossible_mobile_numbers_are_refused_with_code_220(given: str, region: Any) -> None:
    with pytest.raises(RowError) as refused:
        e164(given, region)
    assert refused.value.code == 220


def test_custom_fields_use_the_list_keys_and_multi_select_is_one_entry_per_option() -> None:
    row = {
        "email_address": "a@example.com",
        "website": "https://a.example",
        "age": 24.0,
        "subscription date": "2010-03-09",
        "interests": ["cycling", "jazz"],
        "name": None,
        "list_id": "ignored",
        "state": "Active",
        "_dlt_id": "x",
    }
    subscriber = to_subscriber(row, fields(), UpsertSettings())
    assert subscriber["CustomFields"] == [
        {"Key": "[website]", "Value": "https://a.example"},
        {"Key": "[age]", "Value": "24"},
        {"Key": "[subscriptiondate]", "Value": "2010-03-09"},
        {"Key": "[interests]", "Value": "cycling"},
        {"Key": "[interests]", "Value": "jazz"},
    ]
    assert "Name" not in subscriber  # empty values are not sent, so existing data is kept


def test_an_unknown_column_stops_everything_before_a_request(requests_mock: Any) -> None:
    mock_import(requests_mock)
    rows = [{"email_address": "a@example.com", "favourite_colour": "teal"}]
    with pytest.raises(CampaignMonitorError) as failure:
        upsert_subscribers(rows, LIST_ID, api=api())
    assert "'favourite_colour' is not a custom field of list" in str(failure.value)
    assert "website, age, subscription date, interests" in str(failure.value)
    assert not [r for r in requests_mock.request_history if r.method == "POST"]


def rows_with_faults(count: int) -> list[dict[str, Any]]:
    """``count`` good rows, then 20 invalid emails, 10 impossible mobiles and one duplicate."""
    rows = [
        {
            "email_address": f"person{i}@example.com",
            "name": f"Person {i}",
            "consent_to_track": "yes",
            "mobile_number": "+61412345678" if i % 2 else "",
        }
        for i in range(count)
    ]
    rows += [{"email_address": f"invalid{i}@example", "consent_to_track": "no"} for i in range(20)]
    rows += [{"email_address": f"phone{i}@example.com", "mobile_number": "12"} for i in range(10)]
    rows.append({"email_address": "PERSON7@example.com", "name": "Person Seven, again"})
    return rows


def test_batches_of_at_most_1000_with_every_row_accounted_for(requests_mock: Any, tmp_path: Path) -> None:
    bodies = mock_import(requests_mock)
    rows = rows_with_faults(2569)  # 2,600 rows in all
    report = upsert_subscribers(rows, LIST_ID, api=api(), rejects_path=str(tmp_path / "rejects.csv"))
    assert len(rows) == 2600
    assert [len(b["Subscribers"]) for b in bodies] == [1000, 1000, 589]
    assert {b["Resubscribe"] for b in bodies} == {False}
    assert report.imports_sent == 3 and report.new == 2569 and len(report.rejected) == 30
    assert report.duplicates == ["PERSON7@example.com"]
    assert report.rows_read == report.accepted + len(report.rejected) + len(report.duplicates)
    sent = {s["EmailAddress"]: s for b in bodies for s in b["Subscribers"]}
    assert sent["PERSON7@example.com"]["Name"] == "Person Seven, again" and "person7@example.com" not in sent
    assert (
        sent["person1@example.com"]["MobileNumber"] == "+61412345678"
        and "MobileNumber" not in sent["person2@example.com"]
    )
    with (tmp_path / "rejects.csv").open(encoding="utf-8") as handle:
        rejects = list(csv.DictReader(handle))
    assert {(r["code"], r["message"]) for r in rejects if r["email_address"].startswith("invalid")} == {
        ("1", "Invalid Email Address")
    }
    phone = [r for r in rejects if r["email_address"].startswith("phone")]
    assert len(phone) == 10 and {r["code"] for r in phone} == {"220"} and phone[0]["mobile_number"] == "12"


def test_a_400_without_result_data_rejects_the_whole_batch(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE_URL}/lists/{LIST_ID}/customfields.json", json=FIELDS)
    requests_mock.post(IMPORT_URL, status_code=400, json={"Code": 212, "Message": "No subscribers to import"})
    report = upsert_subscribers(
        [{"email_address": "a@example.com"}, {"email_address": "b@example.com"}], LIST_ID, api=api()
    )
    assert [(r.row["email_address"], r.code) for r in report.rejected] == [
        ("a@example.com", 212),
        ("b@example.com", 212),
    ]
    assert report.accepted == 0


def test_an_unknown_list_is_named_and_nothing_is_sent(requests_mock: Any) -> None:
    requests_mock.get(
        f"{BASE_URL}/lists/{LIST_ID}/customfields.json",
        status_code=400,
        json={"Code": 101, "Message": "Invalid ListID"},
    )
    with pytest.raises(CampaignMonitorError, match=f"list {LIST_ID} does not exist"):
        upsert_subscribers([{"email_address": "a@example.com"}], LIST_ID, api=api())


def test_dry_run_validates_and_sends_nothing(requests_mock: Any) -> None:
    mock_import(requests_mock)
    report = upsert_subscribers(rows_with_faults(50), LIST_ID, api=api(), dry_run=True)
    assert not [r for r in requests_mock.request_history if r.method == "POST"]
    assert report.dry_run and report.accepted == 70 and len(report.rejected) == 10  # emails are the API's verdict


def test_an_interrupted_run_resumes_without_resending_finished_imports(requests_mock: Any, tmp_path: Path) -> None:
    bodies = mock_import(requests_mock)
    rows = rows_with_faults(2569)
    checkpoint = tmp_path / "checkpoint.json"
    requests_mock.post(
        IMPORT_URL,
        [
            {
                "status_code": 201,
                "json": {"TotalNewSubscribers": 1000, "TotalExistingSubscribers": 0, "FailureDetails": []},
            },
            {"status_code": 503, "json": {"Code": 503, "Message": "Service Unavailable"}},
            {"status_code": 503, "json": {"Code": 503, "Message": "Service Unavailable"}},
        ],
    )
    with pytest.raises(CampaignMonitorError, match="answered 503 .* in all 2 attempts"):
        upsert_subscribers(rows, LIST_ID, api=api(), checkpoint_path=str(checkpoint))
    assert len(checkpoint.read_text().splitlines()) == 1
    requests_mock.reset_mock()
    bodies = mock_import(requests_mock)
    report = upsert_subscribers(rows, LIST_ID, api=api(), checkpoint_path=str(checkpoint))
    assert [len(b["Subscribers"]) for b in bodies] == [1000, 589]  # the first thousand is not sent again
    assert report.imports_resumed == 1 and report.imports_sent == 2 and report.new == 2569
    assert not checkpoint.exists()  # a finished run leaves nothing to resume


def test_settings_travel_in_every_import(requests_mock: Any) -> None:
    bodies = mock_import(requests_mock)
    settings = UpsertSettings(resubscribe=True, queue_autoresponders=True, restart_autoresponders=True)
    upsert_subscribers([{"email_address": "a@example.com"}], LIST_ID, api=api(), settings=settings)
    assert {k: v for k, v in bodies[0].items() if k != "Subscribers"} == {
        "Resubscribe": True,
        "QueueSubscriptionBasedAutoResponders": True,
        "RestartSubscriptionBasedAutoresponders": True,
    }


def test_the_key_comes_from_the_read_side_settings(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__API_KEY", API_KEY)
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__BASE_URL", BASE_URL)
    bodies = mock_import(requests_mock)
    upsert_subscribers([{"email_address": "a@example.com"}], LIST_ID)
    assert len(bodies) == 1
    import base64

    header = requests_mock.request_history[-1].headers["Authorization"]
    assert base64.b64decode(header.split()[1]).decode().startswith(API_KEY + ":")


def test_the_dlt_destination_upserts_in_batches_of_1000(requests_mock: Any, tmp_path: Path) -> None:
    from cm_source.write.list_destination import campaign_monitor_subscribers, forget_list_fields

    forget_list_fields()
    bodies = mock_import(requests_mock)
    rows = [
        {"email_address": f"p{i}@example.com", "interests": ["coffee", "jazz"], "consent_to_track": True}
        for i in range(2500)
    ] + [{"email_address": "invalid@example"}]
    pipeline = dlt.pipeline(
        "cm_push",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=campaign_monitor_subscribers(
            list_id=LIST_ID, api_key=API_KEY, base_url=BASE_URL, rejects_path=str(tmp_path / "rejects.jsonl")
        ),
    )
    pipeline.run(rows, table_name="subscribers")
    assert sorted(len(b["Subscribers"]) for b in bodies) == [501, 1000, 1000]
    sent = bodies[0]["Subscribers"][0]
    assert sent["CustomFields"] == [{"Key": "[interests]", "Value": "coffee"}, {"Key": "[interests]", "Value": "jazz"}]
    assert sent["ConsentToTrack"] == "Yes"
    assert len([r for r in requests_mock.request_history if r.method == "GET"]) == 1  # fields fetched once
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(r["email_address"], r["code"]) for r in rejects] == [("invalid@example", 1)]


@pytest.mark.parametrize("as_loaded", ["list", "json"])
def test_the_read_sides_custom_fields_column_is_sent_back(as_loaded: str) -> None:
    """A row of active_subscribers, as the read side loaded it, can be pushed back as it is."""
    entries = [
        {"key": "website", "value": "https://example.com"},
        {"key": "interests", "value": "cycling"},
        {"key": "interests", "value": "jazz"},
    ]
    row = {
        "email_address": "a@example.com",
        "list_id": "L",
        "state": "Active",
        "website": "https://edited.example",
        "custom_fields": entries if as_loaded == "list" else json.dumps(entries),
    }
    subscriber = to_subscriber(row, fields(), UpsertSettings())
    assert subscriber["CustomFields"] == [
        {"Key": "[website]", "Value": "https://edited.example"},  # its own column wins: that is the edit
        {"Key": "[interests]", "Value": "cycling"},
        {"Key": "[interests]", "Value": "jazz"},
    ]


def test_an_unknown_field_in_the_custom_fields_column_stops_the_run() -> None:
    row = {"email_address": "a@example.com", "custom_fields": [{"key": "shoe size", "value": "44"}]}
    with pytest.raises(CampaignMonitorError, match="column 'shoe size' is not a custom field of list"):
        to_subscriber(row, fields(), UpsertSettings())


def test_a_bad_custom_fields_entry_in_a_late_row_stops_the_run_before_the_first_import(requests_mock: Any) -> None:
    """Rows are turned into subscribers while earlier imports are in flight, so everything that can stop
    the run is checked first: nothing may be half-written."""
    bodies = mock_import(requests_mock)
    good = [{"email_address": f"p{i}@example.com", "custom_fields": "[]"} for i in range(1500)]
    for late in ([{"key": "shoe size", "value": "44"}], "{not json", [["website", "x"]]):
        with pytest.raises(CampaignMonitorError, match="custom_fields|shoe size"):
            upsert_subscribers(
                good + [{"email_address": "late@example.com", "custom_fields": late}], LIST_ID, api=api()
            )
    assert bodies == []


def test_the_last_row_of_an_email_wins_even_when_it_is_rejected(requests_mock: Any) -> None:
    """As within one Campaign Monitor import: an earlier row is superseded, not sent in its place."""
    bodies = mock_import(requests_mock)
    rows = [
        {"email_address": "dup@example.com", "mobile_number": "+61412345678"},
        {"email_address": "other@example.com"},
        {"email_address": "DUP@example.com", "mobile_number": "12"},
    ]
    report = upsert_subscribers(rows, LIST_ID, api=api())
    assert [s["EmailAddress"] for body in bodies for s in body["Subscribers"]] == ["other@example.com"]
    assert report.duplicates == ["DUP@example.com"]
    assert [(r.row["email_address"], r.code) for r in report.rejected] == [("DUP@example.com", 220)]
    assert report.rows_read == report.accepted + len(report.rejected) + len(report.duplicates) == 3


def test_one_ahead_makes_the_next_item_while_the_caller_still_holds_this_one() -> None:
    second_made = threading.Event()

    def items() -> Iterator[int]:
        yield 1
        second_made.set()
        yield 2

    handed = one_ahead(items())
    assert next(handed) == 1
    assert second_made.wait(timeout=10), "item 2 was not made while item 1 was being handled"
    assert list(handed) == [2]


def test_one_ahead_raises_the_makers_error_after_the_items_made_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("row 1001 is broken")

    handed = one_ahead(items())
    assert next(handed) == 1
    with pytest.raises(ValueError, match="row 1001"):
        next(handed)


def test_a_keyword_the_write_functions_do_not_take_is_refused_as_python_would() -> None:
    from cm_source import mirror_list

    with pytest.raises(TypeError, match="unexpected keyword argument 'rejects_file'"):
        upsert_subscribers([{"email_address": "a@example.com"}], LIST_ID, api=api(), rejects_file="r.csv")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'dryrun'"):
        mirror_list([], LIST_ID, api=api(), dryrun=True)  # type: ignore[call-arg]
