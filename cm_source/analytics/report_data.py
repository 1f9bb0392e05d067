"""The figures the report shows, read from the analytics models (and two loaded tables no model holds)
through dlt's SQL client, so that the same SQL runs on DuckDB, Postgres and any warehouse dlt reaches.

Every query names the columns it reads and groups by the keys it shows (campaign, list and day, client,
email client), never by ``source_relation``: Campaign Monitor's IDs are unique across accounts, so models
built over several datasets read as one. Values come back as plain ``int``, ``float``, ``str``
and ``None``: Postgres answers a ``sum`` as ``Decimal`` and a time as an aware ``datetime``, DuckDB as
``int`` and a naive one, and the charts and tables must not care which.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
from dlt.destinations.sql_client import SqlClientBase

from ..errors import CampaignMonitorError
from ..pipeline_folders import one_writer_on_duckdb
from ..read.destinations import destination_type
from ..read.load_place import database_of, describe, place_of
from . import analytics_dataset

# The models the report cannot do without; the loaded tables it reads beside them are optional.
REQUIRED_MODELS = ("cm__campaigns", "cm__lists", "cm__list_daily")
Row = dict[str, Any]


@dataclass(frozen=True)
class Campaign:
    """One sent campaign as ``cm__campaigns`` holds it; ``sent_at`` in UTC, as ``YYYY-MM-DD HH:MM``."""

    campaign_id: str
    client_id: str
    name: str
    sent_at: str
    recipients: int
    delivered: int
    unique_opens: int
    unique_clicks: int
    open_rate: float | None
    click_rate: float | None
    click_to_open_rate: float | None


@dataclass(frozen=True)
class ListInfo:
    """One list (``cm__lists``): its name, its client and its active subscribers now."""

    list_id: str
    client_id: str
    name: str
    active_subscribers: int


@dataclass(frozen=True)
class ListDay:
    """One list × day with a change (``cm__list_daily``); leaves are unsubscribes, bounces and deletions."""

    list_id: str
    day: str
    joins: int
    leaves: int
    active_subscribers: int


@dataclass(frozen=True)
class EmailClientShare:
    """One email client: the people who opened with it, summed over every campaign that reports it."""

    email_client: str
    openers: int
    campaigns: int


@dataclass(frozen=True)
class ClientTotals:
    """One client of an agency: its campaigns' counts summed (``cm__campaigns``), its lists (``cm__lists``)."""

    client_id: str
    campaigns: int
    recipients: int
    delivered: int
    unique_opens: int
    unique_clicks: int
    lists: int
    active_subscribers: int

    @property
    def open_rate(self) -> float | None:
        """Unique opens over delivered, across every campaign, as ``cm__campaigns`` works out one's."""
        return ratio(self.unique_opens, self.delivered)

    @property
    def click_rate(self) -> float | None:
        """Unique clicks over delivered, across every campaign."""
        return ratio(self.unique_clicks, self.delivered)

    @property
    def click_to_open_rate(self) -> float | None:
        """Unique clicks over unique opens, across every campaign: how well opened emails made people click."""
        return ratio(self.unique_clicks, self.unique_opens)


@dataclass(frozen=True)
class ReportData:
    """Everything the report draws, and where it was read from."""

    place: str
    campaigns: list[Campaign]
    lists: list[ListInfo]
    list_days: list[ListDay]
    clients: list[ClientTotals]
    client_names: dict[str, str]
    # None when the load holds no email client usage (a load of some tables only): the section says so
    email_clients: list[EmailClientShare] | None


def ratio(numerator: int, denominator: int) -> float | None:
    """A rate as the models work it out (``cm_rate``): none where the denominator is 0."""
    return numerator / denominator if denominator else None


def no_models(pipeline: dlt.Pipeline) -> CampaignMonitorError:
    """The one line for a report asked of a place whose models were never built: what to run."""
    place = describe({**(place_of(pipeline) or {}), "dataset": analytics_dataset(pipeline.dataset_name)})
    return CampaignMonitorError(
        f"no analytics models in {place}: build them first with cm-source load --models"
        " (cm-source load --demo --models for the demo), or build_models(pipeline) in Python"
    )


def read_report_data(pipeline: dlt.Pipeline) -> ReportData:
    """Read every figure the report shows, or raise the one line that says to build the models first.

    A DuckDB file that does not exist is refused before it is opened: opening it would create it.
    On DuckDB the read waits for a run writing the file, as a load or a build does, rather than fail
    on its lock."""
    if destination_type(pipeline.destination) == "duckdb" and not Path(database_of(pipeline)).exists():
        raise no_models(pipeline)
    with one_writer_on_duckdb(pipeline), pipeline.sql_client() as client:
        with client.with_alternative_dataset_name(analytics_dataset(pipeline.dataset_name)) as models:
            if not models.has_dataset() or not set(REQUIRED_MODELS) <= set(table_names(models)):
                raise no_models(pipeline)
            campaigns, lists = read_campaigns(models), read_lists(models)
            list_days, clients = read_list_days(models), read_clients(models)
        loaded = set(table_names(client)) if client.has_dataset() else set()
        names = read_client_names(client) if "clients" in loaded else {}
        usage = read_email_clients(client) if "campaign_email_client_usage" in loaded else None
    return ReportData(describe(place_of(pipeline) or {}), campaigns, lists, list_days, clients, names, usage)


def table_names(client: SqlClientBase[Any]) -> list[str]:
    """The tables of the client's current dataset, asked of the destination (the pipeline's own schema
    knows nothing of the models dbt built)."""
    sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
    return [str(row[0]) for row in client.execute_sql(sql, client.dataset_name) or []]


def rows(client: SqlClientBase[Any], sql: str, table: str) -> Iterator[Row]:
    """The rows of ``sql``, its ``{table}`` the client's dataset's table, as plain values by column name."""
    with client.execute_query(sql.format(table=client.make_qualified_table_name(table))) as cursor:
        columns = [str(column[0]).lower() for column in cursor.description]
        for values in cursor.fetchall():
            yield {column: plain(value) for column, value in zip(columns, values, strict=True)}


def plain(value: Any) -> Any:
    """A value as the charts take it: ``Decimal`` as ``int`` or ``float``, times as UTC text, days as
    ``YYYY-MM-DD``."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        utc = value.astimezone(timezone.utc) if value.tzinfo else value
        return utc.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def read_campaigns(models: SqlClientBase[Any]) -> list[Campaign]:
    """Every sent campaign with its counts and rates, oldest first."""
    sql = (
        "SELECT campaign_id, client_id, name, sent_at, recipients, delivered, unique_opens, unique_clicks,"
        " open_rate, click_rate, click_to_open_rate FROM {table} ORDER BY sent_at, campaign_id"
    )
    return [
        Campaign(**{**row, "name": row["name"] or row["campaign_id"]}) for row in rows(models, sql, "cm__campaigns")
    ]


def read_lists(models: SqlClientBase[Any]) -> list[ListInfo]:
    """Every list, the largest first. Grouped by list, so models over several datasets give one row
    per list as well."""
    sql = (
        "SELECT list_id, min(client_id) AS client_id, min(name) AS name, sum(active_subscribers) AS active_subscribers"
        " FROM {table} GROUP BY list_id ORDER BY sum(active_subscribers) DESC, min(name), list_id"
    )
    return [ListInfo(**{**row, "name": row["name"] or row["list_id"]}) for row in rows(models, sql, "cm__lists")]


def read_list_days(models: SqlClientBase[Any]) -> list[ListDay]:
    """Every list's days with a change: joins, leaves and the running total of active subscribers."""
    sql = (
        "SELECT list_id, day, sum(joins) AS joins, sum(unsubscribes + bounces + deletions) AS leaves,"
        " sum(active_subscribers) AS active_subscribers FROM {table} GROUP BY list_id, day ORDER BY list_id, day"
    )
    return [ListDay(**row) for row in rows(models, sql, "cm__list_daily")]


def read_clients(models: SqlClientBase[Any]) -> list[ClientTotals]:
    """Each client's campaigns summed and its lists counted: the agency's view, one row per client."""
    sent = (
        "SELECT client_id, count(*) AS campaigns, sum(recipients) AS recipients, sum(delivered) AS delivered,"
        " sum(unique_opens) AS unique_opens, sum(unique_clicks) AS unique_clicks FROM {table} GROUP BY client_id"
    )
    audiences = (
        "SELECT client_id, count(*) AS lists, sum(active_subscribers) AS active_subscribers"
        " FROM {table} GROUP BY client_id"
    )
    campaigns = {row["client_id"]: row for row in rows(models, sent, "cm__campaigns")}
    lists = {row["client_id"]: row for row in rows(models, audiences, "cm__lists")}
    nothing_sent = {"campaigns": 0, "recipients": 0, "delivered": 0, "unique_opens": 0, "unique_clicks": 0}
    no_lists = {"lists": 0, "active_subscribers": 0}
    return [
        ClientTotals(
            client_id=client_id,
            **{name: campaigns.get(client_id, nothing_sent)[name] or 0 for name in nothing_sent},
            **{name: lists.get(client_id, no_lists)[name] or 0 for name in no_lists},
        )
        for client_id in sorted({*campaigns, *lists}, key=str)
    ]


def read_client_names(loaded: SqlClientBase[Any]) -> dict[str, str]:
    """Each client's name, from the loaded ``clients`` table (no model holds it)."""
    sql = "SELECT client_id, min(name) AS name FROM {table} GROUP BY client_id"
    return {row["client_id"]: row["name"] for row in rows(loaded, sql, "clients") if row["name"]}


def read_email_clients(loaded: SqlClientBase[Any]) -> list[EmailClientShare]:
    """Opens per email client, from the loaded ``campaign_email_client_usage`` (no model holds it): the
    people who opened with each, summed over campaigns, the most used first."""
    sql = (
        "SELECT client AS email_client, sum(subscribers) AS openers, count(DISTINCT campaign_id) AS campaigns"
        " FROM {table} GROUP BY client ORDER BY sum(subscribers) DESC, client"
    )
    return [
        EmailClientShare(**{**row, "openers": row["openers"] or 0})
        for row in rows(loaded, sql, "campaign_email_client_usage")
    ]
