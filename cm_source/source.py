"""The ``campaign_monitor`` dlt source: wires one resource per catalogue row."""

from __future__ import annotations

import logging
from datetime import date, datetime
from functools import partial
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence
from zoneinfo import ZoneInfo

import dlt
from dlt.common.pipeline import current_pipeline
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.extract.resource import DltResource

from .api import DEFAULT_MAX_CONCURRENT_REQUESTS, CampaignMonitorAPI, CampaignMonitorError, RetryPolicy
from .api_facts import API_KEY_SETTING, BASE_URL, CLIENT_ID_SETTING
from .columnar import combined, page_table
from .concurrency import read_concurrently
from .endpoints import ENDPOINTS, ENDPOINTS_BY_TABLE, Endpoint, read_under
from .time_zones import LocalTime
from .warehouse import holds_nested_arrow

Row = Dict[str, Any]
_naming = NamingConvention()


@dlt.source(name="campaign_monitor", section="campaign_monitor")
def campaign_monitor_source(
    api_key: str = dlt.secrets.value,
    client_id: Optional[str] = None,
    base_url: str = BASE_URL,
    reports_sent_after: Optional[str] = None,
    convert_to_utc: bool = True,
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
    max_attempts: int = 5,
    request_timeout: float = 60.0,
    backoff_seconds: float = 1.0,
    nested_as_text: Optional[bool] = None,
) -> Sequence[DltResource]:
    """Every table of a Campaign Monitor account, each a full-refresh read of every page.

    Without ``client_id`` every client the key can see is loaded, so an agency's administrator
    key fills the warehouse in one run. Campaign reports fan out over every sent campaign;
    ``reports_sent_after`` (``YYYY-MM-DD``) keeps them to campaigns sent on or after that day.
    Timestamps are loaded in UTC, converted from each client's time zone, unless
    ``convert_to_utc`` is off. ``max_concurrent_requests`` bounds requests in flight;
    ``max_attempts``, ``request_timeout`` and ``backoff_seconds`` bound how long a flaky or
    rate-limited API is retried. Custom fields are one JSON column per subscriber: a nested column
    where the destination takes one, JSON text in its JSON type where it cannot (Postgres);
    ``nested_as_text`` forces either, None decides from the pipeline's destination.
    """
    retry = RetryPolicy(max_attempts=max_attempts, timeout_seconds=request_timeout, backoff_seconds=backoff_seconds)
    api = CampaignMonitorAPI(api_key, base_url, retry=retry, max_concurrent_requests=max_concurrent_requests)
    account = AccountReader(api, LocalTime(convert_to_utc), sent_on_or_after(reports_sent_after), nested_as_text)
    resources: Dict[str, DltResource] = {
        "clients": dlt.resource(
            account.read_clients(client_id), name="clients", **table_hints(ENDPOINTS_BY_TABLE["clients"], convert_to_utc)
        )
    }
    for endpoint in ENDPOINTS:
        if endpoint.parent is not None:
            resources[endpoint.table] = dlt.transformer(
                account.reader_of(endpoint), data_from=resources[endpoint.parent], name=endpoint.table,
                **table_hints(endpoint, convert_to_utc),
            )
    return list(resources.values())


def sent_on_or_after(value: Any) -> Optional[date]:
    """``reports_sent_after`` as a date; a value that is not one is a setting to fix, not a load to run."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        raise CampaignMonitorError(
            f"reports_sent_after must be a date such as 2024-01-31, not {value!r}:"
            " set SOURCES__CAMPAIGN_MONITOR__REPORTS_SENT_AFTER"
        ) from None


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
        self.client_zones: Dict[str, Optional[ZoneInfo]] = {}  # filled as clients are read, before their children

    def read_clients(self, client_id: Optional[str]) -> Iterator[List[Row]]:
        """The one client asked for, or every client the key can list, each with its details."""
        if client_id:
            listed: List[Row] = [{"ClientID": client_id}]
        else:
            listed = self._listed_clients()
        yield [self.client_row(row) for row in listed]

    def _listed_clients(self) -> List[Row]:
        try:
            return self.api.get_array("clients.json")
        except CampaignMonitorError as exc:
            if exc.status != 401:
                raise
            raise CampaignMonitorError(
                f"Campaign Monitor refused to list clients with this API key ({exc.status} Code {exc.code}):"
                f" if it is a client's API key, set {CLIENT_ID_SETTING}; otherwise check {API_KEY_SETTING}",
                status=exc.status,
                code=exc.code,
                path=exc.path,
            ) from None

    def client_row(self, listed: Row) -> Row:
        """The client's details, flattened: contact, country, time zone, billing — never its API key."""
        client_id = listed["ClientID"]
        details = self.api.get(f"clients/{client_id}.json")
        details = details if isinstance(details, dict) else {}
        basic = without_api_key(details.get("BasicDetails"))
        self.client_zones[client_id] = self.local_time.zone(basic.get("TimeZone"))
        return {
            **listed,
            **basic,
            "ClientID": client_id,
            "Name": listed.get("Name") or basic.get("CompanyName"),
            "BillingDetails": without_api_key(details.get("BillingDetails")),
            "AccessDetails": without_api_key(details.get("AccessDetails")),
        }

    def reader_of(self, endpoint: Endpoint) -> Callable[[Any], Iterator[List[Row]]]:
        """The transformer body for ``endpoint``: read it under every parent row, several at once."""

        id_names = read_under(endpoint)

        def read_children(parent_rows: Any) -> Iterator[List[Row]]:
            as_text = endpoint.columnar and self.nested_as_text_here()
            readers = [
                partial(self.read_endpoint, endpoint, {name: row[name] for name in id_names}, as_text)
                for row in (parent_rows if isinstance(parent_rows, list) else [parent_rows])
                if endpoint.parent != "campaigns" or self.reports_wanted(row)
            ]
            yield from read_concurrently(readers, self.api.max_concurrent_requests, combine=combined)

        return read_children

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

    def reports_wanted(self, campaign: Row) -> bool:
        sent = campaign.get("SentDate")
        return self.reports_from is None or not isinstance(sent, datetime) or sent.date() >= self.reports_from

    def read_endpoint(self, endpoint: Endpoint, ids: Row, nested_as_text: bool = False) -> Iterator[Any]:
        """Stream one endpoint page by page."""
        path = endpoint.path.format(**ids)
        if endpoint.shape == "paged":
            pages: Any = self.api.get_pages(
                path, endpoint.params, row_key=endpoint.row_key, changed_since_param=endpoint.changed_since_param
            )
        elif endpoint.shape == "array":
            pages = [self.api.get_array(path, endpoint.params)]
        else:
            pages = [self.api.get_object(path, endpoint.rows_at)]
        zone = self.client_zones.get(ids.get("ClientID", ""))
        zones = {name: zone for name in endpoint.timestamps}
        for rows in pages:
            if rows and endpoint.columnar:
                yield page_table(
                    rows, ids, zones, self.local_time, endpoint.always_text, endpoint.floats, endpoint.primary_key,
                    nested_as_text,
                )
            elif rows:
                yield [self.shape_row(row, endpoint, ids, zone) for row in rows]

    def shape_row(self, row: Row, endpoint: Endpoint, ids: Row, zone: Optional[ZoneInfo]) -> Row:
        """Add the IDs the API leaves out, times in UTC, counts as integers."""
        shaped = {**row, **ids}
        for name in endpoint.timestamps:
            own_zone = endpoint.zone_field.get(name)
            field_zone = self.local_time.zone(row.get(own_zone)) if own_zone and row.get(own_zone) else zone
            shaped[name] = self.local_time.parse(shaped.get(name), field_zone)
        for name in endpoint.integers:
            shaped[name] = as_integer(shaped.get(name))
        return shaped


_DLT_LOGGER = logging.getLogger("dlt")
_NESTED_TABLES = tuple(f"In resource: {e.table}," for e in ENDPOINTS if e.nested)


def _json_text_hint_notice(record: logging.LogRecord) -> bool:
    """Drop dlt's notice that a JSON column arrived as Arrow text: that is what the hint is for."""
    message = record.getMessage()
    return not (message.startswith(_NESTED_TABLES) and "merging arrow schema with dlt schema" in message)


def without_api_key(details: Any) -> Row:
    """A details block with any API key left out: client details carry the client's own key."""
    return {key: value for key, value in details.items() if key != "ApiKey"} if isinstance(details, dict) else {}


def as_integer(value: Any) -> Any:
    """A count sent as ``3`` or as ``"3"`` is the integer 3; anything else is kept as sent."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return value
    return value


def table_hints(endpoint: Endpoint, to_utc: bool) -> Dict[str, Any]:
    """Replace disposition, primary key and typed columns for one table.

    ID columns are non-null text, so a missing parent ID fails the load instead of loading an
    orphan. Timestamps carry a time zone only when they are converted to UTC.
    """
    id_columns = (*endpoint.primary_key, *(_naming.normalize_identifier(key) for key in read_under(endpoint)))
    columns: Dict[str, Dict[str, Any]] = {
        name: {"data_type": "text", "nullable": False} for name in dict.fromkeys(id_columns)
    }
    for name in endpoint.timestamps:
        columns[_naming.normalize_identifier(name)] = {"data_type": "timestamp", "timezone": to_utc}
    for name in endpoint.integers:
        columns[_naming.normalize_identifier(name)] = {"data_type": "bigint"}
    for name in endpoint.always_text:
        columns[_naming.normalize_identifier(name)] = {"data_type": "text", "nullable": True}
    for name in endpoint.nested:
        columns[_naming.normalize_identifier(name)] = {"data_type": "json"}
    hints: Dict[str, Any] = {"write_disposition": "replace", "columns": columns}
    if endpoint.primary_key:
        hints["primary_key"] = list(endpoint.primary_key)
    return hints
