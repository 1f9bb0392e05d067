"""Load a Campaign Monitor account (or, with --demo, the built-in sandbox) into DuckDB or any dlt destination.

The same as ``cm-source load``, kept here because dlt users look for a pipeline script in pipelines/:

    python pipelines/campaign_monitor_pipeline.py --help
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing it

from cm_source.commands import main  # noqa: E402 (sets Arrow's memory pool before anything imports pyarrow)

if __name__ == "__main__":
    sys.exit(main(["load", *sys.argv[1:]]))
