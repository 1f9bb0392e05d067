"""Each error answer raises the kind of error a caller can catch, with one line that names the fix."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.mock_account import API_KEY, BASE_URL

from cm_source.errors import AccessRefused, CampaignMonitorError, NotFound, RequestRefused, Unavailable
from cm_source.http import CampaignMonitorAPI, RetryPolicy


def api() -> CampaignMonitorAPI:
    return CampaignMonitorAPI(API_KEY, BASE_URL, retry=RetryPolicy(max_attempts=2, sleep=lambda _: None))


@pytest.mark.parametrize(
    "status, body, kind, words",
    [
        (
            401,
            {"Code": 50, "Message": "Must supply a valid HTTP Basic Authorization header"},
            AccessRefused,
            "rejected the API key",
        ),
        (
            401,
            {"Code": 102, "Message": "Invalid ClientID"},
            AccessRefused,
            "client c1 does not exist or this API key cannot see it",
        ),
        (400, {"Code": 101, "Message": "Invalid ListID"}, NotFound, "list l1 does not exist"),
        (404, {"Code": 404, "Message": "Not found"}, NotFound, "is not a Campaign Monitor endpoint"),
        (
            400,
            {"Code": 801, "Message": "Invalid page size"},
            RequestRefused,
            r"failed \(400 Code 801: Invalid page size\)",
        ),
        (503, {"Code": 503, "Message": "Down"}, Unavailable, "in all 2 attempts"),
    ],
)
def test_an_error_answer_is_the_kind_of_error_it_stands_for(
    requests_mock: Any, status: int, body: Any, kind: type, words: str
) -> None:
    path = "lists/l1.json" if body["Code"] == 101 else "clients/c1.json"
    requests_mock.get(f"{BASE_URL}/{path}", status_code=status, json=body)
    with pytest.raises(kind, match=words) as failure:
        api().get(path)
    assert isinstance(failure.value, CampaignMonitorError) and failure.value.status == status
    assert failure.value.path == path and "\n" not in str(failure.value)
    others = {AccessRefused, NotFound, RequestRefused, Unavailable} - {kind}
    assert not isinstance(failure.value, tuple(others))


def test_the_error_keeps_the_apis_code_and_body_for_the_caller(requests_mock: Any) -> None:
    answer = {"Code": 210, "Message": "Subscriber Import had some failures", "ResultData": {"TotalNewSubscribers": 1}}
    requests_mock.post(f"{BASE_URL}/subscribers/l1/import.json", status_code=400, json=answer)
    with pytest.raises(RequestRefused) as failure:
        api().post("subscribers/l1/import.json", {"Subscribers": []})
    assert failure.value.code == 210 and failure.value.body == answer
