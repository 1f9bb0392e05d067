"""The command line: python -m cm_source.sandbox runs a sandbox in the foreground until interrupted and
prints its base URL and administrator key."""

from __future__ import annotations

import argparse
import threading

from .generate import generate_account
from .server import Sandbox


def main(argv: list[str] | None = None, prog: str = "python -m cm_source.sandbox") -> None:
    """Run a sandbox in the foreground until interrupted."""
    parser = argparse.ArgumentParser(prog=prog, description="Serve a generated Campaign Monitor v3.3 account locally.")
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (default: a free one)")
    parser.add_argument("--subscribers", type=int, default=3000, help="total subscriber rows (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated account (default 7)")
    parser.add_argument("--clients", type=int, default=2, help="number of clients (default 2)")
    parser.add_argument("--lists-per-client", type=int, default=3, help="lists of each client, at least 2 (default 3)")
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="wait this long before every answer (default 0)"
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="allow N requests per second and answer 429 beyond (default: no limit)",
    )
    args = parser.parse_args(argv)
    try:
        account = generate_account(
            seed=args.seed, clients=args.clients, lists_per_client=args.lists_per_client, subscribers=args.subscribers
        )
    except ValueError as error:
        parser.error(str(error))
    sandbox = Sandbox(account, port=args.port)
    try:
        sandbox.faults.latency(args.latency)
        if args.rate_limit is not None:
            sandbox.faults.rate_limit_window(args.rate_limit, per_seconds=1.0)
    except ValueError as error:
        parser.error(str(error))
    with sandbox:
        print(f"base URL: {sandbox.base_url}", flush=True)
        print(f"API key:  {sandbox.api_key}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
