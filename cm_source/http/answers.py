"""Campaign Monitor's answers: a decoded body, or the error it stands for in the user's terms.

The API answers errors as JSON ``{"Code", "Message"}``; these turn into one exception of
``cm_source.errors`` whose text names what is at fault and which setting fixes it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pyarrow as pa
import requests

from ..api_facts import (
    ACCESS_TOKEN_SETTING,
    API_KEY_SETTING,
    BASE_URL_SETTING,
    CLIENT_ID_SETTING,
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    REFRESH_TOKEN_SETTING,
    REVOKED_TOKEN,
)
from ..errors import AccessRefused, CampaignMonitorError, NotFound, RequestRefused, Unavailable
from .arrow_pages import decode_page

NOT_JSON = object()
# About a hundred subscribers: from here on Arrow's reader is the cheaper (docs/performance.md, "Decoding").
ARROW_MIN_BYTES = 32 * 1024


def json_body(response: requests.Response) -> Any:
    """The decoded body, or ``NOT_JSON`` (an HTML error page, or a body cut short).

    orjson decodes in half the time of ``json`` or the ``simplejson`` that requests picks up; what it
    refuses (a number too large for 64 bits) ``json`` is asked for.
    """
    content = response.content
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(content)
    except ValueError:
        return NOT_JSON


def write_body(response: requests.Response) -> Any:
    """A write's answer: unsubscribe, delete and unsuppress succeed with 200 and an empty body (None
    here), which from a read would be a body cut short."""
    if response.ok and not response.content:
        return None
    return json_body(response)


def page_body(response: requests.Response, schema: pa.Schema) -> Any:
    """A page of a large table: an Arrow envelope where it reads as ``schema`` declares, else JSON.

    Arrow's reader has a fixed cost per call that a page of a few rows does not repay (a campaign's
    opens, mostly), so a body under ``ARROW_MIN_BYTES`` goes to orjson.
    """
    if response.status_code == 200 and len(response.content) >= ARROW_MIN_BYTES:
        envelope = decode_page(response.content, schema)
        if envelope is not None:
            return envelope
    return json_body(response)


def error_fields(body: Any) -> tuple[int | None, str | None]:
    """The ``Code`` and ``Message`` of an error body, where it has them."""
    if not isinstance(body, dict):
        return None, None
    return body.get("Code"), body.get("Message")


def describe_answer(response: requests.Response, body: Any) -> str:
    """What came back, for a retry's warning and the error after the last attempt."""
    if body is NOT_JSON:
        return f"answered {response.status_code} with a body that is not JSON ({response.text[:60]!r})"
    code, message = error_fields(body)
    return (
        f"answered {response.status_code}"
        + (f" Code {code}" if code is not None else "")
        + (f": {str(message).strip()}" if message else "")
    )


def give_up(method: str, path: str, problem: str, attempts: int, response: requests.Response | None) -> Unavailable:
    """The error after the last attempt: what came back, and what the user can do about it."""
    if response is not None and response.ok:
        advice = f"check that {BASE_URL_SETTING} is the API's base URL (…/api/v3.3)"
    else:
        advice = f"Campaign Monitor is unavailable or rate limiting, or {BASE_URL_SETTING} is wrong; run again later"
    return Unavailable(
        f"{method} {path}: {problem} in all {attempts} attempts: {advice}",
        status=response.status_code if response is not None else None,
        path=path,
    )


def check_response(response: requests.Response, body: Any, method: str, path: str) -> Any:
    """Return the body of a successful response; raise the error it stands for otherwise."""
    if response.ok:
        return body
    code, message = error_fields(body)
    status = response.status_code
    kind = error_kind(status, code)
    raise kind(describe_error(method, path, status, code, message), status=status, code=code, path=path, body=body)


def error_kind(status: int, code: int | None) -> type:
    """Which exception an error answer is, so callers catch a kind rather than test a status."""
    if status == 401:
        return AccessRefused
    if status == 404 or (status == 400 and code == 101):
        return NotFound
    if status >= 500:
        return Unavailable
    return RequestRefused if 400 <= status < 500 else CampaignMonitorError


def describe_error(method: str, path: str, status: int, code: int | None, message: str | None) -> str:
    """Say what went wrong in the user's terms and which setting fixes it."""
    answer = f"{status}" + (f" Code {code}" if code is not None else "") + (f": {message.strip()}" if message else "")
    request = f"{method} {path}"
    subject = path.split("/")
    if status == 401 and code == 102 and len(subject) > 1 and subject[0] == "clients":
        client_id = subject[1].removesuffix(".json")
        return (
            f"client {client_id} does not exist or this API key cannot see it ({answer}):"
            f" check {CLIENT_ID_SETTING} and that the key belongs to that client's account"
        )
    if status == 400 and code == 101 and len(subject) > 1 and subject[0] in ("lists", "subscribers"):
        list_id = subject[1].removesuffix(".json")
        return f"list {list_id} does not exist or this API key cannot see it ({answer}): check the list ID"
    if status == 401 and code in (INVALID_TOKEN, REVOKED_TOKEN, EXPIRED_TOKEN):
        kind = {INVALID_TOKEN: "is not valid", REVOKED_TOKEN: "was revoked", EXPIRED_TOKEN: "expired again"}[code]
        return (
            f"Campaign Monitor refused the OAuth access token: it {kind} ({answer}) on {request}: get new tokens"
            f" (docs/authentication.md) and set {ACCESS_TOKEN_SETTING} and {REFRESH_TOKEN_SETTING}, then delete"
            " the token file (default .campaign_monitor/tokens.json), which a run prefers"
        )
    if status == 401:
        return f"Campaign Monitor rejected the API key ({answer}) on {request}: check {API_KEY_SETTING}"
    if status == 404:
        return f"{request} is not a Campaign Monitor endpoint ({answer}): check {BASE_URL_SETTING} (…/api/v3.3)"
    if status >= 500:
        return f"{request} failed on Campaign Monitor's side ({answer}): run again later"
    return f"{request} failed ({answer})"
