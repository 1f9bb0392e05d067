"""mirror_list and the explicit actions over real HTTP against the sandbox: what the list holds after,
what was sent, the plan, the safety limit, faults, and a resumed run."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.files import owner_only

from cm_source import (
    CampaignMonitorError,
    delete_subscribers,
    mirror_list,
    suppress,
    unsubscribe_subscribers,
    unsuppress,
)
from cm_source.errors import InputError
from cm_source.http import CampaignMonitorAPI, RetryPolicy
from cm_source.sandbox import Sandbox, generate_account
from cm_source.write import actions
from cm_source.write.members import list_members


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate_account(subscribers=300)) as running:
        running.sandbox_list = running.account.lists[running.account.clients[0]["ClientID"]][0]["ListID"]
        running.account.list_details[running.sandbox_list]["UnsubscribeSetting"] = "OnlyThisList"
        yield running


def api(sandbox: Sandbox, waits: list[float] | None = None) -> CampaignMonitorAPI:
    """A client that records its waits instead of sleeping."""
    sleep = waits.append if waits is not None else (lambda _: None)
    return CampaignMonitorAPI(sandbox.api_key, sandbox.base_url, retry=RetryPolicy(sleep=sleep))


def members(sandbox: Sandbox) -> dict[str, str]:
    return list_members(api(sandbox), sandbox.sandbox_list).members


def audience(sandbox: Sandbox, keep: float = 0.95, new: int = 10) -> list[dict[str, Any]]:
    """Most of the list's members (renamed), and ``new`` people not on it."""
    current = sorted(members(sandbox).values())
    kept = current[: int(len(current) * keep)]
    return [{"email_address": email, "name": "Mirrored"} for email in kept] + [
        {"email_address": f"mirror.new{n}@example.com", "name": "New"} for n in range(new)
    ]


def writes(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests if r.method != "GET"]


def stored(sandbox: Sandbox, state: str) -> dict[str, dict]:
    return {row["EmailAddress"].lower(): row for row in sandbox.account.subscribers[sandbox.sandbox_list][state]}


@pytest.mark.parametrize("removal, state", [("unsubscribe", "Unsubscribed"), ("delete", "Deleted")])
def test_a_mirror_leaves_exactly_the_input_on_the_list(sandbox: Sandbox, removal: str, state: str) -> None:
    before = members(sandbox)
    rows = audience(sandbox)
    wanted = {row["email_address"].lower() for row in rows}
    leaving = set(before) - wanted
    sandbox.requests.clear()

    report = mirror_list(rows, sandbox.sandbox_list, removal, api=api(sandbox))

    assert set(members(sandbox)) == wanted
    assert report.upsert.new == 10 and report.upsert.updated == len(rows) - 10
    assert (report.removals.done, report.removals.refused, report.removals.not_found) == (len(leaving), [], [])
    assert all(stored(sandbox, state)[email]["Date"] == sandbox.account.system_date for email in leaving)
    on_list = {**stored(sandbox, "Active"), **stored(sandbox, "Unconfirmed")}
    assert {on_list[row["email_address"].lower()]["Name"] for row in rows} == {"Mirrored", "New"}
    sent = writes(sandbox)
    assert sum(r.path.endswith("/import.json") for r in sent) == 1
    removals = [r for r in sent if not r.path.endswith("/import.json")]
    removed = [r.body["EmailAddress"] if removal == "unsubscribe" else r.query["email"] for r in removals]
    assert sorted(email.lower() for email in removed) == sorted(leaving)  # one request each, nobody twice


def test_a_dry_run_sends_nothing_and_plans_what_the_real_run_does(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = audience(sandbox)
    sandbox.requests.clear()

    planned = mirror_list(
        rows, sandbox.sandbox_list, api=api(sandbox), dry_run=True, plan_path=str(tmp_path / "plan.csv")
    )
    assert owner_only(tmp_path / "plan.csv")

    assert writes(sandbox) == []
    with (tmp_path / "plan.csv").open(encoding="utf-8") as handle:
        plan = [(row["email_address"], row["action"]) for row in csv.DictReader(handle)]
    by_action = {action: {email for email, a in plan if a == action} for action in ("add", "update", "unsubscribe")}
    assert len(plan) == sum(map(len, by_action.values()))
    assert by_action["add"] == {f"mirror.new{n}@example.com" for n in range(10)}
    assert "would" not in planned.summary() and "add 10" in planned.summary() and "nothing sent" in planned.summary()

    done = mirror_list(rows, sandbox.sandbox_list, api=api(sandbox))

    unsubscribed = {r.body["EmailAddress"] for r in writes(sandbox) if r.path.endswith("/unsubscribe.json")}
    assert unsubscribed == by_action["unsubscribe"]
    assert (done.upsert.new, done.upsert.updated) == (len(by_action["add"]), len(by_action["update"]))


def test_the_safety_limit_refuses_before_anything_is_sent(sandbox: Sandbox) -> None:
    rows = [{"email_address": "only.one@example.com"}]
    count = len(members(sandbox))
    sandbox.requests.clear()

    with pytest.raises(InputError) as refused:
        mirror_list(rows, sandbox.sandbox_list, api=api(sandbox))

    line = str(refused.value)  # in the library's words: the setting a Python caller passes
    assert f"would unsubscribe {count:,} of list" in line and f"max_removals={count}" in line and "\n" not in line
    assert "--" not in line
    assert writes(sandbox) == []
    mirror_list(rows, sandbox.sandbox_list, api=api(sandbox), max_removals=count)  # allowed when raised
    assert set(members(sandbox)) == {row["email_address"] for row in rows}


@pytest.mark.parametrize("rows", [[], [{"email_address": ""}]], ids=["no rows", "no addresses"])
def test_an_empty_audience_is_always_refused(sandbox: Sandbox, rows: list[dict[str, Any]]) -> None:
    sandbox.requests.clear()
    with pytest.raises(CampaignMonitorError, match="mirror refused: the input holds no one"):
        mirror_list(rows, sandbox.sandbox_list, api=api(sandbox), max_removals=10**6)
    assert writes(sandbox) == [] and members(sandbox)


def test_a_member_whose_row_is_refused_stays_on_the_list(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = audience(sandbox, new=0)
    rows[0]["mobile_number"] = "12"  # not a possible number: refused before sending (220)
    report = mirror_list(rows, sandbox.sandbox_list, api=api(sandbox), rejects_path=str(tmp_path / "rejects.csv"))
    assert rows[0]["email_address"].lower() in members(sandbox)
    assert [(r.row["email_address"], r.code) for r in report.upsert.rejected] == [(rows[0]["email_address"], 220)]
    assert report.refused == 1 and "220" in (tmp_path / "rejects.csv").read_text(encoding="utf-8")
    assert owner_only(tmp_path / "rejects.csv")


def test_removals_under_429s_and_5xx_lose_nothing_and_remove_nobody_twice(sandbox: Sandbox) -> None:
    rows = audience(sandbox, keep=0.91, new=0)
    leaving = set(members(sandbox)) - {row["email_address"].lower() for row in rows}
    sandbox.faults.rate_limit(2, reset_seconds=3, only=r"/unsubscribe\.json")
    sandbox.faults.server_error(2, status=503, only=r"/unsubscribe\.json")  # fewer than 5 attempts in all
    sandbox.requests.clear()
    waits: list[float] = []

    report = mirror_list(rows, sandbox.sandbox_list, api=api(sandbox, waits))

    assert report.removals.done == len(leaving) and set(members(sandbox)) == {r["email_address"].lower() for r in rows}
    answered = [
        r.body["EmailAddress"].lower() for r in sandbox.requests if r.path.endswith("/unsubscribe.json") and not r.fault
    ]
    assert sorted(answered) == sorted(leaving)
    assert sum(bool(r.fault) for r in sandbox.requests) == 4
    assert any(2.9 < wait <= 3 for wait in waits)  # X-RateLimit-Reset held every request


def test_an_interrupted_mirror_resumes_without_sending_finished_work(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = audience(sandbox, keep=0.91)
    checkpoint = tmp_path / "mirror.jsonl"
    sent: list[str] = []
    unsubscribe = actions.ONE_ADDRESS["unsubscribe"]

    def interrupted_after_five(client: CampaignMonitorAPI, list_id: str, email: str) -> Any:
        if len(sent) >= 5:
            raise KeyboardInterrupt
        sent.append(email)
        return unsubscribe(client, list_id, email)

    monkeypatch.setitem(actions.ONE_ADDRESS, "unsubscribe", interrupted_after_five)
    with pytest.raises(KeyboardInterrupt):
        mirror_list(rows, sandbox.sandbox_list, api=api(sandbox), checkpoint_path=str(checkpoint))
    assert len(checkpoint.read_text().splitlines()) == 1 + len(sent)  # the import and each finished removal
    assert owner_only(checkpoint)
    monkeypatch.setitem(actions.ONE_ADDRESS, "unsubscribe", unsubscribe)
    sandbox.requests.clear()

    report = mirror_list(rows, sandbox.sandbox_list, api=api(sandbox), checkpoint_path=str(checkpoint))

    assert report.upsert.imports_resumed == 1 and report.upsert.imports_sent == 0
    again = {r.body["EmailAddress"] for r in writes(sandbox)}
    assert again and not again & set(sent)
    assert set(members(sandbox)) == {row["email_address"].lower() for row in rows}
    assert not checkpoint.exists()


def test_explicit_actions_report_every_address(sandbox: Sandbox, tmp_path: Path) -> None:
    client_id = sandbox.account.clients[0]["ClientID"]
    on_list = sorted(members(sandbox).values())[:3]
    rows = [{"email_address": on_list[0]}, {"email_address": "nobody.here@example.com"}, {"email_address": ""}]

    gone = unsubscribe_subscribers(rows, sandbox.sandbox_list, api=api(sandbox), rejects_path=str(tmp_path / "r.csv"))
    deleted = delete_subscribers(on_list[1:], sandbox.sandbox_list, api=api(sandbox))
    suppressed = suppress(["one@example.com", "Two@example.com", "not an address"], client_id, api=api(sandbox))
    lifted = unsuppress(["two@example.com"], client_id, api=api(sandbox))

    assert (gone.done, [r.code for r in gone.not_found], [r.code for r in gone.refused]) == (1, [203], [1])
    assert stored(sandbox, "Unsubscribed")[on_list[0].lower()]
    assert deleted.done == 2 and all(email.lower() in stored(sandbox, "Deleted") for email in on_list[1:])
    assert (suppressed.done, [r.row["email_address"] for r in suppressed.refused]) == (2, ["not an address"])
    assert lifted.done == 1
    addresses = {row["EmailAddress"] for row in sandbox.account.suppression_list[client_id]}
    assert "one@example.com" in addresses and "Two@example.com" not in addresses
    with (tmp_path / "r.csv").open(encoding="utf-8") as handle:
        assert sorted((r["email_address"], r["code"]) for r in csv.DictReader(handle)) == [
            ("", "1"),
            ("nobody.here@example.com", "203"),
        ]


def test_an_unknown_list_stops_an_action_before_anything_is_sent(sandbox: Sandbox) -> None:
    sandbox.requests.clear()
    with pytest.raises(CampaignMonitorError, match="list nosuchlist does not exist"):
        unsubscribe_subscribers(["a@example.com"], "nosuchlist", api=api(sandbox))
    assert writes(sandbox) == []


def test_progress_is_told_after_each_import_and_each_removal(sandbox: Sandbox, capsys: pytest.CaptureFixture) -> None:
    from cm_source.commands.push import ProgressLines

    rows = audience(sandbox, keep=0.95)  # one import, then a removal per leaving member
    seen: list[str] = []
    printer = ProgressLines(every_s=0)

    def both(report: Any) -> None:
        seen.append(report.summary())
        printer(report)

    report = mirror_list(rows, sandbox.sandbox_list, api=api(sandbox), progress=both)
    assert len(seen) == 1 + report.removals.done
    assert "imported" in seen[0] and seen[-1] == report.removals.summary()
    assert capsys.readouterr().out.count("so far: ") == len(seen)
