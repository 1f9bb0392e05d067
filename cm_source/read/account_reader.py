"""Reading one account by the catalogue: each table under every row of its parent, several at once."""

from __future__ import annotations

import logging
from datetime import date, datetime
from functools import partial
from typing import Any, Callable, Iterator, List, Mapping, Optional

from dlt.common.pipeline import current_pipeline

from ..api_facts import API_KEY_SETTING, CLIENT_ID_SETTING
from ..errors import AccessRefused
from ..http import CampaignMonitorAPI
from .catalogue import ENDPOINTS, Endpoint, read_under
from .columnar import combined
from .destinations import holds_nested_arrow
from .fan_out import read_concurrently
from .rows import PageRules, ReadRow, shape_page, shape_row
from .time_zones import LocalTime

Row = Mapping[str, Any]


class AccountReader:
    """Reads one account: every row stamped with the IDs it was read under, its times in UTC."""

    def __init__(
        self, api: CampaignMonitorAPI, local_time: LocalTime, reports_from: Optional[date],
        nested_as_text: Optional[bool] = None,
    ) -> None:
        self.api = api
        self.local_time = local_time
        self.reports_from = reports_from
        self.nested_as_text = nested_as_text

    def read_root(self, endpoint: Endpoint, only: Optional[str]) -> Iterator[List[ReadRow]]:
        """A table read under nothing (clients): the one row asked for, or every row the key can list,
        each completed by its ``details``."""
        listed = [{endpoint.hands_down[0]: only}] if only else self._listed(endpoint)
        rules = PageRules(endpoint, {}, None, self.local_time)
        rows = []
        for row in listed:
            if endpoint.details and endpoint.with_details is not None:
                row = endpoint.with_details(row, self.api.get(endpoint.details.format(**row)))
            rows.append(shape_row(row, rules))
        yield rows

    def _listed(self, endpoint: Endpoint) -> List[Row]:
        try:
            return self.api.get_array(endpoint.path, endpoint.params)
        except AccessRefused as exc:
            raise AccessRefused(
                f"Campaign Monitor refused to list {endpoint.table} with this API key ({exc.status} Code {exc.code}):"
                f" if it is a client's API key, set {CLIENT_ID_SETTING}; otherwise check {API_KEY_SETTING}",
                status=exc.status,
                code=exc.code,
                path=exc.path,
            ) from None

    def reader_of(self, endpoint: Endpoint) -> Callable[[Any], Iterator[Any]]:
        """The transformer body for ``endpoint``: read it under every parent row, several at once."""
        id_names = read_under(endpoint)

        def read_children(parent_rows: Any) -> Iterator[Any]:
            as_text = endpoint.columnar and self.nested_as_text_here()
            readers = [
                partial(self.read_endpoint, endpoint, {name: row[name] for name in id_names}, row.zone, as_text)
                for row in (parent_rows if isinstance(parent_rows, list) else [parent_rows])
                if not endpoint.campaign_report or self.reports_wanted(row)
            ]
            yield from read_concurrently(readers, self.api.max_concurrent_requests, combine=combined)

        return read_children

    def read_endpoint(self, endpoint: Endpoint, ids: Mapping[str, str], zone: Any, nested_as_text: bool) -> Iterator[Any]:
        """Stream one endpoint under one parent, page by page, each page shaped by the catalogue's rules."""
        path = endpoint.path.format(**ids)
        if endpoint.shape == "paged":
            pages: Any = self.api.get_pages(
                path, endpoint.params, row_key=endpoint.row_key, changed_since_param=endpoint.changed_since_param
            )
        elif endpoint.shape == "array":
            pages = [self.api.get_array(path, endpoint.params)]
        else:
            pages = [self.api.get_object(path, endpoint.rows_at)]
        rules = PageRules(endpoint, ids, zone, self.local_time)
        for rows in pages:
            if rows:
                yield shape_page(rows, rules, nested_as_text)

    def reports_wanted(self, campaign: Row) -> bool:
        sent = campaign.get("SentDate")
        return self.reports_from is None or not isinstance(sent, datetime) or sent.date() >= self.reports_from

    def nested_as_text_here(self) -> bool:
        """Whether nested values go as JSON text, decided once, from the destination being loaded into.

        Asked while extracting (not when the source is made), when the running pipeline is known.
        """
        if self.nested_as_text is None:
            pipeline = current_pipeline()
            self.nested_as_text = not holds_nested_arrow(getattr(pipeline, "destination", None))
        if self.nested_as_text:
            _DLT_LOGGER.addFilter(_json_text_hint_notice)
        return self.nested_as_text


_DLT_LOGGER = logging.getLogger("dlt")
_NESTED_TABLES = tuple(f"In resource: {e.table}," for e in ENDPOINTS if e.custom_fields)


def _json_text_hint_notice(record: logging.LogRecord) -> bool:
    """Drop dlt's notice that a JSON column arrived as Arrow text: that is what the hint is for."""
    message = record.getMessage()
    return not (message.startswith(_NESTED_TABLES) and "merging arrow schema with dlt schema" in message)
