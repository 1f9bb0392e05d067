"""The ``campaign_monitor`` dlt source: wires one resource per catalogue row."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.extract.resource import DltResource

from .api import (
    API_KEY_SETTING,
    CLIENT_ID_SETTING,
    DEFAULT_BASE_URL,
    CampaignMonitorAPI,
    CampaignMonitorError,
    RetryPolicy,
)
from .endpoints import ENDPOINTS, ENDPOINTS_BY_TABLE, Endpoint

Row = Dict[str, Any]
PARENT_KEYS = {"client": ("ClientID",), "list": ("ClientID", "ListID")}
_naming = NamingConvention()


@dlt.source(name="campaign_monitor", section="campaign_monitor")
def campaign_monitor_source(
    api_key: str = dlt.secrets.value,
    client_id: Optional[str] = None,
    base_url: str = DEFAULT_BASE_URL,
    max_attempts: int = 5,
    request_timeout: float = 60.0,
    backoff_seconds: float = 1.0,
) -> Sequence[DltResource]:
    """Every table of a Campaign Monitor account, each a full-refresh read of every page.

    Without ``client_id`` every client the key can see is loaded, so an agency's
    administrator key fills the warehouse in one run. ``max_attempts``, ``request_timeout`` and
    ``backoff_seconds`` bound how long a flaky or rate-limited API is retried.
    """
    retry = RetryPolicy(max_attempts=max_attempts, timeout_seconds=request_timeout, backoff_seconds=backoff_seconds)
    api = CampaignMonitorAPI(api_key, base_url, retry=retry)
    clients = dlt.resource(
        read_clients(api, client_id), name="clients", **table_hints(ENDPOINTS_BY_TABLE["clients"])
    )
    resources: Dict[str, DltResource] = {"clients": clients}
    for endpoint in ENDPOINTS:
        if endpoint.parent is not None:
            parent = clients if endpoint.parent == "client" else resources["lists"]
            resources[endpoint.table] = child_resource(api, endpoint, parent)
    return list(resources.values())


def read_clients(api: CampaignMonitorAPI, client_id: Optional[str]) -> Iterator[List[Row]]:
    """The one client asked for, or every client the key can list."""
    if client_id:
        details = api.get(f"clients/{client_id}.json")
        basic = details.get("BasicDetails", {}) if isinstance(details, dict) else {}
        # Only the ID and name: client details also carry the client's own API key.
        yield [{"ClientID": client_id, "Name": basic.get("CompanyName")}]
        return
    try:
        clients = api.get_array("clients.json")
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
    yield [shape_row(row, ENDPOINTS_BY_TABLE["clients"], {}) for row in clients]


def child_resource(api: CampaignMonitorAPI, endpoint: Endpoint, parent: DltResource) -> DltResource:
    """A transformer that reads ``endpoint`` once for every row its parent yields."""
    parent_keys = PARENT_KEYS[endpoint.parent]  # type: ignore[index]

    def read(parent_rows: Any) -> Iterator[List[Row]]:
        for parent_row in parent_rows if isinstance(parent_rows, list) else [parent_rows]:
            parent_ids = {key: parent_row[key] for key in parent_keys}
            yield from read_endpoint(api, endpoint, parent_ids)

    return dlt.transformer(read, data_from=parent, name=endpoint.table, **table_hints(endpoint))


def read_endpoint(api: CampaignMonitorAPI, endpoint: Endpoint, parent_ids: Row) -> Iterator[List[Row]]:
    """Stream one endpoint page by page, each row stamped with the IDs it was read under."""
    path = endpoint.path.format(client_id=parent_ids.get("ClientID"), list_id=parent_ids.get("ListID"))
    if endpoint.paged:
        pages: Iterable[List[Row]] = api.get_pages(
            path, endpoint.params, row_key=endpoint.row_key, changed_since_param=endpoint.changed_since_param
        )
    else:
        pages = [api.get_array(path, endpoint.params)]
    for rows in pages:
        yield [shape_row(row, endpoint, parent_ids) for row in rows]


def shape_row(row: Row, endpoint: Endpoint, parent_ids: Row) -> Row:
    """Add the parent IDs the API leaves out and turn local-time strings into datetimes."""
    shaped = {**row, **parent_ids}
    for name in endpoint.timestamps:
        shaped[name] = parse_local_time(shaped.get(name))
    return shaped


def parse_local_time(value: Any) -> Any:
    """``"YYYY-MM-DD HH:MM:SS"`` (no offset: the client's local time) as a naive datetime.

    A value in any other shape is kept as sent: dlt stores it in a variant column rather than
    the load failing or the value being dropped.
    """
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value


def table_hints(endpoint: Endpoint) -> Dict[str, Any]:
    """Replace disposition, primary key and typed columns for one table.

    Timestamps are declared without a time zone because the API sends local times.
    """
    parent_ids = PARENT_KEYS.get(endpoint.parent, ())  # type: ignore[arg-type]
    id_columns = (*endpoint.primary_key, *(_naming.normalize_identifier(key) for key in parent_ids))
    columns: Dict[str, Dict[str, Any]] = {
        name: {"data_type": "text", "nullable": False} for name in dict.fromkeys(id_columns)
    }
    for name in endpoint.timestamps:
        columns[_naming.normalize_identifier(name)] = {"data_type": "timestamp", "timezone": False}
    return {
        "write_disposition": "replace",
        "primary_key": list(endpoint.primary_key),
        "columns": columns,
    }
