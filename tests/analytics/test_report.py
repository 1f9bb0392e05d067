"""The HTML report over the analytics models (``cm-source report``, ``write_report``): one file that
fetches nothing, five charts, and tables whose every figure is what the models hold, checked against the
models (and the loaded email client usage) with SQL of the test's own, on DuckDB and on Postgres; and
the one line, exit code 1, when the models were never built."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

pytest.importorskip("dbt.adapters.duckdb", reason="the dbt extra: pip install -e '.[dbt]'")

from analytics.test_models import load_and_build, small_account  # noqa: E402
from commands.test_cm_source_command import cm_source  # noqa: E402
from helpers.report_html import ReportParser, parse_report  # noqa: E402
from helpers.warehouse import query  # noqa: E402

from cm_source.analytics.report import write_report  # noqa: E402
from cm_source.analytics.report_sections import BEST_AND_WORST, MIN_RECIPIENTS  # noqa: E402
from cm_source.errors import CampaignMonitorError  # noqa: E402

pytestmark = pytest.mark.slow  # subprocesses, whole loads and dbt builds: left out by -m "not slow"

CHARTS = ["chart-performance", "chart-best-and-worst", "chart-list-growth", "chart-email-clients", "chart-clients"]
Query = Callable[[str], list[tuple]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``cm-source load --demo --models`` then ``cm-source report --demo`` in a folder of their own: the
    folder and what the report command printed."""
    folder = tmp_path_factory.mktemp("report_demo")
    loaded = cm_source("load", "--demo", "--models", "--quiet", cwd=folder)
    assert loaded.returncode == 0, loaded.stderr
    reported = cm_source("report", "--demo", "--output", "out/report.html", cwd=folder)
    assert reported.returncode == 0, reported.stderr
    return folder, reported.stdout


def exact(value: Any) -> Any:
    """A database value as the comparison takes it: numbers as float or int, days as text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return value


def same(shown: str, expected: Any) -> bool:
    """A table cell's ``data-value`` against the figure worked out here."""
    if expected is None:
        return shown == ""
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return float(shown) == pytest.approx(float(expected), rel=1e-12)
    return shown == str(expected)


def assert_rows(page: ReportParser, table: str, expected: dict[str, dict[str, Any]]) -> None:
    """The table holds exactly the expected rows, each with the expected figures."""
    got = page.tables[table].rows
    assert expected and set(got) == set(expected), table
    wrong = [
        (key, column, cells[column], expected[key][column])
        for key, cells in got.items()
        for column in expected[key]
        if not same(cells[column], expected[key][column])
    ]
    assert not wrong, wrong[:5]


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def assert_figures_are_the_models(
    page: ReportParser, sql: Query, models: str, loaded: str, min_recipients: int = MIN_RECIPIENTS
) -> None:
    """Every table's figures, worked out from the models (and the loaded email client usage) here."""
    rates = ("open_rate", "click_rate", "click_to_open_rate")
    counts = ("recipients", "delivered", "unique_opens", "unique_clicks")
    campaigns = {
        str(row[0]): dict(zip(("client_id", *counts, *rates), map(exact, row[1:]), strict=True))
        for row in sql(f"SELECT campaign_id, client_id, {', '.join(counts + rates)} FROM {models}.cm__campaigns")
    }
    charted = {key: row for key, row in campaigns.items() if row["recipients"] >= min_recipients}
    assert_rows(page, "performance-figures", {key: {c: row[c] for c in counts + rates} for key, row in charted.items()})

    # the best first, the worst last, none in both: with fewer than twice BEST_AND_WORST, the better half are the best
    ranked = sorted((row["open_rate"] for row in charted.values() if row["open_rate"] is not None), reverse=True)
    best = min(BEST_AND_WORST, (len(ranked) + 1) // 2)
    best_and_worst = page.tables["best-and-worst-figures"]
    shown = [float(best_and_worst.rows[key]["open_rate"]) for key in best_and_worst.order]
    assert len(ranked) >= 2 and shown == ranked[:best] + ranked[max(best, len(ranked) - BEST_AND_WORST) :]
    assert [best_and_worst.rows[key]["rank"] for key in best_and_worst.order].count("best") == best
    assert all(same(best_and_worst.rows[k]["delivered"], charted[k]["delivered"]) for k in best_and_worst.order)

    days = sql(
        f"SELECT list_id, day, joins, unsubscribes, bounces, deletions, active_subscribers FROM {models}.cm__list_daily"
    )
    growth = {
        f"{list_id}|{exact(day)}": {
            "joins": joins,
            "leaves": unsubscribes + bounces + deletions,
            "active_subscribers": active,
        }
        for list_id, day, joins, unsubscribes, bounces, deletions, active in days
    }
    assert_rows(page, "list-growth-figures", growth)

    usage: dict[str, dict[str, Any]] = defaultdict(lambda: {"openers": 0, "campaigns": set()})
    for email_client, openers, campaign_id in sql(
        f"SELECT client, subscribers, campaign_id FROM {loaded}.campaign_email_client_usage"
    ):
        usage[email_client]["openers"] += openers or 0
        usage[email_client]["campaigns"].add(campaign_id)
    total = sum(figures["openers"] for figures in usage.values())
    assert_rows(
        page,
        "email-clients-figures",
        {
            name: {"openers": f["openers"], "share": f["openers"] / total, "campaigns": len(f["campaigns"])}
            for name, f in usage.items()
        },
    )

    clients: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys((*counts, "campaigns"), 0))
    for row in campaigns.values():
        totals = clients[row["client_id"]]
        totals["campaigns"] += 1
        for count in counts:
            totals[count] += row[count]
    lists: dict[str, list[int]] = defaultdict(list)
    for client_id, active in sql(f"SELECT client_id, active_subscribers FROM {models}.cm__lists"):
        lists[client_id].append(active)
    for client_id, totals in clients.items():
        totals["open_rate"] = ratio(totals["unique_opens"], totals["delivered"])
        totals["click_rate"] = ratio(totals["unique_clicks"], totals["delivered"])
        totals["click_to_open_rate"] = ratio(totals["unique_clicks"], totals["unique_opens"])
        totals["lists"], totals["active_subscribers"] = len(lists[client_id]), sum(lists[client_id])
    assert_rows(page, "clients-figures", dict(clients))


def test_the_command_writes_one_file_and_prints_its_path(demo: tuple[Path, str]) -> None:
    folder, printed = demo
    assert printed.strip() == str(folder / "out" / "report.html")
    page = parse_report((folder / "out" / "report.html").read_text(encoding="utf-8"))
    assert page.charts == CHARTS
    assert set(page.tables) == {f"{chart.removeprefix('chart-')}-figures" for chart in CHARTS}


def test_the_report_fetches_nothing_when_it_opens(demo: tuple[Path, str]) -> None:
    html = (demo[0] / "out" / "report.html").read_text(encoding="utf-8")
    page = parse_report(html)
    assert page.web == []
    assert page.tags["script"] >= len(CHARTS) and page.tags.get("img", 0) == 0 and page.tags.get("iframe", 0) == 0
    # plotly.js inlined once, in the head; each chart only calls it
    assert html.count("* plotly.js v") == 1 and html.index("* plotly.js v") < html.index("<body>")
    assert html.count("Plotly.newPlot(") == len(CHARTS)


def test_every_figure_on_duckdb_is_what_the_models_hold(demo: tuple[Path, str]) -> None:
    folder, _ = demo
    page = parse_report((folder / "out" / "report.html").read_text(encoding="utf-8"))
    with duckdb.connect(str(folder / "campaign_monitor_demo.duckdb"), read_only=True) as connection:
        assert_figures_are_the_models(
            page,
            lambda sql: connection.execute(sql).fetchall(),
            "campaign_monitor_data_analytics",
            "campaign_monitor_data",
        )


def test_every_figure_on_postgres_is_what_the_models_hold(tmp_path: Path, postgres_url: str) -> None:
    pipeline = load_and_build(
        small_account(sent_campaigns=12), dlt.destinations.postgres(postgres_url), tmp_path, "cm_report_postgres"
    )
    written = write_report(pipeline, tmp_path / "report.html", min_recipients=20)
    assert written == (tmp_path / "report.html").resolve()
    page = parse_report(written.read_text(encoding="utf-8"))
    assert page.charts == CHARTS and page.web == []
    assert_figures_are_the_models(page, lambda sql: query(pipeline, sql), "cm_data_analytics", "cm_data", 20)


def test_without_models_the_command_says_what_to_run_in_one_line(tmp_path: Path) -> None:
    result = cm_source("report", "--demo", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        f"error: no analytics models in duckdb {tmp_path / 'campaign_monitor_demo.duckdb'},"
        " dataset campaign_monitor_data_analytics: build them first with cm-source load --models"
        " (cm-source load --demo --models for the demo), or build_models(pipeline) in Python\n"
    )
    assert (
        not (tmp_path / "campaign_monitor_demo.duckdb").exists()
        and not (tmp_path / "campaign_monitor_demo_report.html").exists()
    )


def test_a_load_without_models_is_refused_in_one_line(pipeline: dlt.Pipeline, tmp_path: Path) -> None:
    pipeline.run([{"client_id": "c1", "name": "A client"}], table_name="clients")
    with pytest.raises(CampaignMonitorError) as refused:
        write_report(pipeline, tmp_path / "report.html")
    assert str(refused.value) == (
        f"no analytics models in duckdb {tmp_path / 'warehouse.duckdb'}, dataset cm_data_analytics: build them"
        " first with cm-source load --models (cm-source load --demo --models for the demo), or"
        " build_models(pipeline) in Python"
    )
    assert not (tmp_path / "report.html").exists()
