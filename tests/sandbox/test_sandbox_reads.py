"""The GET endpoints' answers against the account: collections, list stats, subscriber fields and
flags, one subscriber, tags, administrators and people, journeys, webhooks, segments and campaign reports."""

from __future__ import annotations

from collections import Counter

import pytest
from helpers import sandbox as shared
from helpers.samples import rows_of
from helpers.sandbox import (
    CAMPAIGN_EVENTS,
    DETAIL_KEYS,
    JOURNEY_REPORTS,
    LONDON,
    SUBSCRIBER_KEYS,
    SYDNEY,
    api_fixture,
    as_key,
    client_in,
    fixture_row_keys,
    get,
    newest_campaign,
    read_all_pages,
)

from cm_source.sandbox import STATES

session, ids = shared.session, shared.ids  # fixtures


def test_unpaged_collections(session, sandbox, account, ids) -> None:
    client_id = ids["big_client"]
    for collection in ("scheduled", "drafts", "lists", "segments", "templates"):
        response = get(session, sandbox, f"/clients/{client_id}/{collection}.json")
        assert response.json() == getattr(account, collection)[client_id]
    assert get(session, sandbox, f"/clients/{ids['small_client']}/scheduled.json").json() == []
    fields = get(session, sandbox, f"/lists/{ids['big_list']}/customfields.json").json()
    assert fields == account.custom_fields[ids["big_list"]]
    assert get(session, sandbox, f"/lists/{ids['big_list']}.json").json() == account.list_details[ids["big_list"]]
    assert get(session, sandbox, "/systemdate.json").json() == {"SystemDate": account.system_date}


def test_list_stats_count_states(session, sandbox, account, ids) -> None:
    stats = get(session, sandbox, f"/lists/{ids['big_list']}/stats.json").json()
    members = account.subscribers[ids["big_list"]]
    assert len(stats) == 24
    assert stats["TotalActiveSubscribers"] == len(members["Active"])
    assert stats["TotalUnsubscribes"] == len(members["Unsubscribed"])
    assert stats["TotalBounces"] == len(members["Bounced"])
    assert stats["TotalDeleted"] == len(members["Deleted"])
    today = account.system_date[:10]
    assert stats["NewActiveSubscribersToday"] == sum(row["Date"][:10] == today for row in members["Active"])
    windows = [stats[f"NewActiveSubscribers{window}"] for window in ("Today", "ThisWeek", "ThisMonth", "ThisYear")]
    assert windows == sorted(windows)


@pytest.mark.parametrize(
    ("params", "extra"),
    [
        ({}, set()),
        ({"includetrackingpreference": "true"}, {"ConsentToTrack"}),
        ({"includesmspreference": "true"}, {"ConsentToSendSms"}),
        ({"includetrackingpreference": "false", "includesmspreference": "no"}, set()),
    ],
)
def test_include_flags(session, sandbox, account, ids, params: dict, extra: set) -> None:
    list_id = ids["small_list"]
    stored = {row["EmailAddress"]: row for row in account.subscribers[list_id]["Unsubscribed"]}
    rows = get(session, sandbox, f"/lists/{list_id}/unsubscribed.json", **params).json()["Results"]
    assert len(rows) == len(stored)
    for row in rows:
        has_mobile = "MobileNumber" in stored[row["EmailAddress"]]
        mobile = {"MobileNumber"} if "ConsentToSendSms" in extra and has_mobile else set()
        assert set(row) == SUBSCRIBER_KEYS | extra | mobile
        assert all(row[key] == stored[row["EmailAddress"]][key] for key in row)


def test_sms_flag_shows_mobile_numbers_where_present(session, sandbox, ids) -> None:
    path = f"/lists/{ids['big_list']}/active.json"
    rows = read_all_pages(session, sandbox, path, includesmspreference="true", includetrackingpreference="TRUE")
    with_mobile = [row for row in rows if "MobileNumber" in row]
    assert 0 < len(with_mobile) < len(rows)
    assert all({"ConsentToTrack", "ConsentToSendSms"} <= set(row) for row in rows)


def test_multi_select_values_repeat_the_key(session, sandbox, account, ids) -> None:
    list_id = ids["small_list"]
    stored = next(
        row
        for row in account.subscribers[list_id]["Active"]
        if sum(value["Key"] == "interests" for value in row["CustomFields"]) >= 2
    )
    rows = get(session, sandbox, f"/lists/{list_id}/active.json").json()["Results"]
    served = next(row for row in rows if row["EmailAddress"] == stored["EmailAddress"])
    interests = [value["Value"] for value in served["CustomFields"] if value["Key"] == "interests"]
    assert len(interests) >= 2 and len(set(interests)) == len(interests)
    assert served["CustomFields"] == stored["CustomFields"]


@pytest.mark.parametrize("state", STATES)
def test_one_subscriber_from_any_state(session, sandbox, account, ids, state: str) -> None:
    list_id = ids["small_list"]
    for row in account.subscribers[list_id][state][:3]:
        url = f"{sandbox.base_url}/subscribers/{list_id}.json"
        response = session.get(url, params={"email": row["EmailAddress"].upper()})
        expected = {key: row[key] for key in DETAIL_KEYS if key in row}
        assert response.status_code == 200
        assert list(response.json()) == list(expected) and response.json() == expected
        assert set(DETAIL_KEYS) - {"MobileNumber"} <= set(expected)


def test_one_subscriber_unknown_or_malformed_address(session, sandbox, ids) -> None:
    url = f"{sandbox.base_url}/subscribers/{ids['small_list']}.json"
    unknown = session.get(url, params={"email": "nobody@example.com"})
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"Code": 203, "Message": "Subscriber not in list or has already been removed."},
    )
    for params in ({}, {"email": "not-an-address"}):
        malformed = session.get(url, params=params)
        assert (malformed.status_code, malformed.json()) == (400, {"Code": 1, "Message": "Invalid Email Address"})


@pytest.mark.parametrize(
    ("time_zone", "email", "local_time"),
    [
        (LONDON, "summer.joiner@example.com", "2024-07-01 12:00:00"),
        (LONDON, "winter.joiner@example.com", "2024-01-15 12:00:00"),
        (SYDNEY, "sydney.summer@example.com", "2024-01-15 12:00:00"),
        (SYDNEY, "sydney.winter@example.com", "2024-07-01 12:00:00"),
    ],
)
def test_time_rows_are_served_as_active_subscribers(session, sandbox, account, time_zone, email, local_time) -> None:
    assert account.system_date == "2024-07-15 09:30:00"
    list_id = account.lists[client_in(account, time_zone)][0]["ListID"]
    rows = read_all_pages(session, sandbox, f"/lists/{list_id}/active.json", date=local_time[:16])
    row = next(row for row in rows if row["EmailAddress"] == email)
    assert (row["Date"], row["ListJoinedDate"], row["State"]) == (local_time, local_time, "Active")


def test_tags_count_campaigns_as_int_then_as_string(session, sandbox, account, ids) -> None:
    keys = fixture_row_keys("tags.json")
    assert keys == fixture_row_keys("ruby/tags.json")
    for client_id, kind in ((ids["big_client"], int), (ids["small_client"], str)):
        served = get(session, sandbox, f"/clients/{client_id}/tags.json").json()
        assert served == account.tags[client_id] and served
        assert all(set(row) == keys and type(row["NumberOfCampaigns"]) is kind for row in served)
        expected = Counter(
            tag
            for kind_rows in (account.campaigns, account.scheduled, account.drafts)
            for row in kind_rows[client_id]
            for tag in row.get("Tags", [])
        )
        assert {row["Name"]: int(row["NumberOfCampaigns"]) for row in served} == dict(expected)
    assert any(
        isinstance(row["NumberOfCampaigns"], str) and row["NumberOfCampaigns"].isdigit()
        for row in account.tags[ids["small_client"]]
    )


def shape(row: dict) -> dict[str, type]:
    """A row's fields and the JSON type of each."""
    return {name: type(value) for name, value in row.items()}


def test_administrators_and_people_are_shaped_as_the_samples(session, sandbox, account) -> None:
    """A few administrators, and per client a few people with varied access levels, some invited: every
    row with the fields and types of Campaign Monitor's samples (administrators.json, people.json)."""
    administrators = get(session, sandbox, "/admins.json").json()
    assert administrators == account.administrators and len(administrators) == 3
    assert all(shape(row) == shape(rows_of("administrators.json")[0]) for row in administrators)
    assert {row["Status"] for row in administrators} == {"Active", "Invited"}
    for client_id in account.lists:
        people = get(session, sandbox, f"/clients/{client_id}/people.json").json()
        assert people == account.people[client_id] and 3 <= len(people) <= 5
        assert all(shape(row) == shape(rows_of("people.json")[0]) for row in people)
        assert len({row["EmailAddress"].casefold() for row in people}) == len(people)
        assert len({row["AccessLevel"] for row in people}) >= 3
        assert {row["Status"] for row in people} == {"Active", "Invited"}


def test_journeys_of_each_client(session, sandbox, account) -> None:
    keys = fixture_row_keys("journeys/client_journeys.json")
    summary = api_fixture("journeys/journey_summary.json")
    for client_id, lists in account.lists.items():
        served = get(session, sandbox, f"/clients/{client_id}/journeys.json").json()
        assert served == account.journeys[client_id] and 1 <= len(served) <= 2
        for journey in served:
            assert set(journey) == keys
            assert journey["ListID"] in {row["ListID"] for row in lists}
            details = get(session, sandbox, f"/journeys/{journey['JourneyID']}.json").json()
            assert details == account.journey_details[journey["JourneyID"]]
            assert set(details) == set(summary)
            assert (details["JourneyID"], details["Name"]) == (journey["JourneyID"], journey["Name"])
            assert 1 <= len(details["Emails"]) <= 3
            assert all(set(email) == set(summary["Emails"][0]) for email in details["Emails"])


def test_journey_email_counts_match_the_rows_served(session, sandbox, account) -> None:
    emails = [email for details in account.journey_details.values() for email in details["Emails"]]
    assert sum(email["Opened"] for email in emails) > 0 and sum(email["Clicked"] for email in emails) > 0
    for email in emails:
        served = {
            report: read_all_pages(session, sandbox, f"/journeys/email/{email['EmailID']}/{report}.json", pagesize=100)
            for report in JOURNEY_REPORTS
        }
        for report, rows in served.items():
            assert rows == account.journey_email_reports[email["EmailID"]][report]
            fixture_keys = fixture_row_keys(f"journeys/journey_email_{report}_with_params.json")
            assert all(set(row) == fixture_keys for row in rows)
        counts = {
            "Sent": len(served["recipients"]),
            "Opened": len(served["opens"]),
            "Clicked": len(served["clicks"]),
            "Bounced": len(served["bounces"]),
            "Unsubscribed": len(served["unsubscribes"]),
            "UniqueOpened": len({row["EmailAddress"].casefold() for row in served["opens"]}),
        }
        assert counts == {name: email[name] for name in counts}
        assert email["UniqueOpened"] <= email["Opened"]
        sent_at = {row["EmailAddress"]: row["SentDate"] for row in served["recipients"]}
        for report in JOURNEY_REPORTS[1:]:
            assert all(sent_at[row["EmailAddress"]] <= row["Date"] <= account.system_date for row in served[report])


def test_webhooks_of_each_list(session, sandbox, account) -> None:
    keys = fixture_row_keys("list_webhooks.json")
    counts = []
    for lists in account.lists.values():
        for row in lists:
            served = get(session, sandbox, f"/lists/{row['ListID']}/webhooks.json").json()
            assert served == account.webhooks[row["ListID"]]
            assert all(set(hook) == keys and hook["PayloadFormat"] in ("Json", "Xml") for hook in served)
            counts.append(len(served))
    assert min(counts) == 0 and max(counts) >= 1 and max(counts) <= 2


def test_segment_details_count_the_members_served(session, sandbox, account) -> None:
    keys = set(api_fixture("segment_details.json"))
    sizes = {}
    for segments in account.segments.values():
        for segment in segments:
            segment_id = segment["SegmentID"]
            details = get(session, sandbox, f"/segments/{segment_id}.json").json()
            assert set(details) == keys
            assert details == account.segment_details[segment_id] == account.segment_detail(segment_id)
            assert (details["ListID"], details["Title"]) == (segment["ListID"], segment["Title"])
            rules = [rule for group in details["RuleGroups"] for rule in group["Rules"]]
            assert rules and all(set(rule) == {"RuleType", "Clause"} for rule in rules)
            members = read_all_pages(session, sandbox, f"/segments/{segment_id}/active.json")
            assert len(members) == details["ActiveSubscribers"]
            active = {row["EmailAddress"]: row for row in account.subscribers[segment["ListID"]]["Active"]}
            assert all(row == {key: active[row["EmailAddress"]][key] for key in SUBSCRIBER_KEYS} for row in members)
            sizes[segment_id] = len(members)
    assert max(sizes.values()) > 1000 and min(sizes.values()) == 0


def test_campaign_reports_served_match_the_summary(session, sandbox, account) -> None:
    for client_id in account.lists:
        for campaign in sorted(account.campaigns[client_id], key=lambda row: row["SentDate"])[-9:]:
            campaign_id = campaign["CampaignID"]
            summary = get(session, sandbox, f"/campaigns/{campaign_id}/summary.json").json()
            assert summary == account.campaign_summaries[campaign_id]
            assert set(summary) == set(api_fixture("campaign_summary.json"))
            served = {
                report: read_all_pages(session, sandbox, f"/campaigns/{campaign_id}/{report}.json")
                for report in ("recipients", *CAMPAIGN_EVENTS)
            }
            assert len(served["recipients"]) == summary["Recipients"] == campaign["TotalRecipients"]
            assert len(served["opens"]) == summary["TotalOpened"]
            assert len({row["EmailAddress"].casefold() for row in served["opens"]}) == summary["UniqueOpened"]
            assert len(served["clicks"]) == summary["Clicks"]
            assert len(served["bounces"]) == summary["Bounced"]
            assert len(served["unsubscribes"]) == summary["Unsubscribed"]
            assert len(served["spam"]) == summary["SpamComplaints"]
            for report, rows in served.items():
                assert Counter(map(as_key, rows)) == Counter(map(as_key, account.campaign_reports[campaign_id][report]))


def test_some_opens_and_clicks_are_exact_repeats(session, sandbox, account) -> None:
    for client_id in account.lists:
        campaign_id = newest_campaign(account, client_id)
        for report in ("opens", "clicks"):
            rows = read_all_pages(session, sandbox, f"/campaigns/{campaign_id}/{report}.json")
            repeats = [row for row, count in Counter(map(as_key, rows)).items() if count > 1]
            assert repeats, f"no repeated {report} in {campaign_id}"
            counted = "TotalOpened" if report == "opens" else "Clicks"
            assert len(rows) == account.campaign_summaries[campaign_id][counted]


def test_lists_and_segments_and_email_client_usage(session, sandbox, account) -> None:
    with_segment = 0
    for client_id in account.lists:
        for campaign in sorted(account.campaigns[client_id], key=lambda row: row["SentDate"])[-8:]:
            campaign_id = campaign["CampaignID"]
            targets = get(session, sandbox, f"/campaigns/{campaign_id}/listsandsegments.json").json()
            assert targets == account.campaign_lists_and_segments[campaign_id]
            sample_targets = api_fixture("campaign_listsandsegments.json")
            assert set(targets) == set(sample_targets) and targets["Lists"]
            assert all(set(row) == set(sample_targets["Lists"][0]) for row in targets["Lists"])
            assert all(set(row) == set(sample_targets["Segments"][0]) for row in targets["Segments"])
            assert all(row in account.lists[client_id] for row in targets["Lists"])
            assert all(row in account.segments[client_id] for row in targets["Segments"])
            with_segment += bool(targets["Segments"])
            usage = get(session, sandbox, f"/campaigns/{campaign_id}/emailclientusage.json").json()
            assert usage == account.email_client_usage[campaign_id]
            assert all(set(row) == fixture_row_keys("email_client_usage.json") for row in usage)
            assert sum(row["Subscribers"] for row in usage) == account.campaign_summaries[campaign_id]["UniqueOpened"]
            assert [row["Subscribers"] for row in usage] == sorted((row["Subscribers"] for row in usage), reverse=True)
    assert with_segment >= 1
