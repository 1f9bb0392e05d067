"""What a key may not read: a feature the account may not have (transactional email), refused for a client,
or a table of the account itself that only the account's own key reads (its administrators), refused to a
client's key. Its tables load empty (for that client), said once, and every other table still loads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..errors import AccessRefused, CampaignMonitorError, RequestRefused
from .catalogue import ENDPOINTS, Endpoint

LEAVE_OUT = "or leave those tables out (source.with_resources in Python, --tables on the command)"


def refused(error: CampaignMonitorError) -> bool:
    """A 401 (this key may not use it for this client) or a 403 (the account does not have it)."""
    return isinstance(error, AccessRefused) or (isinstance(error, RequestRefused) and error.status == 403)


class FeatureRefusals:
    """The clients each feature was refused for in this run (none for the account's own tables): one line
    each, given to ``say`` (the run's notes), then silence.

    The account's own tables are refused to a client's key and to a wrong key alike (401 Code 100), so
    before one is blamed on the key's reach, ``key_works`` (a request every good key may make: the
    account's clock, asked once a run anyway) must answer; a wrong key fails the run there, in one line."""

    def __init__(self, say: Callable[[str], None], key_works: Callable[[], object]) -> None:
        self._said: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.say = say
        self.key_works = key_works

    def unless_refused(
        self, endpoint: Endpoint, ids: Mapping[str, str], read: Callable[[], Iterator[Any]]
    ) -> Iterator[Any]:
        """``read()``'s items; nothing, with one line for the client (or the account), if the feature is
        refused before anything was read (a refusal part-way through a read is a failure, and is raised)."""
        started = False
        try:
            for item in read():
                started = True
                yield item
        except CampaignMonitorError as error:
            if started or not refused(error):
                raise
            client_id = ids.get("ClientID", "")
            if not client_id:
                self.key_works()
            self._warn(endpoint.feature, client_id, error)

    def _warn(self, feature: str, client_id: str, error: CampaignMonitorError) -> None:
        with self._lock:
            if (feature, client_id) in self._said:
                return
            self._said.add((feature, client_id))
        self.say(refusal_line(feature, client_id, error))


def refusal_line(feature: str, client_id: str, error: CampaignMonitorError) -> str:
    """What a refusal means and how to fix it: for a client, a key with access to the feature; for the
    account's own tables, the account's own key, since no client's key reads them."""
    tables = ", ".join(e.table for e in ENDPOINTS if e.feature == feature)
    answer = f"{error.status} Code {error.code}"
    if client_id:
        return (
            f"Campaign Monitor refused {feature} for client {client_id} ({answer}): {tables} load nothing for it;"
            f" give the key access to {feature}, {LEAVE_OUT}"
        )
    return (
        f"Campaign Monitor refused {feature} to this key ({answer}): {tables} load nothing; only the account's"
        f" own API key reads them, not a client's key nor a token acting for one client: use it, {LEAVE_OUT}"
    )
