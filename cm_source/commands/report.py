"""Write a report of the analytics models to open in a browser: one HTML file that works offline, with
campaign performance, the best and worst campaigns, list growth, email clients and each client.

cm-source load --demo --models && cm-source report --demo      # the sandbox, then its report
cm-source report --output reports/campaign_monitor.html        # your load, after `load --models`
cm-source report --destination postgres --dataset campaign_monitor_data

It finds the pipeline as `cm-source load` makes it (the same --demo, --destination and --dataset) and
reads the models in <dataset>_analytics (docs/report.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from cm_source.analytics.report import require_plotly, write_report
from cm_source.commands.load import DEFAULT_DATASET, PIPELINE_NAME, duckdb_file
from cm_source.failures import run_script
from cm_source.pipeline_folders import make_pipeline
from cm_source.read.destinations import destination_for


def parse_args(argv: Sequence[str] | None = None, prog: str = "cm-source report") -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demo", action="store_true", help="report on what `cm-source load --demo` loaded")
    parser.add_argument("--destination", default="duckdb", help="the dlt destination loaded into (default: duckdb)")
    parser.add_argument(
        "--dataset", default=DEFAULT_DATASET, help=f"the dataset (schema) loaded into (default: {DEFAULT_DATASET})"
    )
    parser.add_argument(
        "--output", metavar="PATH", help="the HTML file to write (default: <pipeline name>_report.html here)"
    )
    parser.add_argument(
        "--min-recipients",
        type=int,
        metavar="N",
        help="leave campaigns sent to fewer than N people out of the campaign charts (default 50)",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on failure")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    require_plotly()
    pipeline_name = f"{PIPELINE_NAME}_demo" if args.demo else PIPELINE_NAME
    destination = destination_for(args.destination, duckdb_file(pipeline_name, args.dataset))
    pipeline = make_pipeline(pipeline_name, destination=destination, dataset_name=args.dataset)
    output = Path(args.output or f"{pipeline_name}_report.html")
    print(write_report(pipeline, output, min_recipients=args.min_recipients))
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "cm-source report") -> int:
    args = parse_args(argv, prog)
    return run_script(lambda: run(args), debug=args.debug, failure_exit=1)
