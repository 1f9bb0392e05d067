"""What passes between the server, the faults and the handlers: a request as recorded, a request as a
handler gets it, an error answer, and an answer before it is encoded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .account import Account

KEY_REFUSED = "Invalid API key"  # Code 100: a key the account does not know, or no longer


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived; path is relative to the API base, e.g. "/lists/abc/active.json"."""

    method: str
    path: str
    query: dict[str, str]
    body: Any = None  # the decoded JSON body; None when there was none or it was not UTF-8 JSON
    fault: str | None = None  # the Faults switch that answered instead of the API (e.g. "rate_limit"), if any


@dataclass(frozen=True)
class ApiRequest:
    """What a handler needs: the data, who is asking, the path parameters and the query."""

    account: Account
    scope: str | None  # the client ID a client key is limited to; None for the administrator key
    params: dict[str, str]
    query: dict[str, str]  # as paging.given_query() makes it: names lower-cased, empty values left out
    body: Any = None  # the decoded JSON body, as in RecordedRequest


Handler = Callable[[ApiRequest], Any]


class ApiError(Exception):
    """An error answer: HTTP status plus the API's {"Code", "Message"} body, and "ResultData" when the
    error still carries a result (an import that partly failed)."""

    def __init__(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None, result_data: Any = None
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.result_data = result_data

    def payload(self) -> dict:
        """The JSON body of the answer."""
        body = {"Code": self.code, "Message": self.message}
        if self.result_data is not None:
            body["ResultData"] = self.result_data
        return body


@dataclass(frozen=True)
class Reply:
    """An answer before it is encoded: JSON (no body at all for a payload of None), unless a fault says
    how to mangle or replace it."""

    status: int  # 0 for reset_connection, which answers nothing
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    # None for an ordinary answer; "truncate" sends half the body, "garbage" sends payload (text) as HTML,
    # "reset_connection" sends nothing; any other fault name is an ordinary JSON answer.
    fault: str | None = None
    body: bytes | None = None  # the payload already encoded (an answer kept by the answer cache)
