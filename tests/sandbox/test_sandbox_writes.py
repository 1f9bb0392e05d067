"""Subscriber writes and what they store: imports and adds, updates, resubscribing, suppressions,
duplicates, case-insensitive matching, concurrency, and the stored order of a list's rows."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from helpers import sandbox as shared
from helpers.samples import sample
from helpers.sandbox import DETAIL_KEYS, Writer, basic_auth, counts, field, get, person, read_all_pages

from cm_source.sandbox import Sandbox, generate_account

writer = shared.writer  # fixtures


def test_import_all_good_is_201_and_new_rows_are_served_in_order(writer: Writer) -> None:
    new = [
        person("zz.new@example.org", Name="Zed"),
        person("Aa.New@example.com", Name="Ay", MobileNumber="+61412345678", ConsentToSendSms="Yes"),
        person("mm.new@example.net"),
    ]
    response = writer.import_(
        new, Resubscribe=False, QueueSubscriptionBasedAutoResponders=False, RestartSubscriptionBasedAutoresponders=True
    )
    assert response.status_code == 201
    assert response.json() == {
        "TotalUniqueEmailsSubmitted": 3,
        "TotalExistingSubscribers": 0,
        "TotalNewSubscribers": 3,
        "DuplicateEmailsInSubmission": [],
        "FailureDetails": [],
    }
    assert set(response.json()) == set(sample("import_subscribers.json"))
    emails = writer.emails()
    assert emails == sorted(emails, key=str.casefold)
    assert {"zz.new@example.org", "Aa.New@example.com", "mm.new@example.net"} <= set(emails)
    details = writer.details("aa.new@example.com")
    assert list(details) == DETAIL_KEYS
    assert details == {
        "EmailAddress": "Aa.New@example.com",
        "Name": "Ay",
        "MobileNumber": "+61412345678",
        "Date": writer.now,
        "ListJoinedDate": writer.now,
        "State": "Active",
        "CustomFields": [],
        "ReadsEmailWith": "",
        "ConsentToTrack": "Yes",
        "ConsentToSendSms": "Yes",
    }


def test_import_with_some_failures_is_400_210_and_keeps_the_good_rows(writer: Writer) -> None:
    existing = writer.generated("Active")
    before = len(writer.emails())
    response = writer.import_(
        [
            person("fresh@example.com", Name="Fresh"),
            person("example+1@example"),
            person(existing["EmailAddress"].upper(), Name="Renamed"),
        ]
    )
    assert response.status_code == 400
    assert response.json() == {
        "Code": 210,
        "Message": "Subscriber Import had some failures",
        "ResultData": {
            "TotalUniqueEmailsSubmitted": 3,
            "TotalExistingSubscribers": 1,
            "TotalNewSubscribers": 1,
            "DuplicateEmailsInSubmission": [],
            "FailureDetails": [{"EmailAddress": "example+1@example", "Code": 1, "Message": "Invalid Email Address"}],
        },
    }
    partial = sample("import_subscribers_partial_success.json")
    assert set(response.json()) == set(partial) and set(response.json()["ResultData"]) == set(partial["ResultData"])
    emails = writer.emails()
    assert len(emails) == before + 1 and "fresh@example.com" in emails
    assert writer.details("fresh@example.com")["Name"] == "Fresh"
    renamed = writer.details(existing["EmailAddress"])
    assert (renamed["EmailAddress"], renamed["Name"]) == (existing["EmailAddress"], "Renamed")


def test_a_new_subscriber_gets_no_for_unchanged_consent_and_empty_defaults(writer: Writer) -> None:
    assert writer.add({"EmailAddress": "quiet@example.com", "ConsentToTrack": "Unchanged"}).status_code == 201
    assert writer.details("quiet@example.com") == {
        "EmailAddress": "quiet@example.com",
        "Name": "",
        "Date": writer.now,
        "ListJoinedDate": writer.now,
        "State": "Active",
        "CustomFields": [],
        "ReadsEmailWith": "",
        "ConsentToTrack": "No",
        "ConsentToSendSms": "No",
    }


def test_an_update_replaces_given_fields_and_keeps_the_rest(writer: Writer) -> None:
    row = next(
        row
        for row in writer.account.subscribers[writer.list_id]["Active"]
        if {"website", "age"} < {value["Key"] for value in row["CustomFields"]}
    )
    changes = [field("[age]", "41"), field("[website]", "", Clear=True), field("[interests]", "")]
    update = person(row["EmailAddress"], Name="New Name", ConsentToTrack="Unchanged", CustomFields=changes)
    response = writer.import_([update])
    assert response.status_code == 201 and counts(response.json()) == (1, 1, 0)
    kept = [value for value in row["CustomFields"] if value["Key"] not in ("website", "age")]
    assert writer.details(row["EmailAddress"]) == {
        **{key: row[key] for key in DETAIL_KEYS if key in row},
        "Name": "New Name",
        "CustomFields": [field("age", "41")] + kept,
    }


def test_multi_select_values_are_stored_as_repeated_keys(writer: Writer) -> None:
    values = [
        field("[interests]", "news"),
        field("[interests]", "not an option"),
        field("[interests]", "events"),
        field("[interests]", "news"),
        field("[salaryrange]", "bogus"),
        field("[salaryrange]", "£30k+"),
        field("[shoesize]", "44"),  # not a field of the list: ignored
    ]
    assert writer.add(person("multi@example.com", CustomFields=values)).status_code == 201
    expected = [field("interests", "news"), field("interests", "events"), field("salary range", "£30k+")]
    assert writer.details("multi@example.com")["CustomFields"] == expected
    served = next(row for row in writer.served() if row["EmailAddress"] == "multi@example.com")
    assert served["CustomFields"] == expected
    assert writer.add(person("multi@example.com", CustomFields=[field("[interests]", "offers")])).status_code == 201
    assert writer.details("multi@example.com")["CustomFields"] == [field("interests", "offers"), expected[2]]


@pytest.mark.parametrize("state", ["Unsubscribed", "Bounced", "Deleted"])
def test_resubscribe_false_updates_in_place_and_true_moves_back_to_active(writer: Writer, state: str) -> None:
    row = writer.account.subscribers[writer.list_id][state][0]
    email = row["EmailAddress"]
    kept = writer.import_([person(email, Name="Still away")], Resubscribe=False)
    assert kept.status_code == 201 and counts(kept.json()) == (1, 1, 0)
    details = writer.details(email)
    assert (details["State"], details["Name"], details["Date"]) == (state, "Still away", row["Date"])
    assert email not in writer.emails() and email in writer.emails(state.lower())
    back = writer.import_([person(email)], Resubscribe=True)
    assert back.status_code == 201 and counts(back.json()) == (1, 1, 0)
    details = writer.details(email)
    assert (details["State"], details["Date"]) == ("Active", writer.now)
    assert details["ListJoinedDate"] == row["ListJoinedDate"]
    assert email in writer.emails() and email not in writer.emails(state.lower())


def test_add_resubscribes_only_with_a_json_true(writer: Writer) -> None:
    email = writer.account.subscribers[writer.list_id]["Unsubscribed"][0]["EmailAddress"]
    for flag in (False, "true", None):
        assert writer.add(person(email), Resubscribe=flag).status_code == 201
        assert writer.details(email)["State"] == "Unsubscribed"
    assert writer.add(person(email), Resubscribe=True, RestartSubscriptionBasedAutoresponders=True).json() == email
    assert writer.details(email)["State"] == "Active"


def test_unconfirmed_is_updated_and_stays_unconfirmed(writer: Writer) -> None:
    row = writer.account.subscribers[writer.list_id]["Unconfirmed"][0]
    response = writer.import_([person(row["EmailAddress"], Name="Pending")], Resubscribe=True)
    assert response.status_code == 201 and counts(response.json()) == (1, 1, 0)
    details = writer.details(row["EmailAddress"])
    assert (details["State"], details["Name"], details["Date"]) == ("Unconfirmed", "Pending", row["Date"])


def test_a_suppressed_address_is_added_only_with_resubscribe(writer: Writer) -> None:
    path = f"/clients/{writer.client_id}/suppressionlist.json"
    suppressed = read_all_pages(writer.http, writer.sandbox, path)
    email = suppressed[0]["EmailAddress"]
    refused = writer.import_([person(email), person("ok@example.com")])
    assert refused.status_code == 400
    result = refused.json()["ResultData"]
    assert [(failure["EmailAddress"], failure["Code"]) for failure in result["FailureDetails"]] == [(email, 204)]
    assert counts(result) == (2, 0, 1)
    single = writer.add(person(email))
    assert single.status_code == 400 and single.json()["Code"] == 204
    assert writer.details(email)["Code"] == 203
    added = writer.import_([person(email)], Resubscribe=True)
    assert added.status_code == 201 and counts(added.json()) == (1, 0, 1)
    assert writer.details(email)["State"] == "Active"
    after = read_all_pages(writer.http, writer.sandbox, path)
    assert [row["EmailAddress"] for row in after] == [row["EmailAddress"] for row in suppressed[1:]]


def test_duplicates_in_one_import_last_wins_and_are_listed_once(writer: Writer) -> None:
    response = writer.import_(
        [
            person("twice@example.com", Name="First"),
            person("other@example.com"),
            person("TWICE@example.com", Name="Second"),
            person("Twice@Example.com", Name="Last", ConsentToTrack="No"),
        ]
    )
    assert response.status_code == 201
    assert response.json() == {
        "TotalUniqueEmailsSubmitted": 2,
        "TotalExistingSubscribers": 0,
        "TotalNewSubscribers": 2,
        "DuplicateEmailsInSubmission": ["Twice@Example.com"],
        "FailureDetails": [],
    }
    details = writer.details("twice@example.com")
    assert (details["EmailAddress"], details["Name"], details["ConsentToTrack"]) == ("Twice@Example.com", "Last", "No")
    assert [email.casefold() for email in writer.emails()].count("twice@example.com") == 1


def test_an_existing_address_matches_ignoring_case_and_keeps_its_spelling(writer: Writer) -> None:
    row = writer.generated("Active")
    before = len(writer.emails())
    response = writer.add(person(row["EmailAddress"].upper(), Name="Shouty"))
    assert (response.status_code, response.json()) == (201, row["EmailAddress"].upper())
    assert len(writer.emails()) == before
    assert writer.details(row["EmailAddress"])["EmailAddress"] == row["EmailAddress"]


def test_add_subscriber_answers_201_with_the_address(writer: Writer) -> None:
    before = len(writer.emails())
    subscriber = person("single@example.com", Name="Single", CustomFields=[field("[website]", "https://s.example.com")])
    response = writer.add(subscriber, Resubscribe=True, RestartSubscriptionBasedAutoresponders=False)
    assert response.status_code == 201
    assert response.json() == "single@example.com" and isinstance(sample("add_subscriber.json"), str)
    assert writer.details("single@example.com")["CustomFields"] == [field("website", "https://s.example.com")]
    assert writer.add(person("single@example.com")).status_code == 201
    assert len(writer.emails()) == before + 1


def test_concurrent_writes_all_land_and_reads_stay_consistent(writer: Writer) -> None:
    before = len(writer.emails())
    stats_path = f"/lists/{writer.list_id}/stats.json"
    stats_before = get(writer.http, writer.sandbox, stats_path).json()

    def worker(number: int) -> None:
        with requests.Session() as http:
            http.auth = writer.http.auth
            for item in range(20):
                assert http.post(writer.url + ".json", json=person(f"p{number}.{item}@example.com")).status_code == 201
                page = get(http, writer.sandbox, f"/lists/{writer.list_id}/active.json").json()
                assert page["RecordsOnThisPage"] == len(page["Results"]) == page["TotalNumberOfRecords"]
                assert before < page["TotalNumberOfRecords"] <= before + 160

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(8)))
    assert len(writer.emails()) == before + 160
    stats = get(writer.http, writer.sandbox, stats_path).json()
    assert stats["TotalActiveSubscribers"] == stats_before["TotalActiveSubscribers"] + 160
    assert stats["NewActiveSubscribersToday"] == stats_before["NewActiveSubscribersToday"] + 160


def test_reimporting_what_is_served_changes_nothing(writer: Writer) -> None:
    keys = {
        definition["FieldName"]: definition["Key"]
        for definition in get(writer.http, writer.sandbox, f"/lists/{writer.list_id}/customfields.json").json()
    }
    served = writer.served()
    sent = ("EmailAddress", "Name", "MobileNumber", "ConsentToTrack", "ConsentToSendSms")
    subscribers = [
        {
            **{name: row[name] for name in sent if name in row},
            "CustomFields": [field(keys[value["Key"]], value["Value"]) for value in row["CustomFields"]],
        }
        for row in served
    ]
    response = writer.import_(subscribers)
    assert response.status_code == 201 and counts(response.json()) == (len(served), len(served), 0)
    assert writer.served() == served


def test_segment_members_follow_writes(writer: Writer) -> None:
    account = writer.account
    segment_id = next(
        sid
        for sid, details in account.segment_details.items()
        if details["ListID"] == writer.list_id and "@example.com" in json.dumps(details["RuleGroups"])
    )
    before = writer.http.get(f"{writer.sandbox.base_url}/segments/{segment_id}.json").json()["ActiveSubscribers"]
    assert writer.add(person("new.member@example.com", Name="New Member")).status_code == 201
    assert writer.add(person("outsider@elsewhere.test", Name="Outsider")).status_code == 201
    after = writer.http.get(f"{writer.sandbox.base_url}/segments/{segment_id}.json").json()
    assert after["ActiveSubscribers"] == before + 1 == len(account.segment_members(segment_id))
    served = read_all_pages(writer.http, writer.sandbox, f"/segments/{segment_id}/active.json")
    assert "new.member@example.com" in {row["EmailAddress"] for row in served}
    assert "outsider@elsewhere.test" not in {row["EmailAddress"] for row in served}


def rewritten(before: dict[str, list[dict]], after: dict[str, list[dict]], named: list[str]) -> dict[str, list[dict]]:
    """A list's rows as rewriting the whole list stores them: every row it held `before` (state by state, in
    stored order) in one dict by case-folded address, the addresses a write `named` that are new to the
    list added in the order first named, each row as it is `after` the write, and each state's rows taken
    in the dict's order."""
    now = {row["EmailAddress"].casefold(): row for rows in after.values() for row in rows}
    order = {row["EmailAddress"].casefold(): None for rows in before.values() for row in rows}
    order.update((email.casefold(), None) for email in named if email.casefold() in now)
    return {state: [now[key] for key in order if now[key]["State"] == state] for state in before}


def test_writes_store_rows_as_rewriting_the_whole_list_does() -> None:
    """Writes find rows through a per-list address index and store only the state lists that change;
    every state's rows, in stored order, and the suppression list end up exactly as rewriting the whole
    list (see rewritten) leaves them, also after a state list was replaced behind the writes' back."""
    account = generate_account(subscribers=600)
    client_id = account.clients[0]["ClientID"]
    list_id = account.lists[client_id][0]["ListID"]
    members = account.subscribers[list_id]
    server = Sandbox(account)
    authorization = basic_auth(server)["Authorization"]

    def post(path: str, body: dict) -> int:
        before = {state: list(rows) for state, rows in members.items()}
        entries = body.get("Subscribers", [body])
        target = f"/api/v3.3/subscribers/{list_id}{path}"
        reply = server.handle("POST", target, authorization, json.dumps(body).encode())
        assert members == rewritten(before, members, [entry["EmailAddress"] for entry in entries]), path
        return reply.status

    def emails(state: str, count: int, start: int = 0) -> list[str]:
        return [row["EmailAddress"] for row in members[state][start : start + count]]

    suppressions = list(account.suppression_list[client_id])
    suppressed = [row["EmailAddress"] for row in suppressions[:6]]
    inactive = emails("Unsubscribed", 3) + emails("Bounced", 2) + emails("Deleted", 2)
    statuses = [
        post(
            "/import.json",
            {
                "Subscribers": [person(e, Name="Upd") for e in emails("Active", 5, 3)]
                + [person(f"new.{n}@example.com") for n in range(4)]
                + [person(e.upper()) for e in emails("Unconfirmed", 2) + inactive[:2]]
            },
        ),
        post(
            "/import.json",
            {
                "Subscribers": [person(e) for e in inactive[2:] + emails("Active", 2)]
                + [person(suppressed[0]), person("bad address")],
                "Resubscribe": True,
            },
        ),
        post("/import.json", {"Subscribers": [person(suppressed[1]), person("new.9@example.com")]}),
        post(".json", {**person(emails("Deleted", 1, 3)[0]), "Resubscribe": True}),
        post(".json", {**person(suppressed[2]), "Resubscribe": True}),
    ]
    members["Active"] = list(members["Active"])  # replaced behind the writes' back: re-indexed
    statuses.append(
        post(
            "/import.json",
            {"Subscribers": [person(e, Name="Again") for e in emails("Active", 3, len(members["Active"]) - 3)]},
        )
    )
    statuses.append(post("/import.json", {"Subscribers": [person(inactive[0], Name="Active now")]}))
    statuses.append(post("/unsubscribe.json", {"EmailAddress": emails("Active", 1, 7)[0].upper()}))
    assert statuses == [201, 400, 400, 201, 201, 201, 201, 200]
    lifted = {suppressed[0].casefold(), suppressed[2].casefold()}  # resubscribed; suppressed[1] was refused
    assert account.suppression_list[client_id] == [
        row for row in suppressions if row["EmailAddress"].casefold() not in lifted
    ]
    for states in account.subscribers.values():
        assert all(row["State"] == state for state, rows in states.items() for row in rows)


def test_a_write_to_a_list_in_another_shape_is_refused() -> None:
    """Writes rely on Account's rule for a list's rows (each in its own State's list, no address twice);
    a list that breaks it is refused rather than rewritten."""
    account = generate_account(subscribers=50)
    list_id = account.lists[account.clients[0]["ClientID"]][0]["ListID"]
    active = account.subscribers[list_id]["Active"]
    account.subscribers[list_id]["Active"] = active + [dict(active[0])]
    server = Sandbox(account)
    body = json.dumps(person("someone.new@example.com")).encode()
    with pytest.raises(ValueError, match="stored twice"):
        server.handle("POST", f"/api/v3.3/subscribers/{list_id}.json", basic_auth(server)["Authorization"], body)


def test_delete_moves_a_subscriber_to_deleted_from_any_state(writer: Writer) -> None:
    active, unsubscribed = writer.generated("Active")["EmailAddress"], writer.generated("Unsubscribed")["EmailAddress"]
    for email in (active.upper(), unsubscribed):
        response = writer.http.delete(writer.url + ".json", params={"email": email})
        assert (response.status_code, response.content) == (200, b"")
    for email in (active, unsubscribed):
        assert (writer.details(email)["State"], writer.details(email)["Date"]) == ("Deleted", writer.now)
        assert email in writer.emails("deleted") and email not in writer.emails("active")
    again = writer.http.delete(writer.url + ".json", params={"email": active})
    assert again.status_code == 200 and writer.details(active)["State"] == "Deleted"
    unknown = writer.http.delete(writer.url + ".json", params={"email": "never.here@example.com"})
    assert (unknown.status_code, unknown.json()["Code"]) == (400, 203)


@pytest.mark.parametrize("setting", ["AllClientLists", "OnlyThisList"])
def test_unsubscribe_follows_the_lists_unsubscribe_setting(writer: Writer, setting: str) -> None:
    other = writer.account.lists[writer.client_id][1]["ListID"]
    email = "on.two.lists@example.com"
    for list_id in (writer.list_id, other):
        imported = writer.http.post(
            f"{writer.sandbox.base_url}/subscribers/{list_id}/import.json", json={"Subscribers": [person(email)]}
        )
        assert imported.status_code == 201
    writer.account.list_details[writer.list_id]["UnsubscribeSetting"] = setting
    suppressed_before = len(writer.account.suppression_list[writer.client_id])

    assert writer.http.post(writer.url + "/unsubscribe.json", json={"EmailAddress": email}).status_code == 200

    elsewhere = writer.http.get(f"{writer.sandbox.base_url}/subscribers/{other}.json", params={"email": email}).json()
    suppressions = writer.account.suppression_list[writer.client_id]
    assert writer.details(email)["State"] == "Unsubscribed"
    if setting == "AllClientLists":
        assert (elsewhere["State"], elsewhere["Date"]) == ("Unsubscribed", writer.now)
        assert suppressions[-1] == {
            "SuppressionReason": "Unsubscribed",
            "EmailAddress": email,
            "Date": writer.now,
            "State": "Suppressed",
        }
        assert len(suppressions) == suppressed_before + 1
    else:
        assert elsewhere["State"] == "Active" and len(suppressions) == suppressed_before
