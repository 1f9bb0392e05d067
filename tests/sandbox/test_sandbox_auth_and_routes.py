"""Who may ask what, and what is not there: HTTP Basic auth, client-key scope, unknown IDs and
paths (404), and methods a path does not take (405)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from helpers import sandbox as shared
from helpers.sandbox import Writer, get, newest_campaign, person

from cm_source.sandbox import Account, Sandbox

session, ids, writer = shared.session, shared.ids, shared.writer  # fixtures


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
    ],
)
def test_missing_or_malformed_auth_is_code_50(sandbox: Sandbox, headers: dict) -> None:
    response = requests.get(sandbox.base_url + "/systemdate.json", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"Code": 50, "Message": "Must supply a valid HTTP Basic Authorization header"}


def test_bearer_tokens_are_checked_as_the_api_checks_them(sandbox: Sandbox) -> None:
    def code(token: str) -> tuple:
        response = requests.get(sandbox.base_url + "/systemdate.json", headers={"Authorization": f"Bearer {token}"})
        return response.status_code, response.json().get("Code") if response.status_code != 200 else None

    assert code("abc") == (401, 120)
    pair = sandbox.oauth.grant()
    assert code(pair["access_token"]) == (200, None)
    sandbox.oauth.expire()
    assert code(pair["access_token"]) == (401, 121)
    refreshed = requests.post(
        sandbox.base_url.removesuffix("/api/v3.3") + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert refreshed.status_code == 200 and set(refreshed.json()) == {"access_token", "expires_in", "refresh_token"}
    assert refreshed.json()["refresh_token"] != pair["refresh_token"] and code(refreshed.json()["access_token"]) == (
        200,
        None,
    )
    again = requests.post(
        sandbox.base_url.removesuffix("/api/v3.3") + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")  # rotated: the old one is spent
    sandbox.oauth.revoke()
    assert code(refreshed.json()["access_token"]) == (401, 122)


def test_unknown_key_is_code_100(sandbox: Sandbox) -> None:
    response = requests.get(sandbox.base_url + "/clients.json", auth=("not-a-key", "x"))
    assert response.status_code == 401
    assert response.json() == {"Code": 100, "Message": "Invalid API key"}


def test_admin_key_sees_every_client(session, sandbox, account, ids) -> None:
    assert get(session, sandbox, "/clients.json").json() == account.clients
    for client_id in (ids["big_client"], ids["small_client"]):
        assert get(session, sandbox, f"/clients/{client_id}.json").json() == account.client_details[client_id]


def test_client_key_is_scoped_to_its_client(sandbox, account, ids) -> None:
    key = account.client_details[ids["small_client"]]["ApiKey"]

    def call(path: str) -> requests.Response:
        return requests.get(sandbox.base_url + path, auth=(key, "any password"))

    assert call(f"/clients/{ids['small_client']}/lists.json").json() == account.lists[ids["small_client"]]
    assert call(f"/lists/{ids['small_list']}.json").status_code == 200
    other_client = call(f"/clients/{ids['big_client']}/campaigns.json")
    assert (other_client.status_code, other_client.json()) == (401, {"Code": 102, "Message": "Invalid ClientID"})
    other_list = call(f"/lists/{ids['big_list']}/active.json")
    assert (other_list.status_code, other_list.json()) == (400, {"Code": 101, "Message": "Invalid ListID"})
    for account_wide in ("/clients.json", "/admins.json"):  # the account's own, not a client's
        refused = call(account_wide)
        assert refused.status_code == 401 and refused.json()["Code"] == 100
        assert "client API key" in refused.json()["Message"]


def test_unknown_client_list_and_path(session, sandbox) -> None:
    client = get(session, sandbox, "/clients/0000/campaigns.json")
    assert (client.status_code, client.json()) == (401, {"Code": 102, "Message": "Invalid ClientID"})
    lst = get(session, sandbox, "/lists/0000/bounced.json")
    assert (lst.status_code, lst.json()) == (400, {"Code": 101, "Message": "Invalid ListID"})
    for path in ("/nope.json", "/lists/x/active"):
        missing = get(session, sandbox, path)
        assert missing.status_code == 404 and missing.json()["Code"] == 404
    outside = session.get(sandbox.base_url.replace("/api/v3.3", "/api/v3.2") + "/clients.json")
    assert outside.status_code == 404 and outside.json()["Code"] == 404


def test_wrong_method_is_405_json(session, sandbox) -> None:
    response = session.post(sandbox.base_url + "/clients.json", json={"Name": "x"})
    assert response.status_code == 405
    assert response.json()["Code"] == 405
    assert response.headers["Allow"] == "GET"
    assert get(session, sandbox, "/systemdate.json").status_code == 200  # connection still usable


def test_writes_check_the_list_and_the_key_scope(writer: Writer) -> None:
    other_client = writer.account.clients[1]["ClientID"]
    key = writer.account.client_details[other_client]["ApiKey"]
    calls = [
        ("POST", "/import.json", {"Subscribers": [person("x@example.com")]}),
        ("POST", ".json", person("x@example.com")),
        ("GET", ".json?email=x@example.com", None),
    ]
    for method, suffix, body in calls:
        scoped = requests.request(method, writer.url + suffix, json=body, auth=(key, "x"))
        unknown = writer.http.request(method, f"{writer.sandbox.base_url}/subscribers/0000{suffix}", json=body)
        for response in (scoped, unknown):
            assert (response.status_code, response.json()) == (400, {"Code": 101, "Message": "Invalid ListID"})
    assert writer.details("x@example.com")["Code"] == 203
    own_list = writer.account.lists[other_client][0]["ListID"]
    own_url = f"{writer.sandbox.base_url}/subscribers/{own_list}.json"
    own = requests.post(own_url, json=person("x@example.com"), auth=(key, "x"))
    assert own.status_code == 201


def test_other_methods_on_subscriber_paths_are_405(writer: Writer) -> None:
    put = writer.http.put(writer.url + ".json", json=person("x@example.com"))
    assert put.status_code == 405 and put.headers["Allow"] == "DELETE, GET, POST"
    assert writer.http.get(writer.url + "/import.json").headers["Allow"] == "POST"


def key_for(account: Account, client_id: str) -> tuple[str, str]:
    return account.client_details[client_id]["ApiKey"], "x"


def test_a_client_key_sees_only_its_own_reports(sandbox, account, ids) -> None:
    small, big = ids["small_client"], ids["big_client"]
    auth = key_for(account, small)

    def call(path: str) -> tuple[int, Any]:
        response = requests.get(sandbox.base_url + path, auth=auth)
        return response.status_code, response.json()

    own_campaign, other_campaign = newest_campaign(account, small), newest_campaign(account, big)
    assert call(f"/campaigns/{own_campaign}/summary.json") == (200, account.campaign_summaries[own_campaign])
    assert call(f"/clients/{small}/tags.json") == (200, account.tags[small])
    assert call(f"/clients/{small}/journeys.json") == (200, account.journeys[small])
    assert call(f"/clients/{small}/people.json") == (200, account.people[small])
    for report in ("summary", "recipients", "opens", "listsandsegments", "emailclientusage"):
        invalid = {"Code": 301, "Message": "Invalid CampaignID"}
        assert call(f"/campaigns/{other_campaign}/{report}.json") == (400, invalid)
    for collection in ("tags", "journeys", "people"):
        assert call(f"/clients/{big}/{collection}.json") == (401, {"Code": 102, "Message": "Invalid ClientID"})
    other_segment = account.segments[big][0]["SegmentID"]
    own_segment = account.segments[small][0]["SegmentID"]
    assert call(f"/segments/{own_segment}.json") == (200, account.segment_detail(own_segment))
    for path in (f"/segments/{other_segment}.json", f"/segments/{other_segment}/active.json"):
        assert call(path) == (400, {"Code": 302, "Message": "Invalid SegmentID"})
    other_journey = account.journeys[big][0]["JourneyID"]
    assert call(f"/journeys/{other_journey}.json") == (400, {"Code": 380, "Message": "Invalid JourneyID"})
    other_email = account.journey_details[other_journey]["Emails"][0]["EmailID"]
    assert call(f"/journeys/email/{other_email}/opens.json") == (400, {"Code": 381, "Message": "Invalid EmailID"})
    own_journey = account.journeys[small][0]["JourneyID"]
    own_email = account.journey_details[own_journey]["Emails"][0]["EmailID"]
    assert call(f"/journeys/email/{own_email}/recipients.json")[0] == 200
    assert call(f"/lists/{ids['big_list']}/webhooks.json") == (400, {"Code": 101, "Message": "Invalid ListID"})
    assert call(f"/lists/{ids['small_list']}/webhooks.json") == (200, account.webhooks[ids["small_list"]])


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        ("/campaigns/0000/summary.json", 400, 301, "Invalid CampaignID"),
        ("/campaigns/0000/spam.json", 400, 301, "Invalid CampaignID"),
        ("/campaigns/0000/listsandsegments.json", 400, 301, "Invalid CampaignID"),
        ("/campaigns/0000/emailclientusage.json", 400, 301, "Invalid CampaignID"),
        ("/segments/0000.json", 400, 302, "Invalid SegmentID"),
        ("/segments/0000/active.json", 400, 302, "Invalid SegmentID"),
        ("/journeys/0000.json", 400, 380, "Invalid JourneyID"),
        ("/journeys/email/0000/clicks.json", 400, 381, "Invalid EmailID"),
        ("/lists/0000/webhooks.json", 400, 101, "Invalid ListID"),
        ("/clients/0000/tags.json", 401, 102, "Invalid ClientID"),
        ("/clients/0000/journeys.json", 401, 102, "Invalid ClientID"),
    ],
)
def test_unknown_report_ids(session, sandbox, path: str, status: int, code: int, message: str) -> None:
    response = get(session, sandbox, path)
    assert (response.status_code, response.json()) == (status, {"Code": code, "Message": message})


def test_unsent_campaigns_have_no_reports(session, sandbox, account, ids) -> None:
    draft = account.drafts[ids["big_client"]][0]["CampaignID"]
    response = get(session, sandbox, f"/campaigns/{draft}/summary.json")
    assert (response.status_code, response.json()["Code"]) == (400, 301)
