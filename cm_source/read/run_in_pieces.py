"""An incremental sync run to the end, piece after piece, each piece a run of the pipeline that ends in a
load (see ``pieces``). The command's ``--incremental``, the Dagster assets and the Python call all use it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dlt
from dlt.extract.source import DltSource

from .dataset import prepare_dataset
from .incremental_state import IncrementalState
from .pieces import pass_summary
from .source import campaign_monitor_source

logger = logging.getLogger(__name__)


def run_in_pieces(
    pipeline: dlt.Pipeline,
    make_source: Callable[[], DltSource] | None = None,
    *,
    run: Callable[[DltSource], Any] | None = None,
    say: Callable[[str], None] | None = None,
    **run_options: Any,
) -> list[Any]:
    """Run an incremental source on ``pipeline`` until its pass is complete, and return each piece's result.

    ``make_source`` makes the source afresh for every piece (a source is read once); by default
    ``campaign_monitor_source(incremental=True)``, its settings from ``[sources.campaign_monitor]``, among
    them ``checkpoint_minutes``, a piece's length. ``run`` runs one piece (by default
    ``pipeline.run(source, **run_options)``; Dagster's resource runs it there). The dataset is created
    first, so a destination that refuses fails before anything is read; what an earlier run read and did
    not load is loaded next. Cut off, the next call goes on from the last piece loaded, on this
    machine or, with the pipeline's folder gone, from the state dlt restores from the destination.
    """
    make = make_source or (lambda: campaign_monitor_source(incremental=True))
    say = say or logger.info
    results: list[Any] = []
    prepare_dataset(pipeline)
    if pipeline.has_pending_data:
        say("Incremental: loading what an earlier run read and did not load, before reading on")
        pipeline.run()  # dlt loads only the pending packages, with the state they carry
    while True:
        source = make()
        results.append(run(source) if run is not None else pipeline.run(source, **run_options))
        run_options.pop("refresh", None)  # tables and state are dropped before the first piece only
        pass_ = IncrementalState.of_pipeline(pipeline).pass_
        if pass_.pieces:
            say(pass_summary(pass_))
        if not pass_.cut:
            return results
