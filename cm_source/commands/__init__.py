"""``cm-source``: the project's command line, one subcommand per job.

    cm-source load --demo                      # the built-in sandbox into DuckDB; no account needed
    cm-source load --incremental               # your account (key in .dlt/secrets.toml): what changed
    cm-source plan                             # what a full read costs, before anything is loaded
    cm-source report --demo                    # the models as charts in one HTML file (after load --models)
    cm-source push --list-id LIST --input people.csv
    cm-source push --mode mirror --list-id LIST --input audience.csv --dry-run
    cm-source sandbox --subscribers 100000     # serve a generated account on loopback

``cm-source <command> --help`` documents each. The scripts under ``pipelines/`` run the same code.
"""

import os
import sys
from collections.abc import Callable, Sequence

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

Command = Callable[[Sequence[str], str], int]


def _load(argv: Sequence[str], prog: str) -> int:
    from .load import main

    return main(argv, prog)


def _plan(argv: Sequence[str], prog: str) -> int:
    from .plan import main

    return main(argv, prog)


def _push(argv: Sequence[str], prog: str) -> int:
    from .push import main

    return main(argv, prog)


def _report(argv: Sequence[str], prog: str) -> int:
    from .report import main

    return main(argv, prog)


def _sandbox(argv: Sequence[str], prog: str) -> int:
    from ..sandbox.__main__ import main

    main(list(argv), prog)
    return 0


COMMANDS: dict[str, tuple[Command, str]] = {
    "load": (_load, "load an account (or --demo, the sandbox) into DuckDB or any dlt destination"),
    "plan": (_plan, "what a full read costs: requests per client and table group, and the time at the rate window"),
    "push": (_push, "write people into a list: upsert, mirror, unsubscribe, delete, suppress, unsuppress"),
    "report": (_report, "write the analytics models as charts and tables in one HTML file that works offline"),
    "sandbox": (_sandbox, "serve a generated Campaign Monitor account locally, with fault switches"),
}


def usage() -> str:
    lines = [__doc__.strip(), "", "commands:"]
    lines += [f"  {name:<8} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a subcommand; no command, or an unknown one, prints the usage (exit 2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(usage())
        return 0
    if not argv or argv[0] not in COMMANDS:
        problem = f"unknown command {argv[0]!r}" if argv else "a command is needed"
        print(f"{usage()}\n\ncm-source: error: {problem}", file=sys.stderr)
        return 2
    command, _ = COMMANDS[argv[0]]
    return command(argv[1:], f"cm-source {argv[0]}")
