"""What is done to every row of one endpoint's page: the IDs it was read under, and the zones of its times."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from .catalogue import Endpoint
from .time_zones import LocalTime


@dataclass(frozen=True)
class PageRules:
    """What is done to every row of one endpoint's page, read under ``ids``, in the parent's ``zone``."""

    endpoint: Endpoint
    ids: Mapping[str, str]
    zone: ZoneInfo | None
    local_time: LocalTime

    def zone_of(self, field: str, row: Mapping[str, Any] | None = None) -> ZoneInfo | None:
        """The zone of a timestamp field: its own, where the row names one (``ScheduledTimeZone``), else the
        client's."""
        own = self.endpoint.zones.per_timestamp.get(field)
        if own and row is not None and row.get(own):
            return self.local_time.zone(row[own])
        return self.zone

    def children_zone(self, row: Mapping[str, Any]) -> ZoneInfo | None:
        """The zone handed to the tables read under this row: the one it names, else the parent's."""
        for_children = self.endpoint.zones.for_children
        named = row.get(for_children) if for_children else None
        return self.local_time.zone(named) if named else self.zone
