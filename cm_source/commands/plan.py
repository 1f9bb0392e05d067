"""What a full read of an account costs, before anything is loaded: requests per client and group of
tables, and the time at the rate window the API announces.

    cm-source plan --demo
    cm-source plan --client-id 4a397c...
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cm_source.commands.load import source_settings
from cm_source.failures import run_script
from cm_source.read.plan import plan_sync


def parse_args(argv: Sequence[str] | None = None, prog: str = "cm-source plan") -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demo", action="store_true", help="plan a read of the built-in sandbox; no account needed")
    parser.add_argument("--client-id", help="plan one client (default: every client the key can see)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on failure")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    with source_settings(args.demo) as settings:
        plan = plan_sync(client_id=args.client_id, **settings)
    for line in plan.lines():
        print(line)
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "cm-source plan") -> int:
    args = parse_args(argv, prog)
    return run_script(lambda: run(args), debug=args.debug, failure_exit=1)
