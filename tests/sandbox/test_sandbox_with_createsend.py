"""The sandbox driven by Campaign Monitor's own Python library, createsend (pinned in the `test` extra).

Only our connector had been pointed at the sandbox; createsend is a second, independent client that
builds its requests its own way. Above all it sends every optional parameter, empty when not set
(`date=`, `sentfromdate=&senttodate=&tags=`), which the real API takes for one not sent. Every call
here uses the library's default arguments (only `page` changes, to read later pages), and each test
checks both what createsend parsed against the sandbox's account and what createsend actually sent
(`sandbox.requests`).

createsend speaks only HTTPS: `CreateSendBase.make_request` opens a `VerifiedHTTPSConnection` (TLS
with the CA bundle it ships) to the host of `CreateSend.base_uri`, https://api.createsend.com. The
sandbox is plain HTTP on the loopback address, with no certificate to verify, so each test replaces,
with pytest's monkeypatch, that connection class in `createsend.createsend` by
`http.client.HTTPConnection` (same constructor and request API, without TLS) and `CreateSend.base_uri`
by the sandbox's `base_url`. Everything else — paths, query strings, the Basic header made from
`{'api_key': ...}`, JSON bodies, status handling and parsing — is createsend's own code.

The module's sandbox is conftest's: the default account (3000 subscribers), so the whole module runs in
seconds; its first client still has 1050 sent campaigns and 1200 suppressions, and its first list over
2000 Active rows, so that createsend's default page size of 1000 gives more than one page. The write
tests change it, and every test compares with the account as it is then. The last test checks that
every endpoint the sandbox serves is reached through createsend.
"""

from __future__ import annotations

import http.client
import itertools
import re
from collections import Counter
from typing import Any

import pytest
from createsend import (
    BadRequest,
    Campaign,
    Client,
    ClientError,
    CreateSend,
    Journey,
    JourneyEmail,
    List,
    Segment,
    Subscriber,
    Unauthorized,
)
from createsend.transactional import Transactional
from helpers.sandbox import CAMPAIGN_EVENTS, JOURNEY_REPORTS

from cm_source.sandbox import STATES, Account, RecordedRequest, Sandbox
from cm_source.sandbox.routes import ROUTES, Route, find_route

# What createsend 9.1.4 sends when called with its defaults (urlencode of its params dicts; False as "False").
SUBSCRIBER_QUERY = {
    "date": "",
    "page": "1",
    "pagesize": "1000",
    "orderfield": "email",
    "orderdirection": "asc",
    "includetrackingpreference": "False",
}
# Segment.subscribers names its flag includetrackinginformation, not includetrackingpreference.
SEGMENT_QUERY = {
    "date": "",
    "page": "1",
    "pagesize": "1000",
    "orderfield": "email",
    "orderdirection": "asc",
    "includetrackinginformation": "False",
}
CAMPAIGNS_QUERY = {
    "sentfromdate": "",
    "senttodate": "",
    "page": "1",
    "tags": "",
    "pagesize": "1000",
    "orderdirection": "desc",
}
SUPPRESSION_QUERY = {"page": "1", "pagesize": "1000", "orderfield": "email", "orderdirection": "asc"}
EVENT_QUERY = {"date": "", "page": "1", "pagesize": "1000", "orderfield": "date", "orderdirection": "asc"}
RECIPIENT_QUERY = {"page": "1", "pagesize": "1000", "orderfield": "email", "orderdirection": "asc"}


@pytest.fixture(autouse=True)
def createsend_at_sandbox(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Sandbox:
    """Point createsend at the plain-HTTP sandbox (see the module docstring) and forget earlier requests."""
    monkeypatch.setattr("createsend.createsend.VerifiedHTTPSConnection", http.client.HTTPConnection)
    monkeypatch.setattr(CreateSend, "base_uri", sandbox.base_url)
    sandbox.requests.clear()
    return sandbox


@pytest.fixture(scope="module")
def auth(sandbox: Sandbox) -> dict[str, str]:
    """The administrator key, as createsend takes it."""
    return {"api_key": sandbox.api_key}


@pytest.fixture(scope="module")
def big(account: Account) -> dict[str, str]:
    """The first client, its first (big) list, its newest sent campaign and its first segment."""
    client_id = account.clients[0]["ClientID"]
    return {
        "client": client_id,
        "list": account.lists[client_id][0]["ListID"],
        "campaign": account.campaigns[client_id][0]["CampaignID"],
        "segment": account.segments[client_id][0]["SegmentID"],
    }


def every_list(account: Account) -> list[str]:
    return [row["ListID"] for rows in account.lists.values() for row in rows]


def by_email(emails: list[str]) -> list[str]:
    """The API's (and the sandbox's) email order: case-insensitive, ascending."""
    return sorted(emails, key=lambda email: (email.casefold(), email))


def sent(sandbox: Sandbox) -> list[tuple[str, str, dict]]:
    """(method, path, query) of every request since the test began, as the sandbox recorded them."""
    return [(request.method, request.path, request.query) for request in sandbox.requests]


def all_pages(first: Any, next_page) -> list[Any]:
    """The Results of every page, the later ones read with `next_page(number)`; checks the envelope."""
    rows = list(first.Results)
    assert first.PageNumber == 1 and first.RecordsOnThisPage == len(first.Results)
    for number in range(2, first.NumberOfPages + 1):
        page = next_page(number)
        assert (page.PageNumber, page.NumberOfPages) == (number, first.NumberOfPages)
        rows += page.Results
    assert len(rows) == first.TotalNumberOfRecords
    return rows


# ---- the account and its clients -----------------------------------------------------------------


def test_clients_administrators_and_system_date(sandbox: Sandbox, auth: dict, account: Account) -> None:
    cs = CreateSend(auth)
    clients = cs.clients()
    assert [(c.ClientID, c.Name) for c in clients] == [(c["ClientID"], c["Name"]) for c in account.clients]
    administrators = [(a.EmailAddress, a.Name, a.Status) for a in cs.administrators()]
    assert administrators == [(a["EmailAddress"], a["Name"], a["Status"]) for a in account.administrators]
    assert cs.systemdate() == account.system_date == "2024-07-15 09:30:00"
    assert sent(sandbox) == [("GET", path, {}) for path in ("/clients.json", "/admins.json", "/systemdate.json")]


def test_client_key_sees_only_its_client(sandbox: Sandbox, account: Account) -> None:
    client_id = account.clients[1]["ClientID"]
    key = {"api_key": account.client_details[client_id]["ApiKey"]}
    assert Client(key, client_id).details().BasicDetails.ClientID == client_id
    for account_wide in (CreateSend(key).clients, CreateSend(key).administrators):
        with pytest.raises(Unauthorized) as refused:
            account_wide()
        assert refused.value.data.Code == 100
    with pytest.raises(Unauthorized) as other:
        Client(key, account.clients[0]["ClientID"]).lists()
    assert (other.value.data.Code, other.value.data.Message) == (102, "Invalid ClientID")


def test_client_details(sandbox: Sandbox, auth: dict, account: Account) -> None:
    for row in account.clients:
        details = Client(auth, row["ClientID"]).details()
        stored = account.client_details[row["ClientID"]]
        assert details.ApiKey == stored["ApiKey"]
        assert details.BasicDetails.CompanyName == row["Name"]
        assert details.BasicDetails.TimeZone == stored["BasicDetails"]["TimeZone"]
    assert [path for _, path, _ in sent(sandbox)] == [f"/clients/{row['ClientID']}.json" for row in account.clients]


def test_sent_campaigns_send_empty_dates_and_tags_and_page_newest_first(
    sandbox: Sandbox, auth: dict, account: Account, big: dict
) -> None:
    client = Client(auth, big["client"])
    first = client.campaigns()
    assert (first.TotalNumberOfRecords, first.NumberOfPages, first.RecordsOnThisPage) == (1050, 2, 1000)
    assert (first.ResultsOrderedBy, first.OrderDirection, first.PageSize) == ("SentDate", "desc", 1000)
    rows = all_pages(first, lambda number: client.campaigns(page=number))
    stored = account.campaigns[big["client"]]
    newest_first = sorted(stored, key=lambda row: (row["SentDate"], row["CampaignID"]), reverse=True)
    assert [row.CampaignID for row in rows] == [row["CampaignID"] for row in newest_first]
    assert rows[0].CampaignID == big["campaign"] and rows[0].SentDate == "2024-07-13 14:35:00"
    assert sent(sandbox)[0] == ("GET", f"/clients/{big['client']}/campaigns.json", CAMPAIGNS_QUERY)
    assert sent(sandbox)[1][2] == {**CAMPAIGNS_QUERY, "page": "2"}


@pytest.mark.parametrize(
    ("method", "collection", "key"),
    [
        ("scheduled", "scheduled", "CampaignID"),
        ("drafts", "drafts", "CampaignID"),
        ("lists", "lists", "ListID"),
        ("segments", "segments", "SegmentID"),
        ("templates", "templates", "TemplateID"),
        ("tags", "tags", "Name"),
        ("journeys", "journeys", "JourneyID"),
        ("people", "people", "EmailAddress"),
    ],
)
def test_client_collections(
    sandbox: Sandbox, auth: dict, account: Account, method: str, collection: str, key: str
) -> None:
    for row in account.clients:
        parsed = getattr(Client(auth, row["ClientID"]), method)()
        stored = getattr(account, collection)[row["ClientID"]]
        assert [getattr(item, key) for item in parsed] == [item[key] for item in stored]
    assert sent(sandbox) == [("GET", f"/clients/{row['ClientID']}/{method}.json", {}) for row in account.clients]
    if collection == "tags":  # an int for the first client, a string for the second, as the samples disagree
        counts = [[tag.NumberOfCampaigns for tag in Client(auth, row["ClientID"]).tags()] for row in account.clients]
        assert {type(count) for count in counts[0]} == {int} and {type(count) for count in counts[1]} == {str}


def test_suppression_list_pages_by_email(sandbox: Sandbox, auth: dict, account: Account, big: dict) -> None:
    client = Client(auth, big["client"])
    first = client.suppressionlist()
    assert (first.TotalNumberOfRecords, first.NumberOfPages, first.ResultsOrderedBy) == (1200, 2, "email")
    rows = all_pages(first, lambda number: client.suppressionlist(page=number))
    stored = account.suppression_list[big["client"]]
    assert [row.EmailAddress for row in rows] == by_email([row["EmailAddress"] for row in stored])
    assert sent(sandbox)[0] == ("GET", f"/clients/{big['client']}/suppressionlist.json", SUPPRESSION_QUERY)


# ---- lists -----------------------------------------------------------------------------------------


def test_list_details_stats_custom_fields_and_webhooks(sandbox: Sandbox, auth: dict, account: Account) -> None:
    for list_id in every_list(account):
        lst = List(auth, list_id)
        details = lst.details()
        assert (details.ListID, details.Title) == (list_id, account.list_details[list_id]["Title"])
        stats = lst.stats()
        members = account.subscribers[list_id]
        assert stats.TotalActiveSubscribers == len(members["Active"])
        assert (stats.TotalUnsubscribes, stats.TotalDeleted, stats.TotalBounces) == (
            len(members["Unsubscribed"]),
            len(members["Deleted"]),
            len(members["Bounced"]),
        )
        assert [(f.Key, f.DataType) for f in lst.custom_fields()] == [
            (f["Key"], f["DataType"]) for f in account.custom_fields[list_id]
        ]
        assert lst.custom_fields()[0].Key == "[website]"  # with brackets, as customfields.json gives them
        assert [(w.WebhookID, w.Url) for w in lst.webhooks()] == [
            (w["WebhookID"], w["Url"]) for w in account.webhooks[list_id]
        ]
    assert sum(len(account.webhooks[list_id]) for list_id in every_list(account)) > 0
    assert [query for _, _, query in sent(sandbox) if query] == []


@pytest.mark.parametrize("state", STATES)
def test_list_subscribers_send_an_empty_date(sandbox: Sandbox, auth: dict, account: Account, state: str) -> None:
    read = getattr(List, state.lower())
    for list_id in every_list(account):
        lst = List(auth, list_id)
        first = read(lst)
        rows = all_pages(first, lambda number, lst=lst: read(lst, page=number))
        stored = account.subscribers[list_id][state]
        assert first.TotalNumberOfRecords == len(stored)
        assert [row.EmailAddress for row in rows] == by_email([row["EmailAddress"] for row in stored])
        assert all(row.State == state for row in rows)
        assert not any(hasattr(row, "ConsentToTrack") for row in rows)  # includetrackingpreference=False
    big_active = account.subscribers[every_list(account)[0]]["Active"]
    if state == "Active":
        assert len(big_active) > 2000  # so createsend read three pages of the big list
    requests = sent(sandbox)
    assert requests[0] == ("GET", f"/lists/{every_list(account)[0]}/{state.lower()}.json", SUBSCRIBER_QUERY)
    assert all(query["date"] == "" for _, _, query in requests)


def test_one_subscriber(sandbox: Sandbox, auth: dict, account: Account, big: dict) -> None:
    row = account.subscribers[big["list"]]["Bounced"][0]
    found = Subscriber(auth).get(big["list"], row["EmailAddress"])
    assert (found.EmailAddress, found.Name, found.State, found.Date) == (
        row["EmailAddress"],
        row["Name"],
        "Bounced",
        row["Date"],
    )
    assert [(f.Key, f.Value) for f in found.CustomFields] == [(f["Key"], f["Value"]) for f in row["CustomFields"]]
    assert sent(sandbox) == [
        (
            "GET",
            f"/subscribers/{big['list']}.json",
            {"email": row["EmailAddress"], "includetrackingpreference": "False"},
        ),
    ]


# ---- segments --------------------------------------------------------------------------------------


def test_segment_details_and_subscribers(sandbox: Sandbox, auth: dict, account: Account, big: dict) -> None:
    segment_ids = [row["SegmentID"] for rows in account.segments.values() for row in rows]
    for segment_id in segment_ids:
        segment = Segment(auth, segment_id)
        members = account.segment_members(segment_id)
        details = segment.details()
        assert (details.SegmentID, details.ListID) == (segment_id, account.segment_details[segment_id]["ListID"])
        assert details.ActiveSubscribers == len(members)
        first = segment.subscribers()
        rows = all_pages(first, lambda number, segment=segment: segment.subscribers(page=number))
        assert [row.EmailAddress for row in rows] == by_email([row["EmailAddress"] for row in members])
    assert len(account.segment_members(big["segment"])) > 1000  # two pages
    assert any(not account.segment_members(segment_id) for segment_id in segment_ids)  # and an empty one
    assert ("GET", f"/segments/{big['segment']}/active.json", SEGMENT_QUERY) in sent(sandbox)


# ---- campaign reports ------------------------------------------------------------------------------


def test_campaign_summary_lists_and_segments_and_email_clients(
    sandbox: Sandbox, auth: dict, account: Account, big: dict
) -> None:
    campaign = Campaign(auth, big["campaign"])
    summary = campaign.summary()
    stored = account.campaign_summaries[big["campaign"]]
    for name in ("Recipients", "TotalOpened", "UniqueOpened", "Clicks", "Unsubscribed", "Bounced", "SpamComplaints"):
        assert getattr(summary, name) == stored[name]
    assert summary.Recipients == len(account.campaign_reports[big["campaign"]]["recipients"]) == 1495
    sent_to = campaign.lists_and_segments()
    stored_to = account.campaign_lists_and_segments[big["campaign"]]
    assert [row.ListID for row in sent_to.Lists] == [row["ListID"] for row in stored_to["Lists"]]
    assert [row.SegmentID for row in sent_to.Segments] == [row["SegmentID"] for row in stored_to["Segments"]]
    usage = campaign.email_client_usage()
    assert [(row.Client, row.Version, row.Subscribers) for row in usage] == [
        (row["Client"], row["Version"], row["Subscribers"]) for row in account.email_client_usage[big["campaign"]]
    ]
    assert usage and sum(row.Subscribers for row in usage) == stored["UniqueOpened"]
    assert [query for _, _, query in sent(sandbox) if query] == []


def test_campaign_recipients(sandbox: Sandbox, auth: dict, account: Account, big: dict) -> None:
    campaign = Campaign(auth, big["campaign"])
    first = campaign.recipients()
    assert (first.NumberOfPages, first.ResultsOrderedBy) == (2, "email")
    rows = all_pages(first, lambda number: campaign.recipients(page=number))
    stored = account.campaign_reports[big["campaign"]]["recipients"]
    assert Counter((row.EmailAddress, row.ListID) for row in rows) == Counter(
        (row["EmailAddress"], row["ListID"]) for row in stored
    )
    assert [row.EmailAddress for row in rows] == by_email([row.EmailAddress for row in rows])
    assert sent(sandbox)[0] == ("GET", f"/campaigns/{big['campaign']}/recipients.json", RECIPIENT_QUERY)


@pytest.mark.parametrize("report", CAMPAIGN_EVENTS)
def test_campaign_event_reports_send_an_empty_date(
    sandbox: Sandbox, auth: dict, account: Account, big: dict, report: str
) -> None:
    campaign = Campaign(auth, big["campaign"])
    read = getattr(Campaign, report)
    first = read(campaign)
    rows = all_pages(first, lambda number: read(campaign, page=number))
    stored = account.campaign_reports[big["campaign"]][report]
    assert first.TotalNumberOfRecords == len(stored) > 0
    # No event ID: rows compare whole, repeats included (the newest campaign has repeated opens and clicks).
    assert Counter((row.EmailAddress, row.ListID, row.Date) for row in rows) == Counter(
        (row["EmailAddress"], row["ListID"], row["Date"]) for row in stored
    )
    assert [row.Date for row in rows] == sorted(row.Date for row in rows)
    if report in ("opens", "clicks"):
        assert len(set((row.EmailAddress, row.Date) for row in rows)) < len(rows)
    assert sent(sandbox)[0] == ("GET", f"/campaigns/{big['campaign']}/{report}.json", EVENT_QUERY)


# ---- journeys --------------------------------------------------------------------------------------


def test_journey_summaries(sandbox: Sandbox, auth: dict, account: Account) -> None:
    for rows in account.journeys.values():
        for row in rows:
            summary = Journey(auth, row["JourneyID"]).summary()
            stored = account.journey_details[row["JourneyID"]]
            assert (summary.JourneyID, summary.Name, summary.TriggerType) == (
                row["JourneyID"],
                stored["Name"],
                stored["TriggerType"],
            )
            assert [(email.EmailID, email.Sent, email.Opened) for email in summary.Emails] == [
                (email["EmailID"], email["Sent"], email["Opened"]) for email in stored["Emails"]
            ]


@pytest.mark.parametrize("report", JOURNEY_REPORTS)
def test_journey_email_reports(sandbox: Sandbox, auth: dict, account: Account, report: str) -> None:
    email_ids = [email["EmailID"] for details in account.journey_details.values() for email in details["Emails"]]
    for email_id in email_ids:
        page = getattr(JourneyEmail(auth, email_id), report)()
        stored = account.journey_email_reports[email_id][report]
        assert (page.TotalNumberOfRecords, page.NumberOfPages, page.OrderDirection) == (len(stored), 1, "ASC")
        assert page.ResultsOrderedBy == ("SentDate" if report == "recipients" else "Date")
        assert Counter(row.EmailAddress for row in page.Results) == Counter(row["EmailAddress"] for row in stored)
    assert len(email_ids) == 6
    # createsend leaves out every parameter it was not given (None), unlike its other report calls.
    assert sent(sandbox) == [("GET", f"/journeys/email/{email_id}/{report}.json", {}) for email_id in email_ids]


# ---- subscriber writes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_list(account: Account) -> str:
    """The second client's first list (92 Active), where the write tests write."""
    return account.lists[account.clients[1]["ClientID"]][0]["ListID"]


def test_add_subscriber(sandbox: Sandbox, auth: dict, account: Account, small_list: str) -> None:
    fields = [{"Key": "[website]", "Value": "https://added.example.com"}]
    email = Subscriber(auth).add(small_list, "added.by.createsend@example.com", "Added Person", fields, False, "Yes")
    assert email == "added.by.createsend@example.com"
    found = Subscriber(auth, small_list, email).get()
    assert (found.Name, found.State, found.Date) == ("Added Person", "Active", account.system_date)
    assert [(f.Key, f.Value) for f in found.CustomFields] == [("website", "https://added.example.com")]
    assert sandbox.requests[0] == RecordedRequest(
        "POST",
        f"/subscribers/{small_list}.json",
        {},
        {
            "EmailAddress": email,
            "Name": "Added Person",
            "CustomFields": fields,
            "Resubscribe": False,
            "ConsentToTrack": "Yes",
            "RestartSubscriptionBasedAutoresponders": False,
        },
    )


def test_import_subscribers(sandbox: Sandbox, auth: dict, account: Account, small_list: str) -> None:
    existing = account.subscribers[small_list]["Active"][0]["EmailAddress"]
    before = len(account.subscribers[small_list]["Active"])
    people = [
        {"EmailAddress": f"imported{n}@example.com", "Name": f"Imported {n}", "ConsentToTrack": "No"} for n in range(3)
    ]
    again = {"EmailAddress": existing, "ConsentToTrack": "Unchanged"}
    result = Subscriber(auth).import_subscribers(small_list, [*people, again], False)
    assert (result.TotalUniqueEmailsSubmitted, result.TotalNewSubscribers, result.TotalExistingSubscribers) == (4, 3, 1)
    assert (list(result.DuplicateEmailsInSubmission), list(result.FailureDetails)) == ([], [])
    assert len(account.subscribers[small_list]["Active"]) == before + 3
    # A partial failure is HTTP 400 Code 210; createsend hands back its ResultData as the result.
    partial = Subscriber(auth).import_subscribers(
        small_list,
        [{"EmailAddress": "not-an-address", "ConsentToTrack": "Yes"}, {**people[0], "Name": "Renamed"}],
        False,
    )
    assert (partial.TotalNewSubscribers, partial.TotalExistingSubscribers) == (0, 1)
    assert [(f.EmailAddress, f.Code) for f in partial.FailureDetails] == [("not-an-address", 1)]
    assert Subscriber(auth, small_list, people[0]["EmailAddress"]).get().Name == "Renamed"
    assert [(method, path) for method, path, _ in sent(sandbox)[:2]] == [
        ("POST", f"/subscribers/{small_list}/import.json")
    ] * 2
    assert sandbox.requests[0].body["QueueSubscriptionBasedAutoresponders"] is False


def test_unsubscribe(sandbox: Sandbox, auth: dict, account: Account, small_list: str) -> None:
    row = account.subscribers[small_list]["Active"][-1]
    lst = List(auth, small_list)
    unsubscribed_before = lst.unsubscribed().TotalNumberOfRecords
    sandbox.requests.clear()
    assert Subscriber(auth, small_list, row["EmailAddress"]).unsubscribe() is None
    assert sandbox.requests[0] == RecordedRequest(
        "POST", f"/subscribers/{small_list}/unsubscribe.json", {}, {"EmailAddress": row["EmailAddress"]}
    )
    found = Subscriber(auth, small_list, row["EmailAddress"]).get()
    assert (found.State, found.Date, found.Name) == ("Unsubscribed", account.system_date, row["Name"])
    assert lst.unsubscribed().TotalNumberOfRecords == unsubscribed_before + 1
    assert row["EmailAddress"] not in [r.EmailAddress for r in lst.active().Results]
    Subscriber(auth, small_list, row["EmailAddress"]).unsubscribe()  # again: nothing changes
    assert Subscriber(auth, small_list, row["EmailAddress"]).get().State == "Unsubscribed"
    with pytest.raises(BadRequest) as unknown:
        Subscriber(auth, small_list, "never.here@example.com").unsubscribe()
    assert unknown.value.data.Code == 203


def test_suppress_and_unsuppress(sandbox: Sandbox, auth: dict, account: Account, big: dict) -> None:
    client = Client(auth, big["client"])
    before = client.suppressionlist().TotalNumberOfRecords
    sandbox.requests.clear()
    assert client.suppress(["one.suppressed@example.com", "two.suppressed@example.com"]) is None
    assert sandbox.requests[0] == RecordedRequest(
        "POST",
        f"/clients/{big['client']}/suppress.json",
        {},
        {"EmailAddresses": ["one.suppressed@example.com", "two.suppressed@example.com"]},
    )
    assert client.suppressionlist().TotalNumberOfRecords == before + 2
    newest = client.suppressionlist(order_field="date", order_direction="desc").Results[:2]
    assert {(row.EmailAddress, row.State, row.Date) for row in newest} == {
        (email, "Suppressed", account.system_date)
        for email in ("one.suppressed@example.com", "two.suppressed@example.com")
    }
    client.unsuppress("ONE.suppressed@example.com")  # addresses match ignoring case
    assert sent(sandbox)[-1] == (
        "PUT",
        f"/clients/{big['client']}/unsuppress.json",
        {"email": "ONE.suppressed@example.com"},
    )
    remaining = {row["EmailAddress"] for row in account.suppression_list[big["client"]]}
    assert "one.suppressed@example.com" not in remaining and "two.suppressed@example.com" in remaining
    assert client.suppressionlist().TotalNumberOfRecords == before + 1
    with pytest.raises(BadRequest) as bad:
        client.suppress(["not an address"])
    assert bad.value.data.Code == 1


def test_create_list(sandbox: Sandbox, auth: dict, account: Account, big: dict) -> None:
    list_id = List(auth).create(big["client"], "Créé par createsend", "", True, "", "OnlyThisList")
    assert sent(sandbox)[-1] == ("POST", f"/lists/{big['client']}.json", {})
    details = List(auth, list_id).details()
    assert (details.Title, details.ConfirmedOptIn, details.UnsubscribeSetting) == (
        "Créé par createsend",
        True,
        "OnlyThisList",
    )
    assert list_id in [row.ListID for row in Client(auth, big["client"]).lists()]
    assert List(auth, list_id).active().TotalNumberOfRecords == 0 and List(auth, list_id).custom_fields() == []


# The sandbox does not serve PUT /subscribers/{lid}.json: test_sandbox_auth_and_routes.py pins it as 405
# (test_other_methods_on_subscriber_paths_are_405). This says what createsend expects, and turns into a
# failure (strict) once the sandbox serves it, so that the mark comes off.
NOT_SERVED = "PUT /subscribers/{lid}.json is not served yet (405): see the comment above"


@pytest.mark.xfail(strict=True, raises=ClientError, reason=NOT_SERVED)
def test_update_subscriber(sandbox: Sandbox, auth: dict, account: Account, small_list: str) -> None:
    row = account.subscribers[small_list]["Active"][1]
    subscriber = Subscriber(auth, small_list, row["EmailAddress"])
    subscriber.update("updated.by.createsend@example.com", "Updated Person", [], False, "Unchanged")
    found = Subscriber(auth, small_list, "updated.by.createsend@example.com").get()
    assert (found.Name, found.State) == ("Updated Person", "Active")
    assert sent(sandbox)[0] == ("PUT", f"/subscribers/{small_list}.json", {"email": row["EmailAddress"]})


def test_delete_subscriber(sandbox: Sandbox, auth: dict, account: Account, small_list: str) -> None:
    row = account.subscribers[small_list]["Active"][2]
    Subscriber(auth, small_list, row["EmailAddress"]).delete()
    assert Subscriber(auth, small_list, row["EmailAddress"]).get().State == "Deleted"
    assert sent(sandbox)[0] == ("DELETE", f"/subscribers/{small_list}.json", {"email": row["EmailAddress"]})


# ---- every endpoint ----------------------------------------------------------------------------------

# Path parameters that name a thing (an ID); the others (collection, state, report) pick an endpoint.
ID_PARAMS = {"cid", "lid", "sid", "campaign", "jid", "eid", "smartid"}


def endpoints(route: Route) -> set[tuple]:
    """The endpoints a route serves, (handler, choice of each named alternative in its pattern): e.g. one
    per state of /lists/{lid}/{state}.json."""
    groups = re.findall(r"\(\?P<(\w+)>((?:[a-z]+\|)*[a-z]+)\)", route.pattern.pattern)
    choices = itertools.product(*(alternatives.split("|") for _, alternatives in groups))
    return {(route.handler, tuple(zip((name for name, _ in groups), choice, strict=True))) for choice in choices}


def endpoint_of(request: RecordedRequest) -> tuple:
    """The endpoint a recorded request reached."""
    handler, params, _ = find_route(request.method, request.path)
    return handler, tuple((name, value) for name, value in params.items() if name not in ID_PARAMS)


def test_createsend_reaches_every_endpoint_the_sandbox_serves(
    sandbox: Sandbox, auth: dict, account: Account, big: dict, small_list: str
) -> None:
    """createsend has a method for every endpoint the sandbox serves (ROUTES): each is called once, with its
    defaults, and answers without an error (createsend raises on one). A route added to the sandbox
    fails here until a createsend call (and a test above) reaches it."""
    client, lst, campaign = Client(auth, big["client"]), List(auth, big["list"]), Campaign(auth, big["campaign"])
    segment, journey_id = Segment(auth, big["segment"]), account.journeys[big["client"]][0]["JourneyID"]
    journey_email = JourneyEmail(auth, account.journey_details[journey_id]["Emails"][0]["EmailID"])
    email = "every.endpoint@example.com"
    imported = [{"EmailAddress": email, "ConsentToTrack": "No"}]
    calls = [
        CreateSend(auth).clients,
        CreateSend(auth).administrators,
        CreateSend(auth).systemdate,
        client.details,
        client.campaigns,
        client.scheduled,
        client.drafts,
        client.lists,
        client.segments,
        client.templates,
        client.tags,
        client.journeys,
        client.people,
        client.suppressionlist,
        lst.details,
        lst.custom_fields,
        lst.stats,
        lst.active,
        lst.unconfirmed,
        lst.unsubscribed,
        lst.bounced,
        lst.deleted,
        lst.webhooks,
        segment.details,
        segment.subscribers,
        campaign.summary,
        campaign.recipients,
        campaign.opens,
        campaign.clicks,
        campaign.bounces,
        campaign.unsubscribes,
        campaign.spam,
        campaign.lists_and_segments,
        campaign.email_client_usage,
        Journey(auth, journey_id).summary,
        journey_email.recipients,
        journey_email.opens,
        journey_email.clicks,
        journey_email.bounces,
        journey_email.unsubscribes,
        lambda: Subscriber(auth).add(small_list, email, "Every Endpoint", [], False, "Yes"),
        lambda: Subscriber(auth).import_subscribers(small_list, imported, False),
        Subscriber(auth, small_list, email).get,
        Subscriber(auth, small_list, email).unsubscribe,
        Subscriber(auth, small_list, email).delete,
        lambda: client.suppress([email]),
        lambda: client.unsuppress(email),
        lambda: List(auth).create(big["client"], "Every Endpoint", "", False, "", "OnlyThisList"),
        lambda: Transactional(auth).smart_email_list(client_id=big["client"]),
        lambda: Transactional(auth).smart_email_details(
            account.transactional[big["client"]].smart_emails[0]["SmartEmailID"]
        ),
        lambda: Transactional(auth).classic_email_groups(client_id=big["client"]),
        lambda: Transactional(auth).message_timeline({"clientID": big["client"]}),
        lambda: Transactional(auth).statistics({"clientID": big["client"]}),
    ]
    for call in calls:
        call()
    served = set().union(*(endpoints(route) for route in ROUTES))
    reached = {endpoint_of(request) for request in sandbox.requests}
    assert reached == served and len(served) == len(calls)
