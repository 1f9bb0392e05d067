"""The generated account itself, read straight from the Account: its layout, subscribers, time zones,
and every campaign's reports consistent with its summary."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest
from helpers.sandbox import CAMPAIGN_EVENTS, LONDON, SYDNEY, all_rows, client_in, fixture_row_keys

from cm_source.sandbox import STATES, Account, generate_account

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def test_generation_is_deterministic(account: Account) -> None:
    assert generate_account() == account
    assert generate_account(seed=7, clients=2, lists_per_client=3, subscribers=3000) == account
    other = generate_account(seed=8)
    assert other.api_key != account.api_key
    assert other.subscribers != account.subscribers


def test_default_layout(account: Account) -> None:
    assert len(account.clients) == 2
    assert all(len(account.lists[client["ClientID"]]) >= 2 for client in account.clients)
    counts = {
        lid: {state: len(rows) for state, rows in by_state.items()} for lid, by_state in account.subscribers.items()
    }
    assert sum(sum(per_state.values()) for per_state in counts.values()) == 3000 + 4  # + the four TIME_ROWS
    assert max(per_state["Active"] for per_state in counts.values()) > 2000
    assert any(sum(per_state.values()) == 0 for per_state in counts.values())
    assert all(any(per_state[state] for per_state in counts.values()) for state in STATES)
    campaign_counts = sorted(len(rows) for rows in account.campaigns.values())
    assert campaign_counts[-1] == 1050 and campaign_counts[0] < 10
    assert max(len(rows) for rows in account.suppression_list.values()) > 1000
    assert any("Tags" not in row for rows in account.campaigns.values() for row in rows)
    assert all(isinstance(row["TotalRecipients"], int) for rows in account.campaigns.values() for row in rows)


def test_clients_have_distinct_keys_and_time_zones(account: Account) -> None:
    details = list(account.client_details.values())
    keys = {account.api_key, *(detail["ApiKey"] for detail in details)}
    assert len(keys) == len(details) + 1
    assert {detail["BasicDetails"]["TimeZone"] for detail in details} == {
        "(GMT+10:00) Canberra, Melbourne, Sydney",
        "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London",
    }


def test_list_ids_segments_and_details_are_consistent(account: Account) -> None:
    for client_id, lists in account.lists.items():
        list_ids = {row["ListID"] for row in lists}
        assert {row["ListID"] for row in account.segments[client_id]} <= list_ids
        for list_id in list_ids:
            assert account.list_details[list_id]["ListID"] == list_id
            assert account.list_owner(list_id) == client_id


def test_subscriber_rows(account: Account) -> None:
    memberships = Counter()
    for list_id, state, row in all_rows(account):
        assert row["State"] == state
        assert DATE_RE.fullmatch(row["Date"]) and DATE_RE.fullmatch(row["ListJoinedDate"])
        assert row["ListJoinedDate"] <= row["Date"] <= account.system_date
        assert row["ConsentToTrack"] in ("Yes", "No") and row["ConsentToSendSms"] in ("Yes", "No")
        assert "MobileNumber" not in row or re.fullmatch(r"\+[1-9][0-9]{7,14}", row["MobileNumber"])
        field_names = {field["FieldName"] for field in account.custom_fields[list_id]}
        assert all(value["Key"] in field_names and isinstance(value["Value"], str) for value in row["CustomFields"])
        memberships[row["EmailAddress"]] += 1
    for by_state in account.subscribers.values():
        emails = [row["EmailAddress"] for rows in by_state.values() for row in rows]
        assert len(emails) == len(set(emails))
    assert max(memberships.values()) > 1  # the same person is on several lists
    assert any("MobileNumber" in row for _, _, row in all_rows(account))
    assert any("MobileNumber" not in row for _, _, row in all_rows(account))


def test_non_ascii_names_and_addresses(account: Account) -> None:
    names = {row["Name"] for _, _, row in all_rows(account)}
    assert {"Zoë Ångström", "Łukasz Żółć", "山田 太郎"} <= names
    emails = [row["EmailAddress"] for _, _, row in all_rows(account)]
    assert any(not email.split("@")[0].isascii() for email in emails)
    assert any(not email.split("@")[1].isascii() for email in emails)


def test_custom_field_definitions(account: Account) -> None:
    for fields in account.custom_fields.values():
        assert all(re.fullmatch(r"\[[^\[\] ]+\]", field["Key"]) for field in fields)
    every_field = [field for fields in account.custom_fields.values() for field in fields]
    multi = [field for field in every_field if field["DataType"] == "MultiSelectMany"]
    assert multi and all(len(field["FieldOptions"]) >= 2 for field in multi)


def sent_campaigns(account: Account) -> Iterator[tuple[str, dict]]:
    for client_id, rows in account.campaigns.items():
        for row in rows:
            yield client_id, row


def test_time_zones_are_campaign_monitors_names(account: Account) -> None:
    assert client_in(account, LONDON) and client_in(account, SYDNEY)
    big_client = account.clients[0]["ClientID"]
    own_zone = account.client_details[big_client]["BasicDetails"]["TimeZone"]
    zones = [row["ScheduledTimeZone"] for row in account.scheduled[big_client]]
    assert own_zone in zones
    assert "(GMT-05:00) Eastern Time (US & Canada)" in zones


def test_sent_campaigns_spread_over_two_years(account: Account) -> None:
    for rows in account.campaigns.values():
        dates = sorted(row["SentDate"] for row in rows)
        assert dates[0] < "2022-10-01" and dates[-1] > "2024-04-01"
        assert dates[-1] < account.system_date


def test_every_sent_campaign_has_consistent_reports(account: Account) -> None:
    assert len(account.campaign_reports) == sum(len(rows) for rows in account.campaigns.values())
    for client_id, campaign in sent_campaigns(account):
        campaign_id = campaign["CampaignID"]
        reports = account.campaign_reports[campaign_id]
        summary = account.campaign_summaries[campaign_id]
        counts = {
            "Recipients": len(reports["recipients"]),
            "TotalOpened": len(reports["opens"]),
            "Clicks": len(reports["clicks"]),
            "Unsubscribed": len(reports["unsubscribes"]),
            "Bounced": len(reports["bounces"]),
            "SpamComplaints": len(reports["spam"]),
            "UniqueOpened": len({row["EmailAddress"].casefold() for row in reports["opens"]}),
        }
        assert counts == {name: summary[name] for name in counts}
        assert campaign["TotalRecipients"] == summary["Recipients"] <= 1500
        assert summary["Name"] == campaign["Name"] and summary["WebVersionURL"] == campaign["WebVersionURL"]
        recipients = {row["EmailAddress"] for row in reports["recipients"]}
        targets = account.campaign_lists_and_segments[campaign_id]
        target_lists = {row["ListID"] for row in targets["Lists"] + targets["Segments"]}
        assert {row["ListID"] for row in reports["recipients"]} <= target_lists
        assert target_lists <= {row["ListID"] for row in account.lists[client_id]}
        for report in CAMPAIGN_EVENTS:
            for row in reports[report]:
                assert row["EmailAddress"] in recipients
                assert campaign["SentDate"] <= row["Date"] <= account.system_date
                assert row["Date"].endswith(":00")
        usage = account.email_client_usage[campaign_id]
        assert sum(row["Subscribers"] for row in usage) == summary["UniqueOpened"]
        assert not usage or abs(sum(row["Percentage"] for row in usage) - 100) < 0.1


def test_only_recent_campaigns_have_real_audiences(account: Account) -> None:
    for rows in account.campaigns.values():
        newest_first = sorted(rows, key=lambda row: row["SentDate"], reverse=True)
        assert all(row["TotalRecipients"] <= 3 for row in newest_first[8:])
        assert sum(row["TotalRecipients"] for row in newest_first[:8]) > 8 * 3
    assert max(row["TotalRecipients"] for _, row in sent_campaigns(account)) > 1000


def test_reports_do_not_grow_with_subscribers() -> None:
    bigger = generate_account(subscribers=12000)
    assert 1000 < max(row["TotalRecipients"] for _, row in sent_campaigns(bigger)) <= 1500
    assert all(row["TotalRecipients"] <= 3 for rows in bigger.campaigns.values() for row in rows[8:])
    assert max(len(reports["recipients"]) for reports in bigger.journey_email_reports.values()) <= 400


@pytest.mark.parametrize("report", ["recipients", *CAMPAIGN_EVENTS])
def test_campaign_report_rows_have_the_samples_keys(account: Account, report: str) -> None:
    keys = fixture_row_keys(f"campaign_{report}.json")
    rows = [row for reports in account.campaign_reports.values() for row in reports[report]]
    assert rows and all(set(row) == keys for row in rows)


def test_recipients_sent_through_a_segment_meet_its_rules(account: Account) -> None:
    checked = 0
    for campaign_id, targets in account.campaign_lists_and_segments.items():
        list_ids = {row["ListID"] for row in targets["Lists"]}
        only_segment_lists = {row["ListID"] for row in targets["Segments"]} - list_ids
        for segment in targets["Segments"]:
            members = {row["EmailAddress"] for row in account.segment_members(segment["SegmentID"])}
            for row in account.campaign_reports[campaign_id]["recipients"]:
                if row["ListID"] == segment["ListID"] and row["ListID"] in only_segment_lists:
                    assert row["EmailAddress"] in members
                    checked += 1
    assert checked > 0
