#!/usr/bin/env python
"""Which JSON decoder for a page of a thousand subscribers: the candidates side by side. Run by hand:

    .venv/bin/python benchmarks/decoders.py

Each decodes the same page (served once by the sandbox, as the connector gets it) many times; then a
pure-Python loop runs beside each on a second thread, to show which decoders hold the GIL (a decoder
that does not leaves the loop's time as it was alone). orjson and pyarrow are the project's
dependencies; stdlib json and simplejson (which requests uses when installed) are what it replaced;
msgspec is measured where it is installed.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import requests  # noqa: E402

from cm_source.http.arrow_pages import decode_page, envelope_parts, envelope_schema  # noqa: E402
from cm_source.read.catalogue import ENDPOINTS  # noqa: E402
from cm_source.read.columnar import page_fields, page_table  # noqa: E402
from cm_source.read.page_rules import PageRules  # noqa: E402
from cm_source.read.time_zones import LocalTime  # noqa: E402
from cm_source.sandbox import Sandbox, generate_account  # noqa: E402

ROUNDS = 200


def a_page() -> bytes:
    """Page 1 of the largest list's active subscribers, at pagesize=1000, as the sandbox sends it."""
    account = generate_account(clients=1, lists_per_client=2, subscribers=5_000)
    list_id = account.lists[account.clients[0]["ClientID"]][0]["ListID"]
    with Sandbox(account) as sandbox:
        response = requests.get(
            f"{sandbox.base_url}/lists/{list_id}/active.json",
            auth=(sandbox.api_key, "x"),
            params={"page": 1, "pagesize": 1000, "includetrackingpreference": "true"},
        )
    response.raise_for_status()
    return response.content


def candidates(page: bytes) -> dict[str, Callable[[], object]]:
    endpoint = next(e for e in ENDPOINTS if e.table == "active_subscribers")
    schema = envelope_schema(page_fields(endpoint))
    rules = PageRules(endpoint, {"ListID": "l"}, None, LocalTime(True))
    found: dict[str, Callable[[], object]] = {"json (stdlib)": lambda: json.loads(page)}
    for name in ("simplejson", "orjson"):
        module = optional(name)
        if module is not None:
            found[name] = lambda module=module: module.loads(page)  # type: ignore[attr-defined]
    msgspec = optional("msgspec")
    if msgspec is not None:
        found["msgspec"] = lambda: msgspec.json.decode(page)  # type: ignore[attr-defined]
    orjson = optional("orjson")
    if orjson is not None:
        found["orjson + rows to Arrow (the JSON path)"] = lambda: page_table(orjson.loads(page)["Results"], rules)
    found["pyarrow read_json (the Arrow path, to rows)"] = lambda: envelope_parts(decode_page(page, schema))
    return found


def optional(name: str) -> object | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"{name}: not installed, left out")
        return None


def per_call_ms(decode: Callable[[], object], rounds: int = ROUNDS) -> float:
    decode()
    started = time.perf_counter()
    for _ in range(rounds):
        decode()
    return 1000 * (time.perf_counter() - started) / rounds


def spin_s(turns: int = 3_000_000) -> float:
    started, total = time.perf_counter(), 0
    for number in range(turns):
        total += number
    return time.perf_counter() - started


def spin_beside(decode: Callable[[], object]) -> float:
    """The pure-Python loop's time while ``decode`` runs over and over on another thread."""
    stop = threading.Event()

    def keep_decoding() -> None:
        while not stop.is_set():
            decode()

    thread = threading.Thread(target=keep_decoding)
    thread.start()
    try:
        return spin_s()
    finally:
        stop.set()
        thread.join()


def main() -> int:
    page = a_page()
    print(f"a page of 1,000 subscribers: {len(page):,} bytes; {ROUNDS} decodes each")
    alone = spin_s()
    print(f"a pure-Python loop alone: {alone * 1000:.0f} ms\n")
    print(f"{'decoder':<46} {'ms per page':>11} {'loop beside it':>15}")
    for name, decode in candidates(page).items():
        beside = spin_beside(decode)
        print(f"{name:<46} {per_call_ms(decode):>11.2f} {beside / alone:>14.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
