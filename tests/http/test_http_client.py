"""The HTTP module: retries, waits and error lines, with no real sleeping."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from helpers.mock_account import API_KEY, BASE_URL
from helpers.samples import a_joiner_after_page_one, envelope, rows_of

from cm_source.errors import CampaignMonitorError
from cm_source.http import CampaignMonitorAPI, RetryPolicy
from cm_source.http.client import MAX_UNUSED_TOKEN_RENEWALS
from cm_source.http.oauth import OAuthTokens, token_url


def api_with_recorded_sleeps(**kwargs: Any) -> tuple[CampaignMonitorAPI, list[float]]:
    waits: list[float] = []
    return CampaignMonitorAPI(API_KEY, BASE_URL, retry=RetryPolicy(sleep=waits.append, **kwargs)), waits


def test_429_waits_the_seconds_in_x_ratelimit_reset(requests_mock: Any) -> None:
    requests_mock.get(
        f"{BASE_URL}/clients.json",
        [
            {"status_code": 429, "headers": {"X-RateLimit-Reset": "7"}, "json": {"Code": 429, "Message": "Rate limit"}},
            {"status_code": 200, "json": rows_of("clients.json")},
        ],
    )
    api, waits = api_with_recorded_sleeps()
    assert api.get_array("clients.json") == rows_of("clients.json")
    assert waits == [pytest.approx(7.0, abs=0.5)]


def test_429_without_headers_backs_off_exponentially(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE_URL}/clients.json", [{"status_code": 429, "json": {}}] * 3 + [{"json": []}])
    api, waits = api_with_recorded_sleeps(backoff_seconds=1.0)
    assert api.get_array("clients.json") == []
    assert len(waits) == 3
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 2.0 <= waits[2] <= 4.0


def test_server_errors_give_up_after_max_attempts_with_one_line(requests_mock: Any) -> None:
    requests_mock.get(
        f"{BASE_URL}/clients.json", status_code=500, json={"Code": 500, "Message": "Internal Server Error"}
    )
    api, waits = api_with_recorded_sleeps(max_attempts=3)
    with pytest.raises(
        CampaignMonitorError, match="clients.json: answered 500 Code 500: Internal Server Error in all 3 attempts"
    ) as failure:
        api.get_array("clients.json")
    assert requests_mock.call_count == 3 and len(waits) == 2
    assert failure.value.status == 500 and "\n" not in str(failure.value)


def test_connection_errors_are_retried_then_named(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE_URL}/clients.json", exc=requests.ConnectionError("refused"))
    api, waits = api_with_recorded_sleeps(max_attempts=2)
    with pytest.raises(CampaignMonitorError, match="could not reach https://api.test/api/v3.3"):
        api.get_array("clients.json")
    assert requests_mock.call_count == 2


def test_html_instead_of_json_is_retried_then_points_at_the_base_url(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE_URL}/clients.json", text="<html>login</html>")
    api, waits = api_with_recorded_sleeps(max_attempts=3)
    with pytest.raises(
        CampaignMonitorError, match="not JSON .* in all 3 attempts: check that SOURCES__CAMPAIGN_MONITOR__BASE_URL"
    ):
        api.get_array("clients.json")
    assert requests_mock.call_count == 3 and len(waits) == 2


def test_a_truncated_body_is_retried(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE_URL}/clients.json", [{"text": '[{"ClientID": "4a39'}, {"json": rows_of("clients.json")}])
    api, waits = api_with_recorded_sleeps()
    assert api.get_array("clients.json") == rows_of("clients.json") and len(waits) == 1


def test_waits_for_the_reset_only_once_the_rate_limit_budget_is_spent(requests_mock: Any) -> None:
    # a window of 2 that this client has to itself (what is used is what it sent)
    def budget(remaining: int) -> dict:
        return {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": "4"}

    requests_mock.get(f"{BASE_URL}/clients.json", [{"json": [], "headers": budget(n)} for n in (1, 0, 1)])
    api, waits = api_with_recorded_sleeps()
    api.get_array("clients.json")
    assert waits == []  # budget left: no reason to slow down
    api.get_array("clients.json")
    api.get_array("clients.json")
    assert waits == [pytest.approx(4.0, abs=0.5)]  # spent: the next request waits for the reset


def test_a_429_on_one_thread_holds_back_every_thread(requests_mock: Any) -> None:
    """Readers that waited on their own would wake together and trip the limit again."""
    requests_mock.get(
        f"{BASE_URL}/lists/a.json",
        [
            {"status_code": 429, "headers": {"X-RateLimit-Reset": "5"}, "json": {"Code": 429, "Message": "Rate limit"}},
            {"json": {}},
        ],
    )
    requests_mock.get(f"{BASE_URL}/lists/b.json", json={})
    api, waits = api_with_recorded_sleeps()
    api.get("lists/a.json")
    api.get("lists/b.json")  # another reader, after the 429: it waits out the same reset
    assert waits == [pytest.approx(5.0, abs=0.5), pytest.approx(5.0, abs=0.5)]


def test_a_request_queued_for_a_slot_does_not_leave_past_a_spent_budget(requests_mock: Any) -> None:
    """Threads queue for the slots in flight; one that queued before a spent budget came back must
    still wait for the window to end, or every queued thread is refused: a storm of 429s."""
    waits: list[float] = []
    api = CampaignMonitorAPI(API_KEY, BASE_URL, retry=RetryPolicy(sleep=waits.append), max_concurrent_requests=1)
    queued = threading.Event()
    second: list[Any] = []

    def spent(request: Any, context: Any) -> list[Any]:
        reader = threading.Thread(target=lambda: (queued.set(), second.append(api.get("lists/b.json"))))
        reader.start()
        assert queued.wait(timeout=10)  # the second reader is on its way while this answer is out
        second.append(reader)
        context.headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"}
        return []

    requests_mock.get(f"{BASE_URL}/lists/a.json", json=spent)
    requests_mock.get(f"{BASE_URL}/lists/b.json", json={})
    api.get("lists/a.json")
    second[0].join(timeout=10)
    assert second[1:] == [{}]
    assert waits == [pytest.approx(5.0, abs=0.5)]  # it waited for the window to end before it was sent


@pytest.mark.parametrize("url", ["http://api.createsend.com/api/v3.3", "ftp://x/api/v3.3", "api.createsend.com"])
def test_a_key_is_never_sent_in_clear_text(url: str) -> None:
    with pytest.raises(CampaignMonitorError, match="not an https URL") as failure:
        CampaignMonitorAPI(API_KEY, url)
    assert API_KEY not in str(failure.value)


def test_plain_http_is_allowed_on_loopback_for_the_sandbox() -> None:
    assert CampaignMonitorAPI(API_KEY, "http://127.0.0.1:8080/api/v3.3/").base_url == "http://127.0.0.1:8080/api/v3.3"


def test_get_pages_reads_exactly_number_of_pages(requests_mock: Any) -> None:
    rows = rows_of("suppressionlist.json") * 3  # 15 rows

    def respond(request: Any, context: Any) -> Any:
        # answer as if the page size were 10, whatever was asked, to force two pages
        return envelope(rows, int(request.qs["page"][0]), 10)

    requests_mock.get(f"{BASE_URL}/clients/c1/suppressionlist.json", json=respond)
    api, _ = api_with_recorded_sleeps()
    pages = list(api.get_pages("clients/c1/suppressionlist.json", {"orderfield": "email"}))
    assert [len(p) for p in pages] == [10, 5]
    assert [r.qs["page"] for r in requests_mock.request_history] == [["1"], ["2"]]
    assert requests_mock.request_history[0].qs["orderfield"] == ["email"]


def test_missing_key_is_refused_before_any_request() -> None:
    with pytest.raises(CampaignMonitorError, match="no Campaign Monitor API key"):
        CampaignMonitorAPI("", BASE_URL)


def test_rows_moving_while_paging_are_read_again_without_duplicates(requests_mock: Any) -> None:
    """A subscriber joins (sorting first) after page 1 was read: page 2 shifts by one row."""
    people = [{"EmailAddress": f"p{i:02d}@example.com"} for i in range(15)]
    live = list(people)
    requests_mock.get(f"{BASE_URL}/lists/l1/active.json", json=a_joiner_after_page_one(live))
    api, _ = api_with_recorded_sleeps()
    rows = [
        r["EmailAddress"] for page in api.get_pages("lists/l1/active.json", row_key=("EmailAddress",)) for r in page
    ]
    assert len(rows) == len(set(rows)) == 16
    assert set(rows) == {p["EmailAddress"] for p in live}
    assert [r.qs["page"][0] for r in requests_mock.request_history] == ["1", "2", "1", "2"]


def test_data_that_never_holds_still_fails_with_one_line(requests_mock: Any) -> None:
    """Every pass sees fewer distinct rows than the total it announces: rows go missing, loudly."""
    body = envelope([{"EmailAddress": "only@example.com"}], 1, 1000) | {"TotalNumberOfRecords": 2}
    requests_mock.get(f"{BASE_URL}/lists/l1/active.json", json=body)
    api, _ = api_with_recorded_sleeps()
    with pytest.raises(CampaignMonitorError, match="kept changing while it was read \\(3 passes\\)"):
        list(api.get_pages("lists/l1/active.json", row_key=("EmailAddress",)))
    assert requests_mock.call_count == 3


def bearer_api(tmp_path: Any) -> tuple[CampaignMonitorAPI, OAuthTokens]:
    tokens = OAuthTokens("access-0", "refresh-0", BASE_URL, token_file=tmp_path / "tokens.json")
    return CampaignMonitorAPI("", BASE_URL, oauth=tokens), tokens


def rotating_pairs(requests_mock: Any) -> None:
    """The token endpoint: every refresh answers the next pair (access-1, access-2, …)."""
    bought = iter(range(1, 1000))

    def pair(_request: Any, _context: Any) -> dict[str, str]:
        n = next(bought)
        return {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}"}

    requests_mock.post(token_url(BASE_URL), json=pair)


EXPIRED = {"Code": 121, "Message": "Expired OAuth Token"}


def test_a_request_outrun_by_others_on_every_new_token_still_gets_through(requests_mock: Any, tmp_path: Any) -> None:
    """Processes sharing a grant can use each new pair up before a slow request is sent again: each of
    those tokens answered requests, so the renewals are not counted against the grant (CI failure, stop 43)."""
    api, tokens = bearer_api(tmp_path)
    rotating_pairs(requests_mock)
    outrun = MAX_UNUSED_TOKEN_RENEWALS + 3

    def answer(request: Any, context: Any) -> Any:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        if int(token.removeprefix("access-")) < outrun:
            tokens.answered(token)  # another thread's request used it, and then it expired
            context.status_code = 401
            return EXPIRED
        return []

    requests_mock.get(f"{BASE_URL}/clients.json", json=answer)
    assert api.get_array("clients.json") == []
    assert tokens.refreshes == outrun


def test_a_grant_whose_new_tokens_are_refused_from_the_start_fails_in_one_line(
    requests_mock: Any, tmp_path: Any
) -> None:
    api, tokens = bearer_api(tmp_path)
    rotating_pairs(requests_mock)
    requests_mock.get(f"{BASE_URL}/clients.json", status_code=401, json=EXPIRED)
    with pytest.raises(CampaignMonitorError, match="refused the OAuth access token: it expired again") as failure:
        api.get_array("clients.json")
    assert tokens.refreshes == MAX_UNUSED_TOKEN_RENEWALS and "\n" not in str(failure.value)
