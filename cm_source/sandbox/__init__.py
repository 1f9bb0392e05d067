"""A local HTTP server that speaks the Campaign Monitor API v3.3 over a deterministic generated account.

It serves the read endpoints a connector syncs (clients, campaigns and their reports, lists, segments,
subscribers, journeys and their email reports, webhooks, tags), with the real API's paging envelope,
validation errors, HTTP Basic auth and client-key scoping, and the subscriber writes (add one, import up
to 1000, unsubscribe one, read one back), so that the connector, its end-to-end tests and benchmarks can
run without a live account. As in the API, a query parameter sent empty (`date=`) is one not sent.
`Sandbox.faults` (`Faults`) switches on, at run time, what a live API and the network in front of it do
to a sync: 429s, 5xx, answers cut short, HTML instead of JSON, dropped connections, latency, and rows
inserted or removed while a list is being paged. `Sandbox(account, on_served=...)` reports each answer
(`Served`) with how long the server took over it. `account_activity(account)` is what happens in an
account between two syncs (joins, state moves, field edits, a new campaign, new events).

    with Sandbox(generate_account(subscribers=3000)) as sandbox:
        ...  # sandbox.base_url, sandbox.api_key, sandbox.requests, sandbox.faults

    python -m cm_source.sandbox [--port N] [--subscribers N] [--clients N] [--lists-per-client N] [--seed N]
                                [--latency SECONDS] [--rate-limit N]

The modules, one concern each: account (the data), generate and reports (the generated account),
paging (query parameters, orders, the paged envelope), reads (GET handlers), validation and writes
(subscriber writes), activity (changes between syncs), routes (route table and auth), faults, server
(Sandbox), __main__ (the command).
"""

from .account import STATES, Account
from .activity import Activity, account_activity
from .faults import Faults
from .generate import generate_account
from .messages import RecordedRequest
from .server import Sandbox, Served

__all__ = [
    "STATES",
    "Account",
    "Activity",
    "Faults",
    "RecordedRequest",
    "Sandbox",
    "Served",
    "account_activity",
    "generate_account",
]
