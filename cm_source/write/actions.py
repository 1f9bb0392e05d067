"""Acting on people by address: unsubscribe or delete from one list, suppress or unsuppress for a client.

The API has no bulk unsubscribe, delete or unsuppress: each is one request per address, sent with the
client's bounded concurrency and its shared rate gate (a 429 holds every request), and each finished
one is recorded in the checkpoint, so an interrupted run resumes without sending it again. Suppressing
takes many addresses a request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from ..account_access import api_from_settings
from ..concurrency import WorkAhead
from ..errors import RequestRefused
from ..http import CampaignMonitorAPI
from ..http.answers import error_fields
from .checkpoint import Checkpoint
from .custom_fields import email_column
from .rejects import Rejection, write_rejects

Action = Literal["unsubscribe", "delete", "suppress", "unsuppress"]
ACTIONS: tuple[Action, ...] = ("unsubscribe", "delete", "suppress", "unsuppress")
LIST_ACTIONS = ("unsubscribe", "delete")  # the others act on a client's suppression list
# "Subscriber not in list or has already been removed": the end the removal wanted already holds.
NOT_IN_LIST = 203
# Addresses per suppress request: the reference sets no limit; an import's limit keeps a body modest.
SUPPRESS_BATCH = 1000


@dataclass
class Outcome:
    """What became of one address: done, refused (with the API's code and message) or not found."""

    email: str
    status: Literal["done", "refused", "not_found"]
    code: int = 0
    message: str = ""

    def as_result(self) -> dict[str, Any]:
        return {"email": self.email, "status": self.status, "code": self.code, "message": self.message}


@dataclass
class ActionReport:
    """Every address given, accounted for: done + refused + not found = addresses (one per address)."""

    action: Action
    target: str  # the list (unsubscribe, delete) or client (suppress, unsuppress)
    done: int = 0
    refused: list[Rejection] = field(default_factory=list)
    not_found: list[Rejection] = field(default_factory=list)
    requests_sent: int = 0
    resumed: int = 0  # finished by an earlier, interrupted run and not sent again
    dry_run: bool = False

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "done":
            self.done += 1
            return
        rejection = Rejection({"email_address": outcome.email, "action": self.action}, outcome.code, outcome.message)
        (self.refused if outcome.status == "refused" else self.not_found).append(rejection)

    @property
    def not_done(self) -> list[Rejection]:
        """Refused, then not found: what goes to the rejects file."""
        return self.refused + self.not_found

    def summary(self) -> str:
        where = f"list {self.target}" if self.action in LIST_ACTIONS else f"client {self.target}"
        if self.dry_run:
            return f"{where}: would {self.action} {self.done:,} addresses; nothing sent"
        return (
            f"{where}: {self.action}: {self.done:,} done, {len(self.refused):,} refused,"
            f" {len(self.not_found):,} not found,"
            f" {self.requests_sent:,} requests" + (f", {self.resumed:,} resumed" if self.resumed else "")
        )


def act_on(
    api: CampaignMonitorAPI,
    action: Action,
    target: str,
    emails: Iterable[str],
    checkpoint: Checkpoint,
    report: ActionReport | None = None,
    progress: Callable[[Any], None] | None = None,
) -> ActionReport:
    """Do ``action`` to every address once (the first spelling of each, ignoring case) and report on each;
    ``progress`` is handed the report after each address."""
    report = report or ActionReport(action, target)
    pending = []
    for email in unique_addresses(emails):
        key = checkpoint.key(target, f"{action}\n{email.lower()}".encode())
        if key in checkpoint.done:
            report.resumed += 1
            report.add(Outcome(**checkpoint.done[key]))
        else:
            pending.append((key, email))
    if action == "suppress":
        outcomes: Iterator[tuple[str | None, Outcome]] = _suppressed(api, target, pending, report)
    else:
        outcomes = _one_each(api, lambda email: send_one(api, action, target, email), pending, report)
    for key, outcome in outcomes:
        checkpoint.record(key, outcome.as_result())
        report.add(outcome)
        if progress is not None:
            progress(report)
    return report


def unique_addresses(emails: Iterable[str]) -> list[str]:
    """Each address once, ignoring case, as first spelled, in the order first given."""
    first: dict[str, str] = {}
    for email in emails:
        first.setdefault(email.lower(), email)
    return list(first.values())


def _one_each(
    api: CampaignMonitorAPI,
    send: Callable[[str], Outcome],
    pending: list[tuple[str | None, str]],
    report: ActionReport,
) -> Iterator[tuple[str | None, Outcome]]:
    """Each address's request on up to ``max_concurrent_requests`` threads, a few more queued than run.

    Outcomes are yielded (and so recorded) on the calling thread as requests finish. A request that
    fails for good stops the run: what is in flight is finished and recorded first, then it is raised.
    """
    workers = api.max_concurrent_requests
    tasks = (partial(_keyed, key, send, email) for key, email in pending)
    sent_before = report.requests_sent
    with WorkAhead(tasks, workers, ahead=2 * workers, ordered=False, name="cm-write") as requests:
        for outcome in requests:
            report.requests_sent = sent_before + requests.started
            yield outcome
        report.requests_sent = sent_before + requests.started


def _keyed(key: str | None, send: Callable[[str], Outcome], email: str) -> tuple[str | None, Outcome]:
    return key, send(email)


def _refused(email: str, exc: RequestRefused) -> Outcome:
    """A 4xx for one address: 203 means it is not on the list; anything else is the API refusing it."""
    if exc.code == NOT_IN_LIST:
        return Outcome(email, "not_found", NOT_IN_LIST, error_fields(exc.body)[1] or "not in the list")
    return Outcome(email, "refused", exc.code or exc.status or 0, error_fields(exc.body)[1] or str(exc))


# The one request each single-address action sends (suppressing one address is a batch of one).
ONE_ADDRESS: dict[Action, Callable[[CampaignMonitorAPI, str, str], Any]] = {
    "unsubscribe": lambda api, list_id, email: api.post(
        f"subscribers/{list_id}/unsubscribe.json", {"EmailAddress": email}
    ),
    "delete": lambda api, list_id, email: api.delete(f"subscribers/{list_id}.json", {"email": email}),
    "unsuppress": lambda api, client_id, email: api.put(f"clients/{client_id}/unsuppress.json", {"email": email}),
    "suppress": lambda api, client_id, email: api.post(
        f"clients/{client_id}/suppress.json", {"EmailAddresses": [email]}
    ),
}


def send_one(api: CampaignMonitorAPI, action: Action, target: str, email: str) -> Outcome:
    """One address's request; a 4xx is this address's outcome, while NotFound (an unknown list) and
    AccessRefused stop the run."""
    try:
        ONE_ADDRESS[action](api, target, email)
    except RequestRefused as exc:
        return _refused(email, exc)
    return Outcome(email, "done")


def _suppressed(
    api: CampaignMonitorAPI, client_id: str, pending: list[tuple[str | None, str]], report: ActionReport
) -> Iterator[tuple[str | None, Outcome]]:
    """Suppress in requests of ``SUPPRESS_BATCH``; a request refused as a whole (one bad address refuses
    them all) is sent again one address at a time, so only the bad ones are refused."""
    for start in range(0, len(pending), SUPPRESS_BATCH):
        batch = pending[start : start + SUPPRESS_BATCH]
        report.requests_sent += 1
        try:
            api.post(f"clients/{client_id}/suppress.json", {"EmailAddresses": [email for _, email in batch]})
        except RequestRefused as exc:
            if len(batch) == 1:
                yield batch[0][0], _refused(batch[0][1], exc)
                continue
            for key, email in batch:
                report.requests_sent += 1
                yield key, send_one(api, "suppress", client_id, email)
            continue
        for key, email in batch:
            yield key, Outcome(email, "done")


def addresses(rows: Iterable[Any], report: ActionReport) -> Iterator[str]:
    """The address of each row (a mapping's ``email_address``, or a plain string); a row without one is
    refused here with Code 1, as the API would refuse it."""
    for row in rows:
        email = row if isinstance(row, str) else email_of(dict(row))
        text = str(email).strip() if email is not None else ""
        if text:
            yield text
        else:
            kept = {"action": report.action} if isinstance(row, str) else {**dict(row), "action": report.action}
            report.refused.append(Rejection(kept, 1, "email_address is empty"))


def email_of(row: dict[str, Any]) -> Any:
    """The row's address: its ``email_address``, or a column other tools export it under (``Email``, …)."""
    column = email_column(tuple(row))
    return row[column] if column is not None else None


def check_target(api: CampaignMonitorAPI, action: Action, target: str) -> None:
    """One read that proves the key may act on the list or client before anything is sent: an unknown
    list or client stops the run here, in one line, not on the first of many requests."""
    if action in LIST_ACTIONS:
        api.get(f"lists/{target}.json")
    else:
        api.get(f"clients/{target}/suppressionlist.json", {"page": 1, "pagesize": 10})


def run_action(
    rows: Iterable[Any],
    action: Action,
    target: str,
    *,
    api: CampaignMonitorAPI,
    rejects_path: str | None = None,
    checkpoint_path: str | None = None,
    dry_run: bool = False,
    progress: Callable[[Any], None] | None = None,
) -> ActionReport:
    """``action`` on the address of every row, with a report on each and the ones not done in ``rejects_path``."""
    check_target(api, action, target)
    report = ActionReport(action, target, dry_run=dry_run)
    emails = list(addresses(rows, report))
    with Checkpoint(Path(checkpoint_path) if checkpoint_path else None) as checkpoint:
        if dry_run:
            report.done = len(unique_addresses(emails))
        else:
            act_on(api, action, target, emails, checkpoint, report, progress)
            checkpoint.clear()
        if rejects_path:
            write_rejects(Path(rejects_path), report.not_done)
    return report


def _named(action: Action, target: str, what: str) -> Callable[..., ActionReport]:
    """The public function for one action: the same inputs, report and rejects file as every other."""

    def act(
        rows: Iterable[Any],
        target_id: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        rejects_path: str | None = None,
        checkpoint_path: str | None = None,
        dry_run: bool = False,
        api: CampaignMonitorAPI | None = None,
        progress: Callable[[Any], None] | None = None,
    ) -> ActionReport:
        api = api or api_from_settings(api_key, base_url)
        return run_action(
            rows,
            action,
            target_id,
            api=api,
            rejects_path=rejects_path,
            checkpoint_path=checkpoint_path,
            dry_run=dry_run,
            progress=progress,
        )

    act.__name__ = act.__qualname__ = {"unsubscribe": "unsubscribe_subscribers", "delete": "delete_subscribers"}.get(
        action, action
    )
    act.__doc__ = (
        f"{what} (rows with ``email_address``, or plain addresses), ``target_id`` being the {target}; one"
        " report line per address (done, refused, not found), the ones not done in ``rejects_path``."
    )
    return act


unsubscribe_subscribers = _named("unsubscribe", "list", "Unsubscribe every address from one list")
delete_subscribers = _named("delete", "list", "Delete every address from one list (they move to Deleted)")
suppress = _named("suppress", "client", "Add every address to a client's suppression list")
unsuppress = _named("unsuppress", "client", "Take every address off a client's suppression list")
