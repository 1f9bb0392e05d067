"""The report's parts that need no warehouse: which campaigns are the best and the worst, how a value
from DuckDB or Postgres becomes plain, and the page itself (escaped, exact in ``data-value``, plotly.js
inlined once, nothing fetched, a section with nothing to draw says so instead of drawing an empty chart)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

pytest.importorskip("plotly", reason="the report extra: pip install -e '.[report]'")

from helpers.report_html import parse_report  # noqa: E402

from cm_source.analytics.report_charts import performance_figure  # noqa: E402
from cm_source.analytics.report_data import Campaign, plain  # noqa: E402
from cm_source.analytics.report_page import Column, Page, Section, Table, page_html  # noqa: E402
from cm_source.analytics.report_sections import best_and_worst  # noqa: E402


def campaign(number: int, open_rate: float | None, recipients: int = 100) -> Campaign:
    return Campaign(
        campaign_id=f"c{number:02d}",
        client_id="client",
        name=f"Campaign #{number} <b>& co</b>",
        sent_at=f"2024-07-{number + 1:02d} 10:00",
        recipients=recipients,
        delivered=recipients - 2,
        unique_opens=round((open_rate or 0) * (recipients - 2)),
        unique_clicks=3,
        open_rate=open_rate,
        click_rate=3 / (recipients - 2),
        click_to_open_rate=None if not open_rate else 0.1,
    )


def test_the_best_and_the_worst_are_ranked_by_open_rate_and_never_overlap() -> None:
    campaigns = [
        campaign(number, rate / 100) for number, rate in enumerate([30, 45, 12, 50, 28, 33, 41, 19, 25, 38, 9, 47])
    ]
    best, worst = best_and_worst(campaigns)
    assert [c.open_rate for c in best] == [0.50, 0.47, 0.45, 0.41, 0.38]
    assert [c.open_rate for c in worst] == [0.28, 0.25, 0.19, 0.12, 0.09]  # the worst last
    few_best, few_worst = best_and_worst(campaigns[:3])  # 30, 45, 12: the better half are the best
    assert [c.open_rate for c in few_best] == [0.45, 0.30] and [c.open_rate for c in few_worst] == [0.12]
    assert best_and_worst(campaigns[:1]) == ([campaigns[0]], [])


def test_values_from_either_warehouse_become_plain() -> None:
    sydney = timezone(timedelta(hours=10))
    assert plain(Decimal("1495")) == 1495 and isinstance(plain(Decimal("1495")), int)
    assert plain(Decimal("0.25")) == 0.25
    assert plain(datetime(2024, 7, 9, 1, 28, tzinfo=sydney)) == "2024-07-08 15:28"  # Postgres: aware, to UTC
    assert plain(datetime(2024, 7, 8, 15, 28)) == "2024-07-08 15:28"  # DuckDB: naive, already UTC
    assert plain(date(2024, 7, 8)) == "2024-07-08" and plain("text") == "text" and plain(None) is None


def test_the_page_is_escaped_exact_and_fetches_nothing() -> None:
    campaigns = [campaign(1, 1 / 3), campaign(2, None)]
    columns = (
        Column("name", "campaign"),
        Column("recipients", "recipients", "count"),
        Column("open_rate", "open", "rate"),
    )
    table = Table(
        "figures", columns, [[c.name, 1234567, c.open_rate] for c in campaigns], [c.campaign_id for c in campaigns]
    )
    page = Page(
        title="Report <x>",
        where="here & now",
        glance=[("campaigns", "2")],
        sections=[
            Section("drawn", "Drawn", "intro", table, performance_figure(campaigns)),
            Section("empty", "Empty", "intro", Table("none", columns, []), None, "Nothing to draw <here>."),
        ],
    )
    html = page_html(page)
    parsed = parse_report(html)
    assert parsed.web == [] and parsed.charts == ["chart-drawn"]
    assert html.count("* plotly.js v") == 1 and html.count("Plotly.newPlot(") == 1
    assert "<title>Report &lt;x&gt;</title>" in html and "Nothing to draw &lt;here&gt;." in html
    assert "Campaign #1 &lt;b&gt;&amp; co&lt;/b&gt;" in html and "<b>& co</b>" not in html.split("<script")[0]
    rows = parsed.tables["drawn-figures"].rows
    assert rows["c01"] == {"name": "Campaign #1 <b>& co</b>", "recipients": "1234567", "open_rate": repr(1 / 3)}
    assert rows["c02"]["open_rate"] == ""
    assert ">1,234,567</td>" in html and ">33.3%</td>" in html and ">–</td>" in html
    assert parsed.tables["empty-figures"].rows == {}
