"""The transactional timeline's cursor paging (``http.timeline``) against an in-memory timeline that answers
``sentAfterID`` either way the API might: the messages just after the cursor, or the newest of all."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from cm_source.api_facts import TIMELINE_COUNT
from cm_source.errors import CampaignMonitorError
from cm_source.http.timeline import newer_than, sent_at, walk_back

START = datetime(2025, 3, 1, tzinfo=timezone.utc)


def message(number: int) -> dict[str, Any]:
    return {
        "MessageID": f"m{number:05d}",
        "SentAt": (START + timedelta(minutes=number)).isoformat(),
        "Status": "Delivered",
    }


class Timeline:
    """Messages newest first, answered as the API does; ``after`` says which messages a full
    ``sentAfterID`` answer holds: "next" (just after the cursor) or "newest" (the top of the timeline)."""

    def __init__(self, count: int, after: str = "next") -> None:
        self.messages = [message(n) for n in reversed(range(count))]
        self.numbered = count
        self.after = after
        self.calls: list[dict[str, Any]] = []

    def send(self, count: int) -> list[str]:
        first, self.numbered = self.numbered, self.numbered + count
        new = [message(n) for n in reversed(range(first, self.numbered))]
        self.messages = new + self.messages
        return [row["MessageID"] for row in new]

    def __call__(self, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        self.calls.append(dict(query))
        count = int(query["count"])
        assert 1 <= count <= TIMELINE_COUNT
        ids = [row["MessageID"] for row in self.messages]
        if "sentBeforeID" in query:
            return self.messages[ids.index(query["sentBeforeID"]) + 1 :][:count]
        if "sentAfterID" in query:
            newer = self.messages[: ids.index(query["sentAfterID"])]
            return newer[-count:] if self.after == "next" else newer[:count]
        return self.messages[:count]


def ids_of(pages: Any) -> list[str]:
    return [row["MessageID"] for page in pages for row in page]


def test_walking_back_reads_every_message_once_in_calls_of_200() -> None:
    timeline = Timeline(450)
    assert ids_of(walk_back(timeline)) == [row["MessageID"] for row in timeline.messages]
    assert [call.get("sentBeforeID") for call in timeline.calls] == [None, "m00250", "m00050"]
    assert {call["count"] for call in timeline.calls} == {TIMELINE_COUNT}


def test_a_walk_back_meets_no_message_sent_while_it_reads() -> None:
    timeline = Timeline(450)
    walk = walk_back(timeline)
    seen = ids_of([next(walk)])
    timeline.send(70)  # arrive at the top: the cursor is a message, so nothing shifts
    seen += ids_of(walk)
    assert len(seen) == len(set(seen)) == 450


def test_an_exact_multiple_of_200_ends_with_one_empty_call() -> None:
    timeline = Timeline(400)
    assert len(ids_of(walk_back(timeline))) == 400 and len(timeline.calls) == 3


def test_far_enough_ends_the_walk_after_the_call_it_accepts() -> None:
    timeline = Timeline(1000)
    walked = ids_of(walk_back(timeline, far_enough=lambda page: page[-1]["MessageID"] < "m00700"))
    assert len(timeline.calls) == 2 and walked[-1] == "m00600"


@pytest.mark.parametrize("after", ["next", "newest"])
@pytest.mark.parametrize("new", [0, 60, 199, 200, 450, 1001])
def test_newer_than_reads_exactly_the_new_messages_whichever_way_sent_after_answers(after: str, new: int) -> None:
    timeline = Timeline(300, after)
    newest = timeline.messages[0]
    sent = timeline.send(new)
    got = ids_of(newer_than(timeline, newest["MessageID"], sent_at(newest)))
    assert sorted(got) == sorted(sent) and len(got) == len(set(got))
    if new < TIMELINE_COUNT:
        assert timeline.calls == [{"count": TIMELINE_COUNT, "sentAfterID": newest["MessageID"]}]
    else:  # each further call's worth costs about two calls at most
        assert len(timeline.calls) <= 2 * (new // TIMELINE_COUNT) + 2


def test_newer_than_stops_at_the_old_newest_time_when_that_message_is_gone() -> None:
    class Forgetful(Timeline):
        """A timeline that no longer holds the cursor's message and answers sentAfterID it with the newest."""

        def __call__(self, query: Mapping[str, Any]) -> list[dict[str, Any]]:
            if query.get("sentAfterID") == gone["MessageID"]:
                self.calls.append(dict(query))
                return self.messages[: int(query["count"])]
            return super().__call__(query)

    timeline = Forgetful(300, after="newest")
    gone = timeline.messages.pop(0)
    sent = timeline.send(450)
    assert sorted(ids_of(newer_than(timeline, gone["MessageID"], sent_at(gone)))) == sorted(sent)
    assert len(timeline.calls) == 4  # the newest 200, two calls back to the old newest time, one after the newest


def test_a_server_that_ignores_the_cursor_is_named_not_looped_on() -> None:
    def ignores_cursor(query: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [message(n) for n in reversed(range(TIMELINE_COUNT))]

    with pytest.raises(CampaignMonitorError, match="does not page the timeline by message ID"):
        ids_of(walk_back(ignores_cursor))


def test_an_answer_that_is_not_messages_is_one_line() -> None:
    with pytest.raises(CampaignMonitorError, match="expected an array of messages with a MessageID"):
        ids_of(walk_back(lambda query: {"Results": []}))  # type: ignore[arg-type, return-value]


def test_sent_at_is_the_instant_its_offset_says() -> None:
    assert sent_at({"SentAt": "2014-01-15T16:09:19-05:00"}) == datetime(2014, 1, 15, 21, 9, 19, tzinfo=timezone.utc)
    assert sent_at({"SentAt": "2014-01-15 16:09:19"}) is None and sent_at({}) is None
