"""The transactional message timeline, read by message-ID cursors instead of pages.

The timeline is a bare array, newest first, at most ``TIMELINE_COUNT`` messages a call, with neither
a page number nor a total: ``sentBeforeID`` reads back from a message, ``sentAfterID`` forward from
one, and a short answer is the end. A cursor is a message, not an offset, so messages sent during a
read do not shift what the next call returns: walking back meets every message once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from ..api_facts import BASE_URL_SETTING, TIMELINE_COUNT
from ..errors import CampaignMonitorError

Message = dict[str, Any]
Get = Callable[[Mapping[str, Any]], list[Message]]  # one call: cursor parameters to the messages it answered
MESSAGE_ID, SENT_AT = "MessageID", "SentAt"


def sent_at(message: Mapping[str, Any]) -> datetime | None:
    """When a message was sent, as a UTC instant; None when its ``SentAt`` carries no offset to place it."""
    try:
        moment = datetime.fromisoformat(str(message.get(SENT_AT)))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo is not None else None


def walk_back(
    get: Get, before: str | None = None, far_enough: Callable[[list[Message]], bool] = lambda _: False
) -> Iterator[list[Message]]:
    """The timeline from its newest message (or from the one just older than ``before``) back to its
    oldest, a call at a time; it stops early after a call that ``far_enough`` accepts."""
    previous: set[str] = set()
    while True:
        page = _messages(get({"count": TIMELINE_COUNT, **({"sentBeforeID": before} if before else {})}), "sentBeforeID")
        fresh = [row for row in page if row[MESSAGE_ID] not in previous]
        if page and not fresh:
            raise _repeated("sentBeforeID", before)
        yield fresh
        if len(page) < TIMELINE_COUNT or far_enough(page):
            return
        before, previous = page[-1][MESSAGE_ID], {row[MESSAGE_ID] for row in page}


def newer_than(get: Get, newest: str, newest_sent: datetime | None) -> Iterator[list[Message]]:
    """Every message sent after ``newest`` (the newest one loaded before), each once.

    ``sentAfterID`` answers at most one call's worth. A full answer may be the messages just after
    ``newest`` or the newest of all: either way, walking back from its oldest message until a message
    already met (or one sent before ``newest``) fills any gap beneath it, and asking after its newest
    message goes on above it, so nothing between is skipped.
    """
    met: set[str] = {newest}
    after = newest
    while True:
        page = _messages(get({"count": TIMELINE_COUNT, "sentAfterID": after}), "sentAfterID")
        fresh = [row for row in page if row[MESSAGE_ID] not in met]
        if len(page) == TIMELINE_COUNT and not fresh:
            raise _repeated("sentAfterID", after)
        met.update(row[MESSAGE_ID] for row in fresh)
        yield fresh
        if len(page) < TIMELINE_COUNT:
            return
        before = page[-1][MESSAGE_ID]
        while before:
            below = _messages(get({"count": TIMELINE_COUNT, "sentBeforeID": before}), "sentBeforeID")
            unmet = _until_met(below, met, newest_sent)
            met.update(row[MESSAGE_ID] for row in unmet)
            yield unmet
            done = len(unmet) < len(below) or len(below) < TIMELINE_COUNT
            before = None if done else below[-1][MESSAGE_ID]
        after = page[0][MESSAGE_ID]


def _until_met(page: list[Message], met: set[str], newest_sent: datetime | None) -> list[Message]:
    """The messages of a walk back before the first one already met or sent before the old newest."""
    for position, row in enumerate(page):
        sent = sent_at(row)
        if row[MESSAGE_ID] in met or (newest_sent is not None and sent is not None and sent < newest_sent):
            return page[:position]
    return page


def _messages(body: Any, cursor: str) -> list[Message]:
    if not isinstance(body, list) or not all(isinstance(row, dict) and row.get(MESSAGE_ID) for row in body):
        raise CampaignMonitorError(
            f"GET transactional/messages ({cursor}): expected an array of messages with a MessageID each:"
            f" check {BASE_URL_SETTING}"
        )
    return body


def _repeated(cursor: str, message_id: str | None) -> CampaignMonitorError:
    return CampaignMonitorError(
        f"GET transactional/messages answered the same messages again for {cursor}={message_id}: the server"
        f" does not page the timeline by message ID; check {BASE_URL_SETTING}"
    )
