"""The sandbox in a process of its own: the read scenarios' server, so that its CPU time is its own and
never shares a GIL with the benchmark. Started by ``runner.ServerProcess``; by hand:

    .venv/bin/python -m benchmarks.server_process --subscribers 200000 --lists 1

It generates the account (``accounts.build_account``), serves it with ``Sandbox(account,
cache_answers=True)`` and prints one JSON line: ``base_url``, ``api_key``, ``generated_s`` and ``facts``
(``accounts.account_facts``). Then it answers each command on stdin with one JSON line on stdout:

    requests          the requests since the last clear: [method, path, query, fault] each, and what
                      was served: [method, path, status, started, handled_s, encoded_s] each
    clear             forget them
    cpu               this process's CPU seconds so far
    latency S         every answer waits S seconds (0: none)
    window N SECONDS  a fixed window of N requests per SECONDS, announced on every answer (N 0: none);
                      every call starts a new window
    stop              answer, then exit
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.accounts import account_facts, build_account, connector_states
from benchmarks.memory import process_cpu_s
from cm_source.sandbox import Sandbox, Served


def say(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, required=True, help="subscriber rows in the account")
    parser.add_argument("--lists", type=int, default=1, help="non-empty lists (default 1)")
    parser.add_argument("--layout", choices=("generator", "even"), default="generator")
    parser.add_argument("--campaigns", type=int, default=None, help="sent campaigns (default: the generator's)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    options = {} if args.campaigns is None else {"sent_campaigns": args.campaigns}
    account = build_account(args.subscribers, args.lists, args.layout, **options)
    generated_s = time.perf_counter() - started
    served: list[Served] = []
    sandbox = Sandbox(account, on_served=served.append, cache_answers=True)
    faults = sandbox.faults

    def requests(_: list[str]) -> dict[str, Any]:
        return {
            "requests": [[r.method, r.path, r.query, r.fault] for r in list(sandbox.requests)],
            "served": [[s.method, s.path, s.status, s.started, s.handled_s, s.encoded_s] for s in list(served)],
        }

    def clear(_: list[str]) -> dict[str, Any]:
        sandbox.requests.clear()
        served.clear()
        return {}

    def window(values: list[str]) -> dict[str, Any]:
        faults.rate_limit_window(int(values[0]) or None, per_seconds=float(values[1]))
        return {}

    commands: dict[str, Callable[[list[str]], dict[str, Any]]] = {
        "requests": requests,
        "clear": clear,
        "cpu": lambda _: {"cpu_s": process_cpu_s()},
        "latency": lambda values: faults.latency(float(values[0])) or {},
        "window": window,
    }
    with sandbox:
        say(
            {
                "base_url": sandbox.base_url,
                "api_key": sandbox.api_key,
                "generated_s": generated_s,
                "facts": account_facts(account, connector_states()[0]),
            }
        )
        for line in sys.stdin:
            name, *values = line.split() or [""]
            if name == "stop":
                say({})
                return
            try:
                say(commands[name](values))
            except (KeyError, IndexError, ValueError) as error:
                say({"error": f"{line.strip()!r}: {error!r}"})


if __name__ == "__main__":
    main()
