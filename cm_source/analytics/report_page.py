"""The report as one HTML page that works offline: Plotly's JavaScript inlined once in the head, each
chart a ``<div>`` drawn by it, each followed by a table of the figures it draws.

Nothing on the page is fetched when it opens: no script or style sheet from the web, no web font (the
system's own), and an empty icon so the browser does not ask for ``favicon.ico``. A table cell shows a
figure for people (``49.3%``, ``1,495``) and keeps the exact value in ``data-value``, so a check (or a
person copying the table) can compare it with the models without undoing the formatting.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

Kind = Literal["text", "count", "rate"]
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0 auto; max-width: 1180px; padding: 1.5rem 2rem 3rem; color: #1f2937; background: #fff; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; margin: 2.6rem 0 .3rem; border-top: 1px solid #e5e7eb; padding-top: 1.4rem; }
p.where, p.intro, p.empty { color: #4b5563; margin: .2rem 0 .8rem; }
ul.glance { display: flex; flex-wrap: wrap; gap: .8rem; list-style: none; padding: 0; margin: 1rem 0; }
ul.glance li { background: #f3f4f6; border-radius: 6px; padding: .6rem .9rem; min-width: 9rem; }
ul.glance b { display: block; font-size: 1.3rem; }
div.figures { max-height: 22rem; overflow: auto; border: 1px solid #e5e7eb; border-radius: 6px; margin-top: .6rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
caption { text-align: left; padding: .5rem .6rem; color: #4b5563; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #f3f4f6; text-align: left; }
th { position: sticky; top: 0; background: #f9fafb; }
td.count, td.rate, th.count, th.rate { text-align: right; font-variant-numeric: tabular-nums; }
"""


@dataclass(frozen=True)
class Column:
    """A table column: ``key`` names the model's column (or the figure) it holds, ``kind`` its format."""

    key: str
    title: str
    kind: Kind = "text"


@dataclass(frozen=True)
class Table:
    """The figures behind a chart, one row per point or bar."""

    caption: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    # what each row stands for (a campaign's ID, a list and day), in the row's data-key
    keys: Sequence[str] = ()


@dataclass(frozen=True)
class Section:
    """One part of the report: a title, what it shows, its chart (none when there is nothing to draw,
    then ``empty`` says why) and the table of its figures."""

    key: str
    title: str
    intro: str
    table: Table
    figure: go.Figure | None = None
    empty: str = ""


@dataclass(frozen=True)
class Page:
    """The whole report: its title, where the figures were read, a few headline figures, the sections."""

    title: str
    where: str
    glance: Sequence[tuple[str, str]]
    sections: Sequence[Section] = field(default_factory=list)


def page_html(page: Page) -> str:
    """The page as one self-contained HTML document."""
    glance = "".join(f"<li><b>{html.escape(value)}</b>{html.escape(label)}</li>" for label, value in page.glance)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{html.escape(page.title)}</title>\n<link rel="icon" href="data:,">\n'
        f"<style>{STYLE}</style>\n"
        f'<script type="text/javascript">window.PlotlyConfig = {{MathJaxConfig: "local"}};</script>\n'
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        f"<h1>{html.escape(page.title)}</h1>\n"
        f'<p class="where">{html.escape(page.where)}</p>\n<ul class="glance">{glance}</ul>\n'
        + "\n".join(section_html(section) for section in page.sections)
        + "\n</body>\n</html>\n"
    )


def section_html(section: Section) -> str:
    """A section: its heading and intro, then its chart (or why there is none), then its table."""
    if section.figure is not None:
        chart = section.figure.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"chart-{section.key}", config=PLOTLY_CONFIG
        )
    else:
        chart = f'<p class="empty">{html.escape(section.empty)}</p>'
    return (
        f'<section id="{section.key}">\n<h2>{html.escape(section.title)}</h2>\n'
        f'<p class="intro">{html.escape(section.intro)}</p>\n{chart}\n'
        f"{table_html(section.table, f'{section.key}-figures')}\n</section>"
    )


def table_html(table: Table, table_id: str) -> str:
    """A table of figures in a scrolling box (a list's every day can be a thousand rows)."""
    head = "".join(
        f'<th class="{column.kind}" data-column="{column.key}">{html.escape(column.title)}</th>'
        for column in table.columns
    )
    keys = table.keys or [""] * len(table.rows)
    body = "".join(
        f'<tr data-key="{html.escape(key)}">'
        + "".join(cell_html(column.kind, value) for column, value in zip(table.columns, row, strict=True))
        + "</tr>\n"
        for key, row in zip(keys, table.rows, strict=True)
    )
    return (
        f'<div class="figures"><table id="{table_id}" class="figures"><caption>{html.escape(table.caption)}'
        f"</caption>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table></div>"
    )


def cell_html(kind: Kind, value: Any) -> str:
    """A cell: the figure formatted for people, the exact value in ``data-value`` (empty for none)."""
    exact = "" if value is None else repr(value) if isinstance(value, float) else str(value)
    return f'<td class="{kind}" data-value="{html.escape(exact)}">{html.escape(shown(kind, value))}</td>'


def shown(kind: Kind, value: Any) -> str:
    """A figure as people read it: counts with thousands separators, rates as percentages, none as –."""
    if value is None:
        return "–"
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "count":
        return f"{value:,}"
    return str(value)
