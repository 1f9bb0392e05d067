"""Account activity between syncs: what it changes, stamped with the account's now, and what it leaves."""

from __future__ import annotations

from cm_source.sandbox import STATES, account_activity, generate_account
from cm_source.sandbox.activity import MOVES


def where(account, list_id: str, email: str) -> tuple:
    for state, rows in account.subscribers[list_id].items():
        for row in rows:
            if row["EmailAddress"] == email:
                return state, row
    raise AssertionError(f"{email} is not on list {list_id}")


def test_a_round_moves_people_in_every_way_and_stamps_each_change_within_it() -> None:
    account, untouched = generate_account(seed=3, subscribers=600), generate_account(seed=3, subscribers=600)
    before = account.system_date
    activity = account_activity(account, minutes=60, people=2, moves=1)
    assert activity.now > before and account.system_date == activity.now
    assert {(source, target) for _, _, source, target in activity.moved} == set(MOVES)
    for list_id, email, _, target in activity.moved[-5:]:
        state, row = where(account, list_id, email)
        assert state == target == row["State"] and before < row["Date"] <= activity.now
    for list_id, email in activity.joined:
        state, row = where(account, list_id, email)
        assert state == "Active" and before < row["ListJoinedDate"] <= activity.now
    assert activity.edited
    edited_states = set()
    for list_id, email in activity.edited:
        (_, was), (state, row) = where(untouched, list_id, email), where(account, list_id, email)
        assert row["Date"] == was["Date"] and (row["CustomFields"], row["Name"]) != (was["CustomFields"], was["Name"])
        edited_states.add(state)
    assert edited_states == set(STATES)  # quiet edits in every state


def test_a_round_sends_a_campaign_and_adds_opens_with_a_true_repeat_to_the_one_before() -> None:
    account = generate_account(seed=3, subscribers=600)
    client_id = account.clients[0]["ClientID"]
    previous = account.campaigns[client_id][0]["CampaignID"]
    opens_before = len(account.campaign_reports[previous]["opens"])
    activity = account_activity(account)
    assert account.campaigns[client_id][0]["CampaignID"] == activity.sent_campaign
    assert account.campaign_reports[activity.sent_campaign]["recipients"]
    opens = account.campaign_reports[previous]["opens"]
    assert activity.new_events == {previous: len(opens) - opens_before} and opens[-1] == opens[-2]
    assert all(row["Date"] <= activity.now for row in opens)
    assert account.campaign_summaries[previous]["TotalOpened"] == len(opens)


def test_the_same_rounds_make_the_same_account() -> None:
    first, second = generate_account(seed=5, subscribers=300), generate_account(seed=5, subscribers=300)
    for account in (first, second):
        account_activity(account)
        account_activity(account)
    assert first.subscribers == second.subscribers and first.campaigns == second.campaigns
