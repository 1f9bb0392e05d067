"""An incremental table read under one parent, by the table's ``sync`` (see ``incremental``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, List, Mapping

from .catalogue import ENDPOINTS
from .incremental import LEFT_COLUMN, EventCursor, TablePlan
from .rows import PageRules, shape_page

if TYPE_CHECKING:
    from .account_reader import AccountReader

Row = Mapping[str, Any]


def read_incrementally(
    reader: "AccountReader", plan: TablePlan, ids: Mapping[str, str], zone: Any, nested_as_text: bool
) -> Iterator[Any]:
    """One parent's part of an incremental table, its cursor moved only once the part is read whole."""
    endpoint = plan.endpoint
    parent_id = list(ids.values())[-1]
    if endpoint.sync == "state_changes":
        yield from state_changes(reader, plan, ids, zone, nested_as_text)
    elif endpoint.sync == "new_events":
        cursor = EventCursor(None if plan.reload else plan.memory["parents"].get(parent_id), endpoint.timestamps[0])
        yield from reader.read_endpoint(endpoint, ids, zone, nested_as_text, cursor.params(), cursor.new_rows)
        plan.memory["parents"][parent_id] = cursor.stored()
    else:
        yield from reader.read_endpoint(endpoint, ids, zone, nested_as_text)
        plan.loaded(parent_id)


def state_changes(
    reader: "AccountReader", plan: TablePlan, ids: Mapping[str, str], zone: Any, nested_as_text: bool
) -> Iterator[Any]:
    """A list's subscribers in one state: in full on a reload or for a list without a cursor, else
    those who changed since the cursor, and a removal for each who is now in another state."""
    endpoint, run = plan.endpoint, plan.run
    list_id = ids["ListID"]
    since = None if plan.reload else run.cursor_at_start(list_id)
    read = run.lists.read_of(list_id)
    if since is None:
        ended = run.lists.timed(list_id)
        yield from reader.read_endpoint(endpoint, ids, zone, nested_as_text, keep=seen_by(read), keep_takes_arrow=True)
        ended()
    else:
        def fetch(path: str, params: Mapping[str, str]) -> List[Row]:
            return [row for page in reader.pages(endpoint, path, params) for row in page]

        paths = [other.path.format(**ids) for other in ENDPOINTS if other.sync == "state_changes"]
        changes = run.lists.changes(list_id, since, paths, fetch)
        rules = PageRules(endpoint, ids, zone, reader.local_time)
        here = endpoint.path.format(**ids)
        # Leavers go in the same page as the changed rows, with the same columns (custom fields
        # empty), so every page of the table has one Arrow schema.
        blank = {endpoint.custom_fields: []} if endpoint.custom_fields else {}
        left = [{"EmailAddress": row["EmailAddress"], **blank, LEFT_COLUMN: True}
                for path, rows in changes.items() if path != here for row in rows]
        if changes[here] or left:
            yield shape_page([*changes[here], *left], rules, nested_as_text)
    run.move_cursor(list_id, read)


def seen_by(read: Any) -> Any:
    """A page filter that loads every row (a list, or an Arrow page) and notes the latest ``Date`` among them."""
    def keep(rows: Any) -> Any:
        read.saw(rows)
        return rows

    return keep
