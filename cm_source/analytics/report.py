"""A report to open in a browser, over the analytics models: ``write_report(pipeline, path)`` writes one
HTML file (``cm-source report`` on the command line).

The charts are Plotly's: a Plotly figure embeds in a single HTML file that works offline (its JavaScript
inlined once in the page, nothing fetched from a CDN or for fonts), it is interactive (hover for the
recipients behind a rate, zoom, hide a list) and it beats hand-written SVG for axes, dates and legends.
Plotly builds its figures from plain lists here, so it needs neither numpy nor pandas.

The figures are read through dlt's SQL client (``report_data``), so the report runs wherever the models
were built: DuckDB, Postgres, another warehouse. The parts: ``report_data`` reads, ``report_sections``
chooses what each part shows, ``report_charts`` draws, ``report_page`` writes the HTML.
"""

from __future__ import annotations

import importlib.util
from datetime import datetime, timezone
from pathlib import Path

import dlt

from ..errors import CampaignMonitorError
from . import analytics_dataset

PLOTLY_MISSING = 'the report needs plotly: pip install "cm-source[report]"'


def require_plotly() -> None:
    """Refuse before anything is read when Plotly is not installed: it is an extra."""
    if importlib.util.find_spec("plotly") is None:
        raise CampaignMonitorError(PLOTLY_MISSING)


def write_report(pipeline: dlt.Pipeline, path: str | Path, *, min_recipients: int | None = None) -> Path:
    """Write the report over ``pipeline``'s models (``<dataset>_analytics``) to ``path``; return the path.

    Campaigns sent to fewer than ``min_recipients`` people (default 50) are left out of the campaign
    charts, whose rates they would only make noisy. Raises ``CampaignMonitorError`` with one line saying
    what to run when the models were never built (``cm-source load --models``, ``build_models(pipeline)``).
    """
    require_plotly()
    from .report_data import read_report_data
    from .report_page import Page, page_html
    from .report_sections import MIN_RECIPIENTS, glance, sections

    data = read_report_data(pipeline)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = Page(
        title="Campaign Monitor report",
        where=f"{data.place}; models in {analytics_dataset(pipeline.dataset_name)}; made {made}",
        glance=glance(data),
        sections=sections(data, MIN_RECIPIENTS if min_recipients is None else min_recipients),
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page_html(page), encoding="utf-8")
    return target.resolve()
