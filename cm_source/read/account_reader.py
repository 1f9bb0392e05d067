"""Reading one account by the catalogue: each table under every row of its parent, several at once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from functools import partial
from typing import Any

import dlt
from dlt.common.configuration.container import Container
from dlt.common.pipeline import current_pipeline
from dlt.extract.source import SourceInjectableContext

from ..api_facts import API_KEY_SETTING, BASE_URL_SETTING, CLIENT_ID_SETTING
from ..concurrency import merged_streams
from ..errors import AccessRefused, CampaignMonitorError
from ..http import CampaignMonitorAPI
from ..http.arrow_pages import envelope_schema
from ..http.client import object_rows
from ..http.page import Page, row_count
from ..http.paging import Row
from ..http.timeline import walk_back
from .catalogue import ENDPOINTS, PARENT_TABLES, TABLES, AskedPerListing, Endpoint, Shape, Sync, query_ids, read_under
from .columnar import gathered, page_fields, release_unused_memory
from .destinations import holds_nested_arrow
from .feature_refusals import FeatureRefusals
from .incremental import LEFT_COLUMN, IncrementalRun, TablePlan, removals
from .incremental_reads import read_incrementally
from .page_rules import PageRules
from .pieces import read_by_first_piece
from .progress import RunProgress
from .reconcile import loaded_addresses
from .report_counts import ReportCounts
from .rows import ReadRow, shape_page, shape_row
from .shared_answers import SharedAnswers
from .time_zones import LocalTime


class AccountReader:
    """Reads one account: every row stamped with the IDs it was read under, its times in UTC."""

    def __init__(
        self,
        api: CampaignMonitorAPI,
        local_time: LocalTime,
        reports_from: date | None,
        nested_as_text: bool | None = None,
        incremental: IncrementalRun | None = None,
        progress: RunProgress | None = None,
    ) -> None:
        self.api = api
        self.progress = progress or RunProgress()
        api.observer = self.progress.answered
        self.progress.gate = api.rate_gate
        self.local_time = local_time
        self.reports_from = reports_from
        self.nested_as_text = nested_as_text
        self.incremental = incremental  # None: a full refresh
        self.refusals = FeatureRefusals(self.progress.note, api.account_now)
        self.answers = SharedAnswers(self.api.get)
        self.progress.answers = self.answers
        self.answers.on_counts = self.progress.summary_counts
        self.counts = ReportCounts(self.answers, self.api.account_now, self.progress)
        self.clients_now: list[str] = []  # the clients this run reads, once the root is listed
        # Also on a full refresh: a table an earlier incremental run loaded keeps its hard-delete hint.
        _DLT_LOGGER.addFilter(_expected_notice)

    def read_root(self, endpoint: Endpoint, only: str | None) -> Iterator[list[ReadRow]]:
        """The table every other is read under (clients): the one row asked for, or every row the key can
        list, each completed by its ``details``."""
        self.progress.attach()
        self.progress.started(endpoint.table)
        with self.progress.reading(endpoint.table):
            listed = [{endpoint.hands_down[0]: only}] if only else self._listed(endpoint)
            self.clients_now = [str(row[endpoint.hands_down[0]]) for row in listed]
            rules = PageRules(endpoint, {}, None, self.local_time)
            rows = [shape_row(row, rules) for row in self.completed(endpoint, listed)]
            self.progress.page(endpoint.table)
        self.progress.outlook.selected = self.answers.selected = selected_tables() or TABLES
        self.progress.listed(endpoint.table, len(rows))
        self.progress.parents_done(endpoint.table)
        yield rows

    def read_once(self, endpoint: Endpoint) -> Iterator[Any]:
        """A table of the account itself (its administrators), read under nothing and handing nothing
        down: read as under one parent that carries no ID, so that it is refused, counted and left to a
        run's first piece as every other table is."""
        yield from self.reader_of(endpoint)(ReadRow({}, None))

    def completed(self, endpoint: Endpoint, rows: list[Row]) -> list[Row]:
        """Rows as listed, each completed by its ``details`` request where the table has one."""
        if not endpoint.details or endpoint.with_details is None:
            return rows
        return [endpoint.with_details(dict(row), self.api.get(endpoint.details.format(**row))) for row in rows]

    def _listed(self, endpoint: Endpoint) -> list[Row]:
        try:
            return self.api.get_array(endpoint.path, endpoint.params)
        except AccessRefused as exc:
            if self.api.oauth is not None:
                raise  # a token's refusal says itself which settings to fix; a client key is not involved
            raise AccessRefused(
                f"Campaign Monitor refused to list {endpoint.table} with this API key ({exc.status} Code {exc.code}):"
                f" if it is a client's API key, set {CLIENT_ID_SETTING}; otherwise check {API_KEY_SETTING}",
                status=exc.status,
                code=exc.code,
                path=exc.path,
            ) from None

    def reader_of(self, endpoint: Endpoint) -> Callable[[Any], Iterator[Any]]:
        """The transformer body for ``endpoint``: read it under every parent row, several at once."""
        id_names = read_under(endpoint)

        def read_children(parent_rows: Any) -> Iterator[Any]:
            self.progress.attach()
            as_text = endpoint.columnar and self.nested_as_text_here()
            given = parent_rows if isinstance(parent_rows, list) else [parent_rows]
            parents = [row for row in given if not endpoint.campaign_report or self.reports_wanted(row)]
            self.progress.parents_done(endpoint.table, len(given) - len(parents))
            run = self.incremental
            plan = run.plan(endpoint) if run is not None and endpoint.sync is not Sync.IN_FULL else None
            if plan is not None and self.answers.kept is None:  # counts a later piece may need (pieces)
                self.answers.kept = plan.run.state().pass_
            if run is not None and read_by_first_piece(endpoint) and run.leaves_first_piece_tables():
                self.progress.parents_done(endpoint.table, len(parents))
                return
            # made one by one as a thread is free for one (merged_streams), not one per parent up front
            made = (self.reader_for(endpoint, row, id_names, as_text, plan) for row in parents)
            readers = (reader for reader in made if reader is not None)
            hints = dlt.mark.make_hints(**plan.hints) if plan is not None and plan.hints else None
            with self.progress.reading(endpoint.table):
                if plan is not None and endpoint.sync is Sync.STATE_CHANGES and not plan.reload:
                    yield from self.rows_of_gone_lists(plan)
                read_any = False
                for item in gathered(merged_streams(readers, self.api.max_concurrent_requests)):
                    read_any = True
                    if endpoint.table in PARENT_TABLES:
                        self.progress.listed(endpoint.table, row_count(item))
                    yield dlt.mark.with_hints(item, hints) if hints is not None else item
                if hints is not None and not read_any:  # a table read in full that has no rows left is emptied
                    yield dlt.mark.with_hints([], hints)
            if endpoint.columnar:
                release_unused_memory()

        return read_children

    def reader_for(
        self, endpoint: Endpoint, row: Any, id_names: tuple[str, ...], as_text: bool, plan: TablePlan | None
    ) -> Callable[[], Iterator[Any]] | None:
        """What reads ``endpoint`` under one parent row: in full, or incrementally as the plan says (None
        when it says not to read it this run), unless the count says it is empty, and within the piece."""
        ids = {name: row[name] for name in id_names}
        reader: Callable[[], Iterator[Any]]
        if plan is None:
            reader = partial(self.read_endpoint, endpoint, ids, row.zone, as_text)
            if endpoint.counted_by is not None:
                reader = self.counts.gated(endpoint, row, ids, reader, None)
        elif plan.wanted(row, ids[id_names[-1]]):
            read: Callable[[], Iterator[Any]] = partial(read_incrementally, self, plan, ids, row.zone, as_text)
            if endpoint.counted_by is not None:
                read = self.counts.gated(endpoint, row, ids, read, plan)
            held = partial(self.answers.held, endpoint.path.format(**ids))  # a summary a report asked for
            reader = plan.run.piece.gated(endpoint.table, str(ids[id_names[-1]]), read, held)
        else:
            self.progress.parents_done(endpoint.table)
            return None
        if endpoint.feature:
            reader = partial(self.refusals.unless_refused, endpoint, ids, reader)
        return self.progress.counted(endpoint.table, reader)

    def rows_of_gone_lists(self, plan: Any) -> Iterator[Any]:
        """Once per state table and run: a removal for every address loaded for a list the account no
        longer has (deleted, or its client gone), so the table holds only lists that exist."""
        endpoint, run = plan.endpoint, plan.run
        if not run.first_batch(endpoint.table):
            return
        for list_id, client_id in run.gone_lists(self._list_ids_of, self.clients_now).items():
            emails = loaded_addresses(run.pipeline, endpoint.table, list_id, None, None)
            if emails:
                rules = PageRules(endpoint, {"ClientID": client_id, "ListID": list_id}, None, self.local_time)
                yield shape_page(removals(endpoint, emails), rules, self.nested_as_text_here() and endpoint.columnar)

    def _list_ids_of(self, client_id: str) -> list[str]:
        return [str(row["ListID"]) for row in self.api.get_array(f"clients/{client_id}/lists.json")]

    def read_endpoint(
        self,
        endpoint: Endpoint,
        ids: Mapping[str, str],
        zone: Any,
        nested_as_text: bool,
        params: Mapping[str, str] | None = None,
        keep: Callable[[Page], Page] | None = None,
        keep_takes_arrow: bool = False,
    ) -> Iterator[Any]:
        """Stream one endpoint under one parent, page by page, each page shaped by the catalogue's rules.

        ``params`` are added to the catalogue's; ``keep`` sees each page as the API sent it and returns
        the rows to load (an incremental read's cursor); it is handed rows, or an Arrow page only if
        ``keep_takes_arrow``.
        """
        rules = PageRules(endpoint, ids, zone, self.local_time)
        query = {**query_ids(endpoint, ids), **(params or {})}
        pages = self.pages(endpoint, endpoint.path.format(**ids), query, as_arrow=keep is None or keep_takes_arrow)
        kept = (keep(rows) if keep is not None else rows for rows in pages)
        yield from gathered(shape_page(rows, rules, nested_as_text) for rows in kept if row_count(rows))

    def pages(
        self, endpoint: Endpoint, path: str, params: Mapping[str, str] | None = None, as_arrow: bool = False
    ) -> Iterator[Page]:
        """The rows of one request, or of each page of a paged one, as the API sent them; with
        ``as_arrow`` a columnar table's page may come as Arrow decoded it (``http.arrow_pages``)."""
        query = {**endpoint.params, **(params or {})}
        self.progress.started(endpoint.table)
        if endpoint.shape is Shape.PAGED:
            columns = envelope_schema(page_fields(endpoint)) if as_arrow and endpoint.columnar else None
            answers: Iterator[Page] = self.api.get_pages(
                path,
                query,
                row_key=endpoint.row_key,
                changed_since_param=endpoint.changed_since_param,
                columns=columns,
            )
        elif endpoint.shape is Shape.TIMELINE:
            yield from walk_back(self.timeline(endpoint, path, query))  # each call counted as a page
            return
        elif endpoint.shape is Shape.ARRAY:
            answers = iter([self.api.get_array(path, query)])
        elif endpoint.asked_per is not None:
            answers = self.each_answer(endpoint, endpoint.asked_per, path, query)
        else:
            answers = iter([self.object_rows(endpoint, path)])
        for page in answers:
            self.progress.page(endpoint.table)
            yield self.completed(endpoint, page) if endpoint.details else page

    def object_rows(self, endpoint: Endpoint, path: str) -> list[Row]:
        """An object endpoint's rows: the object, or the array under ``rows_at``; an answer other tables
        read too is asked once for all of them (``shared_answers``)."""
        body = self.answers.take(endpoint.path, path, own=True)
        return object_rows(body, endpoint.rows_at, path)

    def timeline(
        self, endpoint: Endpoint, path: str, query: Mapping[str, Any]
    ) -> Callable[[Mapping[str, Any]], list[Row]]:
        """One call of a timeline, cursor parameters in, messages out, counted as a page."""

        def get(cursor: Mapping[str, Any]) -> list[Row]:
            messages = self.api.get_array(path, {**query, **cursor})
            self.progress.page(endpoint.table)
            return messages

        return get

    def each_answer(
        self, endpoint: Endpoint, asked_per: AskedPerListing, path: str, query: Mapping[str, Any]
    ) -> Iterator[list[Row]]:
        """An object endpoint asked once per row of each listing (statistics per smart email and per
        group), each answer one row stamped with what it was asked for and the window it covers."""
        ids = {name: value for name, value in query.items() if name in endpoint.query_ids}
        window = self.window(asked_per.window_days)
        for each in asked_per.listings:
            for listed in self.api.get_array(each.path, {**each.params, **ids}):
                asked = listed.get(each.field)
                answer = self.api.get(path, {**query, **window, each.param: asked})
                if not isinstance(answer, dict):
                    raise CampaignMonitorError(
                        f"GET {path}: expected a JSON object, got {type(answer).__name__}: check {BASE_URL_SETTING}",
                        path=path,
                    )
                row = {key: value for key, value in answer.items() if key != "Query"}
                yield [{**row, each.stamp_as: asked, "From": window.get("from"), "To": window.get("to")}]

    def window(self, days: int) -> dict[str, str]:
        """``from`` and ``to`` for the last ``days`` days up to the account's today; none for 0."""
        if not days:
            return {}
        now = self.api.account_now() or datetime.now(timezone.utc)  # an account that does not say: this machine's
        today = now.date()
        return {"from": (today - timedelta(days=days)).isoformat(), "to": today.isoformat()}

    def reports_wanted(self, campaign: Row) -> bool:
        sent = campaign.get("SentDate")
        return self.reports_from is None or not isinstance(sent, datetime) or sent.date() >= self.reports_from

    def nested_as_text_here(self) -> bool:
        """Whether nested values go as JSON text, decided once, from the destination being loaded into.

        Asked while extracting (not when the source is made), when the running pipeline is known.
        """
        if self.nested_as_text is None:
            pipeline = current_pipeline()
            self.nested_as_text = not holds_nested_arrow(getattr(pipeline, "destination", None))
        return self.nested_as_text


def selected_tables() -> tuple[str, ...]:
    """The tables the running extract loads (dlt's source being extracted), in catalogue order: what the
    run's share done is of."""
    context = Container().get(SourceInjectableContext)
    selected = context.source.selected_resources if context is not None and context.source is not None else {}
    return tuple(endpoint.table for endpoint in ENDPOINTS if endpoint.table in selected)


_DLT_LOGGER = logging.getLogger("dlt")
_NESTED_TABLES = tuple(f"In resource: {e.table}," for e in ENDPOINTS if e.custom_fields)
_HARD_DELETE_ON_REPLACE = f'The "hard_delete" column hint for column "{LEFT_COLUMN}"'


def _expected_notice(record: logging.LogRecord) -> bool:
    """Drop dlt's notices about what the source does on purpose: a JSON column sent as Arrow text (what
    the hint is for), and the hard-delete column of a state table on a run that replaces the table."""
    message = record.getMessage()
    if message.startswith(_NESTED_TABLES) and "merging arrow schema with dlt schema" in message:
        return False
    return not message.startswith(_HARD_DELETE_ON_REPLACE)
