"""A Campaign Monitor account served by ``requests_mock`` from the shapes of Campaign Monitor's own samples."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import parse_qs, urlsplit

from helpers.samples import envelope, rows_of, sample

BASE_URL = "https://api.test/api/v3.3"
API_KEY = "test-api-key-0123456789abcdef"


def renamed(rows: list[dict[str, Any]], key: str, suffix: str) -> list[dict[str, Any]]:
    """Copies of sample rows with ``key`` made unique, so two parents do not share IDs."""
    out = copy.deepcopy(rows)
    for row in out:
        row[key] = f"{row[key]}{suffix}"
    return out


def numbered_subscribers(count: int, prefix: str) -> list[dict[str, Any]]:
    """``count`` active subscribers shaped like active_subscribers_with_tracking_preference.json."""
    template = rows_of("active_subscribers_with_tracking_preference.json")[0]
    rows = []
    for i in range(count):
        row = copy.deepcopy(template)
        row["EmailAddress"] = f"{prefix}{i:05d}@example.com"
        row["Name"] = f"Person {i}"
        rows.append(row)
    return rows


class MockAccount:
    """A Campaign Monitor account served by ``requests_mock`` from sample shapes.

    ``arrays`` maps a path to a bare array; ``paged`` maps a path to all its rows, served as
    envelopes honouring ``page``/``pagesize``; ``objects`` maps a path to a single object.
    """

    def __init__(self, mocker: Any) -> None:
        self.mocker = mocker
        self.arrays: dict[str, Any] = {}
        self.paged: dict[str, list[dict[str, Any]]] = {}
        self.objects: dict[str, Any] = {}
        # Transactional email, whose paths are the same for every client: path -> clientID -> answer.
        self.per_client: dict[str, dict[str, Any]] = {}

    def serve(self) -> None:
        for path, body in {**self.arrays, **self.objects}.items():
            self.mocker.get(f"{BASE_URL}/{path}", json=body)
        for path, rows in self.paged.items():
            self.mocker.get(f"{BASE_URL}/{path}", json=self._pager(rows))
        for path, answers in self.per_client.items():
            self.mocker.get(f"{BASE_URL}/{path}", json=self._for_client(answers))

    @staticmethod
    def _for_client(answers: dict[str, Any]) -> Any:
        """The answer for the query's clientID; a timeline (a list of messages) honours sentBeforeID and
        count; a callable answer is called with the query."""

        def respond(request: Any, context: Any) -> Any:
            query = {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}
            answer = answers[query["clientID"]]
            if callable(answer):
                return answer(query)
            if request.path.endswith("/messages"):
                ids = [row["MessageID"] for row in answer]
                start = ids.index(query["sentBeforeID"]) + 1 if "sentBeforeID" in query else 0
                return answer[start : start + int(query.get("count", 50))]
            return answer

        return respond

    @staticmethod
    def _pager(rows: list[dict[str, Any]]) -> Any:
        def respond(request: Any, context: Any) -> dict[str, Any]:
            page = int(request.qs.get("page", ["1"])[0])
            page_size = int(request.qs.get("pagesize", ["1000"])[0])
            since = request.qs.get("date", [""])[0]  # "on or after", as the API filters
            return envelope([r for r in rows if str(r.get("Date", "")) >= since], page, page_size)

        return respond

    def requests_to(self, path: str) -> list[Any]:
        return [r for r in self.mocker.request_history if r.path.endswith(path.lower())]


CLIENT_IDS = [c["ClientID"] for c in sample("clients.json")]
# The first client sits in Sydney (as client_details.json), the second in London.
TIME_ZONES = [
    "(GMT+10:00) Canberra, Melbourne, Sydney",
    "(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London",
]
CAMPAIGN_REPORTS = {
    "recipients": "campaign_recipients.json",
    "opens": "campaign_opens.json",
    "clicks": "campaign_clicks.json",
    "bounces": "campaign_bounces.json",
    "unsubscribes": "campaign_unsubscribes.json",
    "spam": "campaign_spam.json",
}
JOURNEY_REPORTS = ("recipients", "opens", "clicks", "bounces", "unsubscribes")
# A campaign's summary counts what its reports hold (the API's samples come from different campaigns).
SUMMARY_COUNTS = {
    "recipients": "Recipients",
    "opens": "TotalOpened",
    "clicks": "Clicks",
    "bounces": "Bounced",
    "unsubscribes": "Unsubscribed",
    "spam": "SpamComplaints",
}


def client_details(cid: str, n: int) -> dict[str, Any]:
    details = sample("client_details.json")
    details["BasicDetails"].update(ClientID=cid, TimeZone=TIME_ZONES[n % 2], CompanyName=f"Client {n}")
    return details


def standard_account(mocker: Any) -> MockAccount:
    """Two clients with distinct lists, 2,500 active subscribers on one list, one empty list.

    Every other endpoint serves its sample, with IDs made unique per parent. One long function on
    purpose: it is the account's tree written out top to bottom, as the API nests it.
    """
    account = MockAccount(mocker)
    account.arrays["clients.json"] = sample("clients.json")
    account.arrays["admins.json"] = sample("administrators.json")
    account.objects["systemdate.json"] = {**sample("systemdate.json"), "SystemDate": "2030-01-01 00:00:00"}
    for n, cid in enumerate(CLIENT_IDS):
        suffix = f"-{n}"
        account.objects[f"clients/{cid}.json"] = client_details(cid, n)
        campaigns = renamed(rows_of("campaigns.json"), "CampaignID", suffix)
        account.paged[f"clients/{cid}/campaigns.json"] = campaigns
        account.arrays[f"clients/{cid}/scheduled.json"] = renamed(
            rows_of("scheduled_campaigns.json"), "CampaignID", suffix
        )
        account.arrays[f"clients/{cid}/drafts.json"] = renamed(rows_of("drafts.json"), "CampaignID", suffix)
        lists = renamed(rows_of("lists.json"), "ListID", suffix)
        account.arrays[f"clients/{cid}/lists.json"] = lists
        segments = renamed(rows_of("segments.json"), "SegmentID", suffix)
        account.arrays[f"clients/{cid}/segments.json"] = segments
        account.arrays[f"clients/{cid}/templates.json"] = renamed(rows_of("templates.json"), "TemplateID", suffix)
        account.paged[f"clients/{cid}/suppressionlist.json"] = rows_of("suppressionlist.json")
        account.arrays[f"clients/{cid}/tags.json"] = sample("tags.json" if n == 0 else "ruby/tags.json")
        journeys = rows_of("journeys/client_journeys.json")
        for j, journey in enumerate(journeys):  # the sample repeats one JourneyID
            journey["JourneyID"] = f"journey-{n}-{j}"
        account.arrays[f"clients/{cid}/journeys.json"] = journeys
        account.arrays[f"clients/{cid}/people.json"] = sample("people.json")
        for journey in journeys:
            summary = {**sample("journeys/journey_summary.json"), "JourneyID": journey["JourneyID"]}
            summary["Emails"] = renamed(summary["Emails"], "EmailID", f"-{journey['JourneyID']}")
            account.objects[f"journeys/{journey['JourneyID']}.json"] = summary
            for email in summary["Emails"]:
                for report in JOURNEY_REPORTS:
                    account.paged[f"journeys/email/{email['EmailID']}/{report}.json"] = rows_of(
                        f"journeys/journey_email_{report}_with_params.json"
                    )
        for campaign in campaigns:
            cpath = f"campaigns/{campaign['CampaignID']}"
            summary = sample("campaign_summary.json")
            account.objects[f"{cpath}/summary.json"] = summary
            account.objects[f"{cpath}/listsandsegments.json"] = sample("campaign_listsandsegments.json")
            account.arrays[f"{cpath}/emailclientusage.json"] = sample("email_client_usage.json")
            for report, name in CAMPAIGN_REPORTS.items():
                account.paged[f"{cpath}/{report}.json"] = rows_of(name)
                summary[SUMMARY_COUNTS[report]] = len(account.paged[f"{cpath}/{report}.json"])
        for segment in segments:
            spath = f"segments/{segment['SegmentID']}"
            account.objects[f"{spath}.json"] = {**sample("segment_details.json"), **segment}
            account.paged[f"{spath}/active.json"] = rows_of("segment_subscribers_with_tracking_preference.json")
        for m, lst in enumerate(lists):
            lid = lst["ListID"]
            if n == 0 and m == 0:
                active = numbered_subscribers(2500, "big") + rows_of("active_subscribers_with_tracking_preference.json")
            elif n == 1 and m == 1:
                active = []  # an empty list
            else:
                active = rows_of("active_subscribers_with_tracking_preference.json")
            empty = n == 1 and m == 1
            account.objects[f"lists/{lid}.json"] = {**sample("list_details.json"), "ListID": lid}
            account.objects[f"lists/{lid}/stats.json"] = sample("list_stats.json")
            account.arrays[f"lists/{lid}/customfields.json"] = sample("custom_fields.json")
            account.arrays[f"lists/{lid}/webhooks.json"] = [] if empty else sample("list_webhooks.json")
            account.paged[f"lists/{lid}/active.json"] = active
            account.paged[f"lists/{lid}/unconfirmed.json"] = (
                [] if empty else rows_of("ruby/unconfirmed_subscribers.json")
            )
            account.paged[f"lists/{lid}/unsubscribed.json"] = [] if empty else rows_of("unsubscribed_subscribers.json")
            account.paged[f"lists/{lid}/bounced.json"] = [] if empty else rows_of("bounced_subscribers.json")
            account.paged[f"lists/{lid}/deleted.json"] = [] if empty else rows_of("deleted_subscribers.json")
    for n, cid in enumerate(CLIENT_IDS):
        add_transactional(account, cid, f"-{n}")
    return account


def add_transactional(account: MockAccount, cid: str, suffix: str) -> None:
    """The transactional samples for one client, IDs made unique to it (the message sample repeats one)."""
    smart = renamed(sample("transactional/tx_smartemails.json"), "ID", suffix)
    account.per_client.setdefault("transactional/smartEmail", {})[cid] = smart
    for row in smart:
        account.objects[f"transactional/smartEmail/{row['ID']}"] = {
            **sample("transactional/tx_smartemail_details.json"),
            "SmartEmailID": row["ID"],
            "Name": row["Name"],
        }
    account.per_client.setdefault("transactional/classicEmail/groups", {})[cid] = sample(
        "transactional/tx_classicemail_groups.json"
    )
    messages = sample("transactional/tx_messages.json")
    for number, row in enumerate(messages):
        row["MessageID"] = f"{row['MessageID']}{suffix}-{number}"
    account.per_client.setdefault("transactional/messages", {})[cid] = messages

    def statistics(query: dict[str, str]) -> dict[str, Any]:
        answer = sample(f"transactional/tx_statistics_{'smart' if 'smartEmailID' in query else 'classic'}.json")
        return {**answer, "Query": {**answer["Query"], "From": query.get("from"), "To": query.get("to")}}

    account.per_client.setdefault("transactional/statistics", {})[cid] = statistics
