"""Reading back the HTML report (``cm_source.analytics.report``) as a browser would: what it would fetch,
which charts it draws, and the figures tables (each cell's exact ``data-value``, by column and row key)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Attributes a browser fetches from as it opens a page (a link's href is fetched only for some rels, but
# none of them may point at the web here either).
FETCHED = {"src", "href", "srcset", "data", "poster", "background", "action", "formaction"}
WEB = re.compile(r"^\s*(https?:|//|wss?:|ftp:)", re.IGNORECASE)
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.IGNORECASE)


@dataclass
class FiguresTable:
    columns: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


class ReportParser(HTMLParser):
    """One pass over the page: web addresses in fetching attributes and style sheets, chart divs, tables.
    Script bodies are text to this parser (as to a browser), so plotly.js's own strings are not tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.web: list[str] = []
        self.tags: dict[str, int] = {}
        self.charts: list[str] = []
        self.tables: dict[str, FiguresTable] = {}
        self._table: FiguresTable | None = None
        self._row: tuple[str, dict[str, str]] | None = None
        self._cell = 0
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.web += [f"<{tag} {name}={value}>" for name, value in found.items() if name in FETCHED and WEB.match(value)]
        self.web += CSS_URL.findall(found.get("style", ""))
        self._style = tag == "style"
        if tag == "div" and "plotly-graph-div" in found.get("class", "").split():
            self.charts.append(found["id"])
        if tag == "table" and "figures" in found.get("class", "").split():
            self._table = self.tables.setdefault(found["id"], FiguresTable())
        elif self._table is not None and tag == "th":
            self._table.columns.append(found["data-column"])
        elif self._table is not None and tag == "tr" and "data-key" in found:
            self._row, self._cell = (found["data-key"], {}), 0
        elif self._row is not None and tag == "td":
            self._row[1][self._table.columns[self._cell]] = found["data-value"]  # type: ignore[union-attr]
            self._cell += 1

    def handle_endtag(self, tag: str) -> None:
        self._style = False if tag == "style" else self._style
        if tag == "tr" and self._row is not None and self._table is not None:
            key, cells = self._row
            assert key not in self._table.rows, f"row {key} twice"
            self._table.rows[key] = cells
            self._table.order.append(key)
            self._row = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._style:
            self.web += CSS_URL.findall(data)


def parse_report(html: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html)
    parser.close()
    return parser
