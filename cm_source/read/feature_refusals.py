"""A feature the account may not have (transactional email): refused for a client, its tables load
empty for that client, said once, and every other table still loads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..errors import AccessRefused, CampaignMonitorError, RequestRefused
from .catalogue import ENDPOINTS, Endpoint

logger = logging.getLogger(__name__)


def refused(error: CampaignMonitorError) -> bool:
    """A 401 (this key may not use it for this client) or a 403 (the account does not have it)."""
    return isinstance(error, AccessRefused) or (isinstance(error, RequestRefused) and error.status == 403)


class FeatureRefusals:
    """The clients each feature was refused for in this run: one warning each, then silence."""

    def __init__(self) -> None:
        self._said: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def unless_refused(
        self, endpoint: Endpoint, ids: Mapping[str, str], read: Callable[[], Iterator[Any]]
    ) -> Iterator[Any]:
        """``read()``'s items; nothing, with one warning for the client, if the feature is refused
        before anything was read (a refusal part-way through a read is a failure, and is raised)."""
        started = False
        try:
            for item in read():
                started = True
                yield item
        except CampaignMonitorError as error:
            if started or not refused(error):
                raise
            self._warn(endpoint.feature, ids.get("ClientID", ""), error)

    def _warn(self, feature: str, client_id: str, error: CampaignMonitorError) -> None:
        with self._lock:
            if (feature, client_id) in self._said:
                return
            self._said.add((feature, client_id))
        tables = ", ".join(e.table for e in ENDPOINTS if e.feature == feature)
        logger.warning(
            "Campaign Monitor refused %s for client %s (%s Code %s): %s load nothing for it; give the key"
            " access to %s, or leave those tables out (source.with_resources in Python, --tables on the command)",
            feature,
            client_id,
            error.status,
            error.code,
            tables,
            feature,
        )
