"""Reports the counts say are empty are not asked for.

A campaign's summary counts its opens, clicks, bounces, unsubscribes, spam complaints and recipients, and
a journey email's row counts its recipients, opens, clicks, bounces and unsubscribes; the API's event
endpoints hold exactly what those count. A table whose count is 0 under a parent is therefore not asked:
under the API's rate window a sync's time is its requests, and small sends have many empty reports.

When a zero is trusted:
- a journey email's counts: always; they are read in the same run, just before its reports;
- a campaign's summary: once the campaign was sent at least two days before the account's "now" (a day
  for a large send to finish and its summary to settle, a day for the account's zone against the
  client's), and, in an incremental run, not within ``report_refresh_days``, whose campaigns are read in
  full as the refresh reads them again. A zero not trusted is read, as before.
A parent left unread this way is noted as read in an incremental run, as an empty read would have left it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from .catalogue import Endpoint
from .incremental import TablePlan
from .progress import RunProgress
from .shared_answers import SharedAnswers

T = TypeVar("T")
SETTLED_AFTER = timedelta(days=2)


class ReportCounts:
    """Whether a table's rows under a parent are worth a request, from the count that says so."""

    def __init__(
        self, answers: SharedAnswers, account_now: Callable[[], datetime | None], progress: RunProgress
    ) -> None:
        self.answers = answers
        self.account_now = account_now
        self.progress = progress

    def gated(
        self,
        endpoint: Endpoint,
        parent: Mapping[str, Any],
        ids: Mapping[str, str],
        reader: Callable[[], Iterator[T]],
        plan: TablePlan | None,
    ) -> Callable[[], Iterator[T]]:
        """``reader``, unless the count says there is nothing to read (asked when it starts, on its thread)."""

        def read() -> Iterator[T]:
            if self.empty(endpoint, parent, ids, plan):
                self.progress.empty_report(endpoint.table)
                if plan is not None:
                    plan.nothing_to_read(str(list(ids.values())[-1]))
                return
            yield from reader()

        return read

    def empty(
        self, endpoint: Endpoint, parent: Mapping[str, Any], ids: Mapping[str, str], plan: TablePlan | None
    ) -> bool:
        counted = endpoint.counted_by
        if counted is None:
            return False
        counts: Any = parent
        if counted.answer:
            # taken whether or not its zero is trusted: every table that shares the answer takes it once
            counts = self.answers.take(counted.answer, counted.answer.format(**ids), own=False)
            if not self.settled(parent, plan):
                return False
        return counted.says_empty(counts)

    def settled(self, campaign: Mapping[str, Any], plan: TablePlan | None) -> bool:
        """Whether a campaign's summary is trusted to say a report is empty (see the module's docstring)."""
        sent = campaign.get("SentDate")
        if not isinstance(sent, datetime) or not sent_long_ago(sent, self.account_now()):
            return False
        return plan is None or not plan.recently_sent(campaign)


def sent_long_ago(sent: datetime, now: datetime | None) -> bool:
    """Whether a campaign sent at ``sent`` (in UTC if it carries a zone, else local) went out at least
    ``SETTLED_AFTER`` before the account's ``now``; never when the account does not say its now."""
    if now is None:
        return False
    if sent.tzinfo is not None:
        sent = sent.astimezone(timezone.utc).replace(tzinfo=None)
    return sent <= now.replace(tzinfo=None) - SETTLED_AFTER
