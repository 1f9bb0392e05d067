"""Write people into a Campaign Monitor list (upsert, mirror, unsubscribe, delete) or a client's suppression list.

The same as ``cm-source push``, kept here because dlt users look for a pipeline script in pipelines/:

    python pipelines/upsert_subscribers_pipeline.py --help
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing it

from cm_source.commands import main  # noqa: E402 (sets Arrow's memory pool before anything imports pyarrow)

if __name__ == "__main__":
    sys.exit(main(["push", *sys.argv[1:]]))
