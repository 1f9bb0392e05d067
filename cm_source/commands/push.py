"""Write people into Campaign Monitor from a CSV, JSON Lines or Parquet file, or a DuckDB query.

    cm-source push --list-id LIST --input people.csv
    cm-source push --list-id LIST --duckdb campaign_monitor.duckdb \\
        --query "SELECT email_address, name FROM campaign_monitor_data.active_subscribers"
    cm-source push --mode mirror --removal unsubscribe --list-id LIST \\
        --input audience.csv --dry-run                  # the plan: who is added, updated, removed
    cm-source push --mode suppress --client-id CLIENT --input people.csv

Modes: upsert (default) adds and updates; mirror also removes (unsubscribes or deletes) every member
not in the input, refusing to remove more than --max-removals (default 10% of the list); unsubscribe
and delete act on one list, suppress and unsuppress on a client's suppression list.

Exit 0: every row done. Exit 1: the rest was done, some rows were refused (see the rejects file).
Exit 2: nothing could be done (bad key, unknown list, client or column, unreadable input, a mirror
that would remove too many).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cm_source import UpsertSettings, mirror_list, upsert_subscribers
from cm_source.account_access import api_from_settings
from cm_source.errors import InputError
from cm_source.failures import run_script
from cm_source.write.actions import ACTIONS, LIST_ACTIONS, run_action
from cm_source.write.lists import list_named
from cm_source.write.rows import NoEmailColumn

Row = dict[str, Any]
READ_CHUNK = 10_000
PROGRESS_SECONDS = 5.0


def parse_args(argv: Sequence[str] | None = None, prog: str = "cm-source push") -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--mode",
        default="upsert",
        choices=["upsert", "mirror", *ACTIONS],
        help="what to do with the input's people (default: upsert)",
    )
    parser.add_argument("--list-id", help="the list to write to (every mode but suppress and unsuppress)")
    parser.add_argument(
        "--list",
        dest="list_name",
        metavar="NAME",
        help="the list by its name instead of --list-id (with --client-id when the key sees several clients)",
    )
    parser.add_argument(
        "--create-list", action="store_true", help="with --list: create the list when no list has that name"
    )
    parser.add_argument(
        "--unsubscribe-setting",
        default="AllClientLists",
        choices=["AllClientLists", "OnlyThisList"],
        help="--create-list: what an unsubscribe from the new list does (default: AllClientLists)",
    )
    parser.add_argument(
        "--confirmed-opt-in", action="store_true", help="--create-list: the new list asks new people to confirm"
    )
    parser.add_argument("--client-id", help="the client whose suppression list to change (suppress, unsuppress)")
    parser.add_argument(
        "--removal",
        default="unsubscribe",
        choices=["unsubscribe", "delete"],
        help="mirror: how members not in the input leave the list (default: unsubscribe)",
    )
    parser.add_argument(
        "--max-removals",
        type=int,
        metavar="N",
        help="mirror: refuse to remove more than N members (default: 10%% of the list's members)",
    )
    parser.add_argument(
        "--plan",
        help="mirror: where the plan goes, one row per address (default: <input name>.plan.csv in the working"
        " directory, query.plan.csv for --query)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="a .csv, .jsonl/.ndjson, .json (array) or .parquet file")
    source.add_argument("--query", help="SQL whose rows to push (needs --duckdb)")
    parser.add_argument("--duckdb", help="the DuckDB database file --query runs against")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="SOURCE=TARGET",
        help="take input column SOURCE as TARGET (email_address, name, mobile_number, consent_to_track,"
        " consent_to_send_sms or a custom field); repeatable",
    )
    parser.add_argument("--map-file", help='a TOML file of SOURCE = "TARGET" lines (or under [map]), as --map')
    parser.add_argument("--delimiter", help="the CSV delimiter (default: detected among comma, semicolon and tab)")
    parser.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="the input file's text encoding, e.g. cp1252 or latin-1 (default: UTF-8, BOM accepted)",
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept an input without rows (upsert and the explicit actions; a mirror never does)",
    )
    parser.add_argument(
        "--rejects",
        help="where rejected rows go (default: <input name>.rejects.csv in the working directory,"
        " query.rejects.csv for --query)",
    )
    parser.add_argument("--dry-run", action="store_true", help="validate, plan and report; send nothing")
    parser.add_argument(
        "--resubscribe", action="store_true", help="re-add people who unsubscribed, bounced or were deleted"
    )
    parser.add_argument(
        "--consent-to-track-default",
        default="Unchanged",
        choices=["Yes", "No", "Unchanged"],
        help="ConsentToTrack where the input has no consent_to_track column (default: Unchanged)",
    )
    parser.add_argument("--default-region", help="country for national mobile numbers, e.g. GB or AU")
    parser.add_argument("--queue-autoresponders", action="store_true", help="queue subscription-based autoresponders")
    parser.add_argument(
        "--restart-autoresponders", action="store_true", help="restart subscription-based autoresponders"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines while it runs, only the summary")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on failure")
    args = parser.parse_args(argv)
    if args.query and not args.duckdb:
        parser.error("--query needs --duckdb FILE")
    on_client = args.mode in ACTIONS and args.mode not in LIST_ACTIONS
    if on_client and not args.client_id:
        parser.error(f"--mode {args.mode} needs --client-id CLIENT (it changes a client's suppression list)")
    if not on_client and not (args.list_id or args.list_name):
        parser.error(f"--mode {args.mode} needs --list-id LIST or --list NAME")
    if args.delimiter and len(args.delimiter.replace("\\t", "\t")) != 1:
        parser.error("--delimiter takes one character (\\t for a tab)")
    return args


def read_rows(args: argparse.Namespace) -> Iterator[Row]:
    """Stream the input's rows as dicts; lists from JSON, Parquet or DuckDB stay lists (multi-select)."""
    try:
        if args.query:
            yield from read_duckdb(args.duckdb, args.query)
            return
        path = Path(args.input)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            yield from read_csv(path, args.encoding, args.delimiter)
        elif suffix == ".json":
            with path.open(encoding="utf-8") as handle:
                rows = json.load(handle)
            if not isinstance(rows, list):
                raise InputError(f"{path} is not a JSON array of rows: use an array or JSON Lines (.jsonl)")
            yield from rows
        elif suffix in (".jsonl", ".ndjson"):
            with path.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except json.JSONDecodeError as exc:
                            raise InputError(
                                f"{path} line {number} is not JSON ({exc.msg}): fix or remove it"
                            ) from None
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_CHUNK):
                yield from batch.to_pylist()
        else:
            raise InputError(f"{path}: unknown input type {suffix or '(none)'}: use .csv, .jsonl or .parquet")
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise InputError(f"cannot read {args.input or args.duckdb}: {exc}") from None


def read_csv(path: Path, encoding: str, delimiter: str | None) -> Iterator[Row]:
    """A CSV as spreadsheets and other tools export it: the whole file is decoded first (so a wrong
    encoding stops the run before anything is sent, naming the line), and the delimiter is detected
    among comma, semicolon and tab unless given."""
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise InputError(
            f"--encoding {encoding!r} is not a text encoding Python knows (e.g. utf-8, cp1252, latin-1)"
        ) from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path} line {line} is not {encoding} text (byte 0x{raw[exc.start]:02x}): give the file's encoding,"
            " e.g. --encoding cp1252 for a Windows or Excel export, --encoding latin-1"
        ) from None
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:65536].split("\n", 1)[0] or ",", delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","  # one column, or nothing to tell by: the CSV default
    yield from csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter.replace("\\t", "\t"))


def column_map(args: argparse.Namespace) -> dict[str, str]:
    """--map-file's pairs, then every --map (a later one wins)."""
    found: dict[str, str] = {}
    if args.map_file:
        import tomlkit  # dlt's own TOML library; tomllib is Python 3.11+

        try:
            document = tomlkit.loads(Path(args.map_file).read_text(encoding="utf-8")).unwrap()
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the mapping file {args.map_file}: {exc}") from None
        pairs = document.get("map", document)
        found.update({str(k): str(v) for k, v in pairs.items() if not isinstance(v, dict)})
    for item in args.map:
        source, equals, target = item.partition("=")
        if not equals or not source.strip() or not target.strip():
            raise InputError(f"--map {item!r} is not SOURCE=TARGET (e.g. --map E-mail=email_address)")
        found[source.strip()] = target.strip()
    return found


def read_duckdb(database: str, query: str) -> Iterator[Row]:
    import duckdb

    if not Path(database).exists():
        raise InputError(f"DuckDB file {database} does not exist")
    try:
        with duckdb.connect(database, read_only=True) as connection:
            cursor = connection.execute(query)
            columns = [d[0] for d in cursor.description]
            while chunk := cursor.fetchmany(READ_CHUNK):
                for values in chunk:
                    yield dict(zip(columns, values, strict=True))
    except duckdb.Error as exc:
        raise InputError(f"the query failed in {database}: {str(exc).splitlines()[0]}") from None


class ProgressLines:
    """A line saying what the write has done so far, at most every few seconds: on a terminal and in a
    scheduled run's log alike, since each is a whole line."""

    def __init__(self, every_s: float = PROGRESS_SECONDS) -> None:
        self.every_s = every_s
        self.last = time.monotonic()

    def __call__(self, report: Any) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            print(f"so far: {report.summary()}", flush=True)


def output_path(args: argparse.Namespace, option: str | None, kind: str) -> Path:
    """``option`` if given, else ``<input stem>.<kind>.csv`` (``query.<kind>.csv`` for a query)."""
    if option:
        return Path(option)
    return Path(f"{Path(args.input).stem}.{kind}.csv" if args.input else f"query.{kind}.csv")


def checkpoint_path(args: argparse.Namespace) -> str:
    """Finished writes are remembered here until the run completes, so a re-run resumes."""
    return str(Path(".campaign_monitor") / f"{args.mode}-{args.list_id or args.client_id}.jsonl")


def run(args: argparse.Namespace) -> int:
    settings = UpsertSettings(
        resubscribe=args.resubscribe,
        consent_to_track_default=args.consent_to_track_default,
        default_region=args.default_region,
        queue_autoresponders=args.queue_autoresponders,
        restart_autoresponders=args.restart_autoresponders,
    )
    api = api_from_settings()
    if args.list_name:
        args.list_id = list_named(
            api, args.list_name, args.client_id, args.create_list, args.unsubscribe_setting, args.confirmed_opt_in
        )
        print(f"list {args.list_name!r} is {args.list_id}")
    rows = input_rows(args)
    rejects = output_path(args, args.rejects, "rejects")
    common = {
        "rejects_path": str(rejects),
        "checkpoint_path": checkpoint_path(args),
        "dry_run": args.dry_run,
        "progress": None if args.quiet else ProgressLines(),
        "api": api,
    }
    try:
        refused = send(args, rows, settings, rejects, common)
    except NoEmailColumn as exc:
        raise NoEmailColumn(exc.columns, str(args.input or "the query's rows")) from None
    if refused:
        print(f"{refused:,} refused rows, each with its code and message, are in {rejects}")
        return 1
    return 0


def input_rows(args: argparse.Namespace) -> Iterator[Row]:
    """The input's rows with --map applied; an input without rows stops here (exit 2) unless --allow-empty,
    so an empty export or a query that matched nothing never passes for a run that did its work."""
    renames = column_map(args)
    rows = read_rows(args)
    first = next(rows, None)
    if first is None:
        if not args.allow_empty or args.mode == "mirror":
            what = f"{args.input} has no rows" if args.input else "the query returned no rows"
            hint = "" if args.mode == "mirror" else "; pass --allow-empty if that is expected"
            raise InputError(f"{what}: nothing to {args.mode}, nothing was sent{hint}")
        return iter(())
    return (
        {renames.get(k, k): v for k, v in row.items()} if renames else row for row in itertools.chain([first], rows)
    )


def send(
    args: argparse.Namespace, rows: Iterator[Row], settings: UpsertSettings, rejects: Path, common: dict[str, Any]
) -> int:
    """The chosen mode's writes; returns how many rows or addresses were refused."""
    if args.mode == "mirror":
        plan = output_path(args, args.plan, "plan")
        try:
            report = mirror_list(
                rows,
                args.list_id,
                args.removal,
                max_removals=args.max_removals,
                settings=settings,
                plan_path=str(plan),
                **common,
            )
        finally:
            if plan.exists():
                print(f"the plan, one row per address, is in {plan}")
        print(report.summary())
        return report.refused
    if args.mode == "upsert":
        upserted = upsert_subscribers(rows, args.list_id, settings=settings, **common)
        print(upserted.summary())
        return len(upserted.rejected)
    action = run_action(rows, args.mode, args.list_id or args.client_id, **common)
    print(action.summary())
    if action.not_found:
        print(f"{len(action.not_found):,} addresses were not on the list; they are in {rejects} (code 203)")
    return len(action.refused)


def main(argv: Sequence[str] | None = None, prog: str = "cm-source push") -> int:
    args = parse_args(argv, prog)
    return run_script(lambda: run(args), debug=args.debug, failure_exit=2)
