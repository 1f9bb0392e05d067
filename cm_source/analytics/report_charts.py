"""The report's charts, as Plotly figures built from plain Python lists (no numpy, no pandas).

Plotly because its figures embed in one offline HTML file (its JavaScript inlined once, the data as
JSON), are interactive (hover for the figures behind a point, zoom into a year, hide a list) and take
far less code than hand-written SVG for axes, dates, legends and hover. Every figure gets the same plain
template and colours, so the page reads as one report.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .report_data import Campaign, ClientTotals, EmailClientShare, ListDay, ListInfo

TEMPLATE = "plotly_white"
OPEN, CLICK, CLICK_TO_OPEN = "#2563eb", "#ea580c", "#16a34a"
BEST, WORST = "#16a34a", "#dc2626"
# One colour per list, in the order of their size; more lists than colours reuse them.
LIST_COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563")
RATE_AXIS = {"tickformat": ".0%", "rangemode": "tozero"}


def styled(figure: go.Figure, height: int) -> go.Figure:
    """The layout every chart shares: the template, a legend above the plot, room for long labels."""
    figure.update_layout(
        template=TEMPLATE,
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hoverlabel={"align": "left"},
    )
    return figure


def performance_figure(campaigns: Sequence[Campaign]) -> go.Figure:
    """Open, click and click-to-open rate of each send over time; hovering a point shows the campaign
    and the people behind the rate (recipients, delivered, unique opens and clicks)."""
    sent = [campaign.sent_at for campaign in campaigns]
    behind = [[c.name, c.recipients, c.delivered, c.unique_opens, c.unique_clicks] for c in campaigns]
    hover = (
        "<b>%{customdata[0]}</b><br>%{x}<br>%{fullData.name}: %{y:.1%}<br>"
        "recipients %{customdata[1]:,}, delivered %{customdata[2]:,}<br>"
        "unique opens %{customdata[3]:,}, unique clicks %{customdata[4]:,}<extra></extra>"
    )
    figure = go.Figure()
    for name, colour, rates in (
        ("open rate", OPEN, [c.open_rate for c in campaigns]),
        ("click rate", CLICK, [c.click_rate for c in campaigns]),
        ("click-to-open rate", CLICK_TO_OPEN, [c.click_to_open_rate for c in campaigns]),
    ):
        figure.add_trace(
            go.Scatter(
                x=sent,
                y=rates,
                name=name,
                mode="lines+markers",
                line={"color": colour, "width": 1.5},
                marker={"size": 7},
                customdata=behind,
                hovertemplate=hover,
            )
        )
    figure.update_yaxes(title_text="share of delivered (click-to-open: of unique opens)", **RATE_AXIS)
    figure.update_xaxes(title_text="sent (UTC)")
    return styled(figure, 420)


def best_and_worst_figure(best: Sequence[Campaign], worst: Sequence[Campaign]) -> go.Figure:
    """The campaigns with the highest and the lowest open rate, as bars, the best at the top."""
    figure = go.Figure()
    for name, colour, campaigns in (("best", BEST, best), ("worst", WORST, worst)):
        figure.add_trace(
            go.Bar(
                x=[c.open_rate for c in campaigns],
                y=[f"{c.name} · {c.sent_at[:10]}" for c in campaigns],
                name=f"{name} open rate",
                orientation="h",
                marker={"color": colour},
                text=[f"{c.open_rate or 0:.1%}" for c in campaigns],
                textposition="auto",
                customdata=[[c.recipients, c.delivered, c.unique_opens] for c in campaigns],
                hovertemplate="<b>%{y}</b><br>open rate %{x:.1%}<br>recipients %{customdata[0]:,},"
                " delivered %{customdata[1]:,}, unique opens %{customdata[2]:,}<extra></extra>",
            )
        )
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title_text="open rate (unique opens ÷ delivered)", **RATE_AXIS)
    return styled(figure, 140 + 30 * (len(best) + len(worst)))


def list_growth_figure(lists: Sequence[ListInfo], days: Sequence[ListDay], labels: dict[str, str]) -> go.Figure:
    """Each list's active subscribers day by day (a step: days without a change have no row), and below
    its joins (up) and leaves (down) on the days they happened. A list's three traces share a colour
    and a legend entry, so a click on the legend hides the list."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06)
    for index, listed in enumerate(lists):
        own = [day for day in days if day.list_id == listed.list_id]
        colour, label = LIST_COLOURS[index % len(LIST_COLOURS)], labels[listed.list_id]
        group = {"legendgroup": listed.list_id, "marker": {"color": colour, "line": {"width": 0}}}
        figure.add_trace(
            go.Scatter(
                x=[d.day for d in own],
                y=[d.active_subscribers for d in own],
                name=label,
                mode="lines",
                line={"shape": "hv", "color": colour},
                customdata=[[d.joins, d.leaves] for d in own],
                hovertemplate=f"<b>{label}</b><br>%{{x}}<br>active %{{y:,}}<br>joins %{{customdata[0]:,}},"
                " leaves %{customdata[1]:,}<extra></extra>",
                legendgroup=listed.list_id,
            ),
            row=1,
            col=1,
        )
        for kind, sign in (("joins", 1), ("leaves", -1)):
            figure.add_trace(
                go.Bar(
                    x=[d.day for d in own],
                    y=[sign * getattr(d, kind) for d in own],
                    name=f"{label}: {kind}",
                    showlegend=False,
                    opacity=1.0 if sign > 0 else 0.55,
                    hovertemplate=f"<b>{label}</b><br>%{{x}}<br>{kind} %{{y:,}}<extra></extra>",
                    **group,
                ),
                row=2,
                col=1,
            )
    figure.update_yaxes(title_text="active subscribers", rangemode="tozero", row=1, col=1)
    figure.update_yaxes(title_text="joins ↑ leaves ↓", row=2, col=1)
    figure.update_xaxes(title_text="day (the client's time zone)", row=2, col=1)
    # a legend entry per list, beside the plot: above it, many lists would run into Plotly's tool bar
    return styled(figure, 560).update_layout(
        barmode="relative", bargap=0, legend={"orientation": "v", "x": 1.02, "y": 1, "yanchor": "top"}
    )


def email_clients_figure(shares: Sequence[EmailClientShare]) -> go.Figure:
    """The email clients people opened with, the most used at the top, each with its share of openers."""
    total = sum(share.openers for share in shares) or 1
    figure = go.Figure(
        go.Bar(
            x=[share.openers for share in shares],
            y=[share.email_client for share in shares],
            orientation="h",
            marker={"color": OPEN},
            text=[f"{share.openers / total:.1%}" for share in shares],
            textposition="auto",
            customdata=[[share.campaigns] for share in shares],
            hovertemplate="<b>%{y}</b><br>%{x:,} openers (%{text}) over %{customdata[0]:,} campaigns<extra></extra>",
            name="openers",
        )
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title_text="people who opened with it, summed over campaigns")
    return styled(figure, 120 + 32 * len(shares))


def clients_figure(clients: Sequence[ClientTotals], names: Sequence[str]) -> go.Figure:
    """Each client's open, click and click-to-open rate over all its campaigns, side by side: for an
    agency, which client's audience engages."""
    figure = go.Figure()
    for name, colour, rates in (
        ("open rate", OPEN, [c.open_rate for c in clients]),
        ("click rate", CLICK, [c.click_rate for c in clients]),
        ("click-to-open rate", CLICK_TO_OPEN, [c.click_to_open_rate for c in clients]),
    ):
        figure.add_trace(
            go.Bar(
                x=list(names),
                y=rates,
                name=name,
                marker={"color": colour},
                customdata=[[c.campaigns, c.delivered, c.active_subscribers] for c in clients],
                hovertemplate="<b>%{x}</b><br>%{fullData.name}: %{y:.1%}<br>%{customdata[0]:,} campaigns,"
                " %{customdata[1]:,} delivered<br>%{customdata[2]:,} active subscribers<extra></extra>",
            )
        )
    figure.update_layout(barmode="group")
    figure.update_yaxes(title_text="over all the client's campaigns", **RATE_AXIS)
    return styled(figure, 400)
