"""The write script against the sandbox over real HTTP: what lands in the list, the rejects, exit codes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from helpers.scripts import UPSERT_SCRIPT as SCRIPT

from cm_source.sandbox import Account, Sandbox, generate_account


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate_account(subscribers=300)) as running:
        yield running


def list_id(account: Account) -> str:
    return account.lists[account.clients[0]["ClientID"]][0]["ListID"]


def run_upsert(sandbox: Sandbox, cwd: Path, *args: str, api_key: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(
        {
            "SOURCES__CAMPAIGN_MONITOR__API_KEY": api_key or sandbox.api_key,
            "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url,
            "RUNTIME__DLTHUB_TELEMETRY": "false",
        }
    )
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def subscriber(sandbox: Sandbox, lid: str, email: str) -> dict[str, Any]:
    response = requests.get(
        f"{sandbox.base_url}/subscribers/{lid}.json", params={"email": email}, auth=(sandbox.api_key, "x")
    )
    assert response.status_code == 200, response.text
    return response.json()


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns = list(dict.fromkeys(c for row in rows for c in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_2600_rows_with_bad_ones_go_in_three_imports_and_exit_1(sandbox: Sandbox, tmp_path: Path) -> None:
    lid = list_id(sandbox.account)
    good = [
        {
            "email_address": f"new.person{i}@example.com",
            "name": f"Néw Person {i}",
            "consent_to_track": ["yes", "no", "1", "0", "true"][i % 5],
            "mobile_number": "+44 7700 900123" if i % 3 == 0 else "",
            "website": f"https://{i}.example",
        }
        for i in range(2569)
    ]
    bad_emails = [{"email_address": f"broken{i}@example", "name": "Broken"} for i in range(20)]
    bad_phones = [{"email_address": f"phone{i}@example.com", "mobile_number": "12"} for i in range(10)]
    duplicate = [
        {"email_address": "new.person4@example.com", "name": "Person Four, last row", "consent_to_track": "yes"}
    ]
    source = write_csv(tmp_path / "people.csv", good + bad_emails + bad_phones + duplicate)
    sandbox.requests.clear()

    result = run_upsert(sandbox, tmp_path, "--list-id", lid, "--input", str(source))

    assert result.returncode == 1, result.stderr
    imports = [r for r in sandbox.requests if r.method == "POST"]
    assert len(imports) == 3 and all(len(r.body["Subscribers"]) <= 1000 for r in imports)
    assert "2,600 rows read" in result.stdout and "30 rejected" in result.stdout
    first = subscriber(sandbox, lid, "new.person0@example.com")
    assert (first["State"], first["ConsentToTrack"], first["MobileNumber"]) == ("Active", "Yes", "+447700900123")
    assert subscriber(sandbox, lid, "new.person1@example.com")["ConsentToTrack"] == "No"
    assert subscriber(sandbox, lid, "new.person4@example.com")["Name"] == "Person Four, last row"
    assert {"Key": "website", "Value": "https://2.example"} in subscriber(sandbox, lid, "new.person2@example.com")[
        "CustomFields"
    ]
    with (tmp_path / "people.rejects.csv").open(encoding="utf-8") as handle:
        rejects = list(csv.DictReader(handle))
    assert sorted(r["email_address"] for r in rejects) == sorted(r["email_address"] for r in bad_emails + bad_phones)
    assert {r["code"] for r in rejects if r["email_address"].startswith("broken")} == {"1"}
    assert {r["code"] for r in rejects if r["email_address"].startswith("phone")} == {"220"}
    assert all(r["message"] for r in rejects)


def test_all_good_rows_exit_0_and_multi_select_from_duckdb_lands_as_options(sandbox: Sandbox, tmp_path: Path) -> None:
    lid = list_id(sandbox.account)
    database = tmp_path / "people.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("""CREATE TABLE people AS SELECT * FROM (VALUES
            ('zoë@bücher.example', 'Zoë', ['cycling', 'coffee']), ('jo@example.com', 'Jo', ['coffee'])
            ) AS t(email_address, name, interests)""")
    interests = next(f for f in sandbox.account.custom_fields[lid] if f["DataType"] == "MultiSelectMany")
    options = interests["FieldOptions"][:2]
    query = f"SELECT email_address, name, ['{options[0]}', '{options[1]}'] AS {interests['FieldName']} FROM people"

    result = run_upsert(sandbox, tmp_path, "--list-id", lid, "--duckdb", str(database), "--query", query)

    assert result.returncode == 0, result.stderr + result.stdout
    fields = subscriber(sandbox, lid, "zoë@bücher.example")["CustomFields"]
    assert [f["Value"] for f in fields if f["Key"] == interests["FieldName"]] == options


def test_dry_run_sends_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "people.csv",
        [{"email_address": "a@example.com"}, {"email_address": "b@example.com", "mobile_number": "12"}],
    )
    sandbox.requests.clear()
    result = run_upsert(sandbox, tmp_path, "--list-id", list_id(sandbox.account), "--input", str(source), "--dry-run")
    assert result.returncode == 1 and "would send 1" in result.stdout
    assert [r.method for r in sandbox.requests] == ["GET"]  # only the list's custom fields


@pytest.mark.parametrize(
    "case, expected",
    [
        ("unknown list", "list nosuchlist does not exist"),
        ("bad key", "rejected the API key"),
        ("missing input", "cannot read"),
        ("unknown column", "'shoe_size' is not a custom field of list"),
    ],
)
def test_nothing_can_be_done_exits_2_with_one_line(sandbox: Sandbox, tmp_path: Path, case: str, expected: str) -> None:
    lid = "nosuchlist" if case == "unknown list" else list_id(sandbox.account)
    row = {"email_address": "a@example.com", **({"shoe_size": "42"} if case == "unknown column" else {})}
    source = tmp_path / "missing.csv" if case == "missing input" else write_csv(tmp_path / "people.csv", [row])
    sandbox.requests.clear()
    result = run_upsert(
        sandbox, tmp_path, "--list-id", lid, "--input", str(source), api_key="wrong" if case == "bad key" else None
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not [r for r in sandbox.requests if r.method == "POST"]


def test_the_destination_pipes_a_dlt_resource_into_the_list(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dlt

    from cm_source.write.list_destination import campaign_monitor_subscribers, forget_list_fields

    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__API_KEY", sandbox.api_key)
    monkeypatch.setenv("SOURCES__CAMPAIGN_MONITOR__BASE_URL", sandbox.base_url)
    forget_list_fields()
    lid = list_id(sandbox.account)
    rows = [
        {"email_address": f"piped{i}@example.com", "consent_to_track": i % 2 == 0, "mobile_number": "0412 345 678"}
        for i in range(1200)
    ] + [{"email_address": "nope@example"}]
    sandbox.requests.clear()
    pipeline = dlt.pipeline(
        "cm_push_e2e",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=campaign_monitor_subscribers(
            list_id=lid, default_region="AU", rejects_path=str(tmp_path / "rejects.jsonl")
        ),
    )
    pipeline.run(rows, table_name="subscribers")
    assert len([r for r in sandbox.requests if r.method == "POST"]) == 2
    piped = subscriber(sandbox, lid, "piped0@example.com")
    assert (piped["ConsentToTrack"], piped["MobileNumber"]) == ("Yes", "+61412345678")
    assert subscriber(sandbox, lid, "piped1@example.com")["ConsentToTrack"] == "No"
    assert '"code": 1' in (tmp_path / "rejects.jsonl").read_text()


def active_emails(sandbox: Sandbox, lid: str) -> list[str]:
    return sorted(row["EmailAddress"] for row in sandbox.account.subscribers[lid]["Active"])


def test_the_script_mirrors_a_list_after_a_dry_run_shows_the_plan(sandbox: Sandbox, tmp_path: Path) -> None:
    lid = list_id(sandbox.account)
    sandbox.account.list_details[lid]["UnsubscribeSetting"] = "OnlyThisList"
    before = active_emails(sandbox, lid)
    keep = before[: int(len(before) * 0.95)]
    source = write_csv(tmp_path / "audience.csv", [{"email_address": e} for e in keep + ["joiner@example.com"]])
    sandbox.requests.clear()

    dry = run_upsert(sandbox, tmp_path, "--mode", "mirror", "--list-id", lid, "--input", str(source), "--dry-run")

    assert dry.returncode == 0, dry.stderr
    assert [r.method for r in sandbox.requests if r.method != "GET"] == []
    with (tmp_path / "audience.plan.csv").open(encoding="utf-8") as handle:
        planned = {row["email_address"]: row["action"] for row in csv.DictReader(handle)}
    leaving = {e for e, action in planned.items() if action == "unsubscribe"}
    assert planned["joiner@example.com"] == "add" and set(before) - set(keep) <= leaving
    assert f"unsubscribe {len(leaving)}" in dry.stdout and "audience.plan.csv" in dry.stdout

    real = run_upsert(sandbox, tmp_path, "--mode", "mirror", "--list-id", lid, "--input", str(source))

    assert real.returncode == 0, real.stderr
    assert f"unsubscribe: {len(leaving)} done, 0 refused" in real.stdout
    assert active_emails(sandbox, lid) == sorted(set(keep) | {"joiner@example.com"} - leaving)
    assert {row["EmailAddress"] for row in sandbox.account.subscribers[lid]["Unsubscribed"]} >= leaving


def test_a_mirror_that_would_empty_the_list_exits_2_in_one_line(sandbox: Sandbox, tmp_path: Path) -> None:
    lid = list_id(sandbox.account)
    source = write_csv(tmp_path / "audience.csv", [{"email_address": "only.me@example.com"}])
    sandbox.requests.clear()
    result = run_upsert(
        sandbox, tmp_path, "--mode", "mirror", "--removal", "delete", "--list-id", lid, "--input", str(source)
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "mirror refused: it would delete" in lines[0] and "--max-removals" in lines[0]
    assert [r for r in sandbox.requests if r.method != "GET"] == []


def test_the_script_suppresses_and_unsubscribes_with_exit_codes(sandbox: Sandbox, tmp_path: Path) -> None:
    client_id, lid = sandbox.account.clients[0]["ClientID"], list_id(sandbox.account)
    people = write_csv(
        tmp_path / "people.csv", [{"email_address": "quiet@example.com"}, {"email_address": "not an address"}]
    )
    suppressed = run_upsert(sandbox, tmp_path, "--mode", "suppress", "--client-id", client_id, "--input", str(people))
    assert suppressed.returncode == 1 and "1 refused" in suppressed.stdout
    assert "quiet@example.com" in {row["EmailAddress"] for row in sandbox.account.suppression_list[client_id]}

    member = active_emails(sandbox, lid)[0]
    leaving = write_csv(
        tmp_path / "leaving.csv", [{"email_address": member}, {"email_address": "stranger@example.com"}]
    )
    result = run_upsert(sandbox, tmp_path, "--mode", "unsubscribe", "--list-id", lid, "--input", str(leaving))
    assert result.returncode == 0, result.stderr
    assert "1 done, 0 refused, 1 not found" in result.stdout and "leaving.rejects.csv" in result.stdout
    assert member not in active_emails(sandbox, lid)
    usage = run_upsert(sandbox, tmp_path, "--mode", "suppress", "--input", str(people))
    assert usage.returncode == 2 and "needs --client-id" in usage.stderr


def posted(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests if r.method != "GET"]


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    return lines[0]


def test_an_export_headed_email_and_split_by_semicolons_loads(sandbox: Sandbox, tmp_path: Path) -> None:
    lid = list_id(sandbox.account)
    source = tmp_path / "export.csv"
    source.write_text("E-mail;Name\nsemi.colon@example.com;Semi Colon\n", encoding="utf-8")
    result = run_upsert(sandbox, tmp_path, "--list-id", lid, "--input", str(source))
    assert result.returncode == 0, result.stderr
    assert "the address from column 'E-mail'" in result.stdout
    assert subscriber(sandbox, lid, "semi.colon@example.com")["Name"] == "Semi Colon"


def test_no_email_column_names_the_fault_and_a_mapping_fixes_it(sandbox: Sandbox, tmp_path: Path) -> None:
    lid = list_id(sandbox.account)
    source = tmp_path / "crm.csv"
    source.write_text("Kontakt,Vorname\nmapped@example.com,Mappe\n", encoding="utf-8")
    sandbox.requests.clear()
    line = one_line(run_upsert(sandbox, tmp_path, "--list-id", lid, "--input", str(source)))
    assert line.endswith(
        "no email column in " + str(source) + " (columns: 'Kontakt', 'Vorname'): map one with"
        " --map COLUMN=email_address"
    )  # the command's flag, where the library says column_map
    assert posted(sandbox) == []
    (tmp_path / "map.toml").write_text('[map]\nVorname = "name"\n', encoding="utf-8")
    result = run_upsert(
        sandbox,
        tmp_path,
        "--list-id",
        lid,
        "--input",
        str(source),
        "--map",
        "Kontakt=email_address",
        "--map-file",
        str(tmp_path / "map.toml"),
    )
    assert result.returncode == 0, result.stderr
    assert subscriber(sandbox, lid, "mapped@example.com")["Name"] == "Mappe"


def test_a_windows_1252_export_names_the_line_and_the_option(sandbox: Sandbox, tmp_path: Path) -> None:
    lid = list_id(sandbox.account)
    source = tmp_path / "excel.csv"
    source.write_bytes("email_address,name\r\nplain@example.com,Plain\r\nzoe@example.com,Zoé\r\n".encode("cp1252"))
    sandbox.requests.clear()
    line = one_line(run_upsert(sandbox, tmp_path, "--list-id", lid, "--input", str(source)))
    assert f"{source} line 3 is not utf-8-sig text (byte 0xe9)" in line and "--encoding cp1252" in line
    assert posted(sandbox) == []
    result = run_upsert(sandbox, tmp_path, "--list-id", lid, "--input", str(source), "--encoding", "cp1252")
    assert result.returncode == 0, result.stderr
    assert subscriber(sandbox, lid, "zoe@example.com")["Name"] == "Zoé"


@pytest.mark.parametrize("content", ["", "email_address,name\n"], ids=["no header", "only a header"])
def test_an_empty_input_never_passes_by_accident(sandbox: Sandbox, tmp_path: Path, content: str) -> None:
    lid = list_id(sandbox.account)
    source = tmp_path / "empty.csv"
    source.write_text(content, encoding="utf-8")
    sandbox.requests.clear()
    assert f"{source} has no rows: nothing to upsert" in one_line(
        run_upsert(sandbox, tmp_path, "--list-id", lid, "--input", str(source))
    )
    mirror = run_upsert(
        sandbox, tmp_path, "--mode", "mirror", "--list-id", lid, "--input", str(source), "--allow-empty"
    )
    assert "nothing to mirror" in one_line(mirror)
    assert posted(sandbox) == []
    allowed = run_upsert(sandbox, tmp_path, "--list-id", lid, "--input", str(source), "--allow-empty")
    assert allowed.returncode == 0 and "0 rows read" in allowed.stdout


def test_a_list_by_its_name_and_one_created_on_request(sandbox: Sandbox, tmp_path: Path) -> None:
    client_id = sandbox.account.clients[0]["ClientID"]
    known = sandbox.account.lists[client_id][0]
    people = write_csv(tmp_path / "people.csv", [{"email_address": "by.name@example.com"}])
    result = run_upsert(sandbox, tmp_path, "--list", known["Name"], "--client-id", client_id, "--input", str(people))
    assert result.returncode == 0, result.stderr
    assert f"is {known['ListID']}" in result.stdout and subscriber(sandbox, known["ListID"], "by.name@example.com")
    line = one_line(run_upsert(sandbox, tmp_path, "--list", "Nope", "--client-id", client_id, "--input", str(people)))
    assert "no list is called 'Nope'" in line and repr(known["Name"]) in line and "--create-list" in line
    created = run_upsert(
        sandbox,
        tmp_path,
        "--list",
        "Spring Launch",
        "--create-list",
        "--client-id",
        client_id,
        "--unsubscribe-setting",
        "OnlyThisList",
        "--input",
        str(people),
    )
    assert created.returncode == 0, created.stderr
    new = next(row for row in sandbox.account.lists[client_id] if row["Name"] == "Spring Launch")
    assert sandbox.account.list_details[new["ListID"]]["UnsubscribeSetting"] == "OnlyThisList"
    assert subscriber(sandbox, new["ListID"], "by.name@example.com")["State"] == "Active"


UPSERT_ONE = """
import sys
from cm_source import upsert_subscribers
report = upsert_subscribers([{"email_address": "second.push@example.com"}], sys.argv[1], checkpoint_path=sys.argv[2])
print(report.new)
"""


def test_a_push_waits_for_another_writing_with_the_same_checkpoint(sandbox: Sandbox, tmp_path: Path) -> None:
    from cm_source.write.checkpoint import Checkpoint

    lid, log = list_id(sandbox.account), tmp_path / ".campaign_monitor" / "upsert.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(
        {
            "SOURCES__CAMPAIGN_MONITOR__API_KEY": sandbox.api_key,
            "SOURCES__CAMPAIGN_MONITOR__BASE_URL": sandbox.base_url,
            "RUNTIME__DLTHUB_TELEMETRY": "false",
        }
    )
    with Checkpoint(log):  # a first push, still running
        second = subprocess.Popen(
            [sys.executable, "-c", UPSERT_ONE, lid, str(log)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        said = second.stderr.readline() if second.stderr else ""
        assert "another run is writing with the checkpoint" in said and str(log) in said
        assert [r for r in sandbox.requests if r.path.endswith("import.json")] == []  # it has sent nothing yet
    assert second.wait(timeout=120) == 0 and second.stdout is not None and second.stdout.read().strip() == "1"
    assert subscriber(sandbox, lid, "second.push@example.com")["State"] == "Active"
