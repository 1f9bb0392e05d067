"""What each part of the report shows: which campaigns, lists and clients, in which order, under which
labels, as a chart and the table of its figures. The figures are the models' own; the only arithmetic
here is a share of a total and the rates of a client's campaigns taken together."""

from __future__ import annotations

from collections.abc import Sequence

from .report_charts import (
    best_and_worst_figure,
    clients_figure,
    email_clients_figure,
    list_growth_figure,
    performance_figure,
)
from .report_data import Campaign, ReportData, ratio
from .report_page import Column, Section, Table

# Campaigns sent to fewer people than this are left out of the campaign charts: their rates are noise.
MIN_RECIPIENTS = 50
BEST_AND_WORST = 5
SENT, NAME = Column("sent_at", "sent (UTC)"), Column("name", "campaign")
RECIPIENTS, DELIVERED = Column("recipients", "recipients", "count"), Column("delivered", "delivered", "count")
OPENS, CLICKS = Column("unique_opens", "unique opens", "count"), Column("unique_clicks", "unique clicks", "count")
OPEN_RATE, CLICK_RATE = Column("open_rate", "open rate", "rate"), Column("click_rate", "click rate", "rate")
CLICK_TO_OPEN = Column("click_to_open_rate", "click-to-open", "rate")


def sections(data: ReportData, min_recipients: int = MIN_RECIPIENTS) -> list[Section]:
    """Every part of the report, in the order a marketer reads it: sends, the best and worst, audiences,
    email clients, then each client."""
    counted = [campaign for campaign in data.campaigns if campaign.recipients >= min_recipients]
    return [
        performance_section(counted, len(data.campaigns) - len(counted), min_recipients),
        best_and_worst_section([c for c in counted if c.open_rate is not None], min_recipients),
        list_growth_section(data),
        email_clients_section(data),
        clients_section(data),
    ]


def glance(data: ReportData) -> list[tuple[str, str]]:
    """The headline figures above the charts."""
    delivered = sum(campaign.delivered for campaign in data.campaigns)
    opened = ratio(sum(campaign.unique_opens for campaign in data.campaigns), delivered)
    return [
        ("campaigns sent", f"{len(data.campaigns):,}"),
        ("emails delivered", f"{delivered:,}"),
        ("opened (unique opens ÷ delivered)", "–" if opened is None else f"{opened:.1%}"),
        ("lists", f"{len(data.lists):,}"),
        ("active subscribers", f"{sum(listed.active_subscribers for listed in data.lists):,}"),
        ("clients", f"{len(data.clients):,}"),
    ]


def performance_section(campaigns: Sequence[Campaign], left_out: int, min_recipients: int) -> Section:
    """Each send's rates over time (``cm__campaigns``), with the people behind each rate."""
    intro = (
        "Each send's open rate (unique opens ÷ delivered), click rate (unique clicks ÷ delivered) and"
        " click-to-open rate (unique clicks ÷ unique opens), from cm__campaigns; hover a point for the"
        f" people behind it. {left_out:,} campaigns sent to fewer than {min_recipients:,} people are left out:"
        " a rate over a handful of people says little."
    )
    columns = (SENT, NAME, RECIPIENTS, DELIVERED, OPENS, CLICKS, OPEN_RATE, CLICK_RATE, CLICK_TO_OPEN)
    rows = [[getattr(campaign, column.key) for column in columns] for campaign in reversed(campaigns)]
    table = Table("Every send charted, the latest first", columns, rows, [c.campaign_id for c in reversed(campaigns)])
    return Section(
        "performance",
        "Campaign performance over time",
        intro,
        table,
        performance_figure(campaigns) if campaigns else None,
        f"No campaign was sent to {min_recipients:,} people or more.",
    )


def best_and_worst(campaigns: Sequence[Campaign], count: int = BEST_AND_WORST) -> tuple[list[Campaign], list[Campaign]]:
    """The ``count`` campaigns with the highest open rate and the ``count`` with the lowest, best first
    and worst last; with fewer than twice ``count`` the better half are the best, never a campaign in both."""
    ranked = sorted(campaigns, key=lambda c: (-(c.open_rate or 0.0), -c.delivered, c.sent_at, c.campaign_id))
    best = ranked[: min(count, (len(ranked) + 1) // 2)]
    worst = ranked[max(len(best), len(ranked) - count) :]
    return best, worst


def best_and_worst_section(campaigns: Sequence[Campaign], min_recipients: int) -> Section:
    """The best and the worst campaigns by open rate, among those sent to enough people to count."""
    best, worst = best_and_worst(campaigns)
    intro = (
        f"The {len(best)} campaigns with the highest open rate and the {len(worst)} with the lowest, among the"
        f" {len(campaigns):,} sent to at least {min_recipients:,} people (cm__campaigns)."
    )
    columns = (Column("rank", "group"), SENT, NAME, RECIPIENTS, DELIVERED, OPENS, OPEN_RATE, CLICK_RATE)
    ranked = [("best", campaign) for campaign in best] + [("worst", campaign) for campaign in worst]
    rows = [[group, *(getattr(campaign, column.key) for column in columns[1:])] for group, campaign in ranked]
    table = Table("Best, then worst, by open rate", columns, rows, [campaign.campaign_id for _, campaign in ranked])
    return Section(
        "best-and-worst",
        "The best and the worst campaigns",
        intro,
        table,
        best_and_worst_figure(best, worst) if campaigns else None,
        f"No campaign was sent to {min_recipients:,} people or more.",
    )


def list_labels(data: ReportData) -> dict[str, str]:
    """Each list's name, with its client's when the account has several clients (two may name a list alike)."""
    several = len({listed.client_id for listed in data.lists}) > 1
    labels = {}
    for listed in data.lists:
        client = data.client_names.get(listed.client_id, listed.client_id)
        labels[listed.list_id] = f"{listed.name} · {client}" if several else listed.name
    repeated = {label for label in labels.values() if list(labels.values()).count(label) > 1}
    return {key: f"{label} ({key[:6]})" if label in repeated else label for key, label in labels.items()}


def list_growth_section(data: ReportData) -> Section:
    """Each list's joins, leaves and running total of active subscribers, day by day (``cm__list_daily``)."""
    labels = list_labels(data)
    changed = {day.list_id for day in data.list_days}
    lists = [listed for listed in data.lists if listed.list_id in changed]
    intro = (
        "Each list's active subscribers after every day with a change, and that day's joins and leaves"
        " (unsubscribes, bounces and deletions), from cm__list_daily, the day in the client's time zone."
        " Click a list in the legend to hide it."
    )
    columns = (
        Column("day", "day"),
        Column("list", "list"),
        Column("joins", "joins", "count"),
        Column("leaves", "leaves", "count"),
        Column("active_subscribers", "active subscribers", "count"),
    )
    days = [
        day
        for listed in lists
        for day in sorted((d for d in data.list_days if d.list_id == listed.list_id), key=lambda d: d.day, reverse=True)
    ]
    rows = [[d.day, labels[d.list_id], d.joins, d.leaves, d.active_subscribers] for d in days]
    table = Table(
        "Each list's days with a change, the latest first", columns, rows, [f"{d.list_id}|{d.day}" for d in days]
    )
    return Section(
        "list-growth",
        "List growth",
        intro,
        table,
        list_growth_figure(lists, data.list_days, labels) if lists else None,
        "No list has had anyone join or leave.",
    )


def email_clients_section(data: ReportData) -> Section:
    """Where opens come from: the email clients people opened with (the loaded campaign_email_client_usage:
    no model holds it)."""
    shares = data.email_clients or []
    total = sum(share.openers for share in shares)
    intro = (
        "The email clients people opened campaigns with, as Campaign Monitor reports them per campaign"
        " (the loaded table campaign_email_client_usage), summed over every campaign."
    )
    columns = (
        Column("email_client", "email client"),
        Column("openers", "openers", "count"),
        Column("share", "share of openers", "rate"),
        Column("campaigns", "campaigns", "count"),
    )
    rows = [[s.email_client, s.openers, ratio(s.openers, total), s.campaigns] for s in shares]
    empty = (
        "The load holds no email client usage (the table campaign_email_client_usage): load every table to see it."
        if data.email_clients is None
        else "No campaign reports an email client yet."
    )
    return Section(
        "email-clients",
        "Where opens come from",
        intro,
        Table("Openers per email client", columns, rows, [s.email_client for s in shares]),
        email_clients_figure(shares) if shares else None,
        empty,
    )


def clients_section(data: ReportData) -> Section:
    """Each client's campaigns and audience taken together: an agency's view of its clients."""
    names = [data.client_names.get(client.client_id, client.client_id) for client in data.clients]
    intro = (
        "For an agency, each client's campaigns taken together (cm__campaigns: unique opens and clicks over"
        " everything delivered) beside its lists and active subscribers (cm__lists)."
    )
    columns = (
        Column("client", "client"),
        Column("campaigns", "campaigns", "count"),
        RECIPIENTS,
        DELIVERED,
        OPENS,
        CLICKS,
        OPEN_RATE,
        CLICK_RATE,
        CLICK_TO_OPEN,
        Column("lists", "lists", "count"),
        Column("active_subscribers", "active subscribers", "count"),
    )
    rows = [
        [name, *(getattr(client, column.key) for column in columns[1:])]
        for name, client in zip(names, data.clients, strict=True)
    ]
    return Section(
        "clients",
        "Per client",
        intro,
        Table("Each client's campaigns and lists", columns, rows, [client.client_id for client in data.clients]),
        clients_figure(data.clients, names) if data.clients else None,
        "No client has sent a campaign or holds a list.",
    )
