"""dlt pipelines that processes started together can share: each is made, and each run, under a lock that
holds across processes.

dlt keeps a pipeline in a folder named after it (``<pipelines_dir>/<pipeline_name>``) and makes that folder
on first use with ``exist_ok=False``, wiping whatever it finds there without a state file. Two processes
making one name in one folder at once (a Dagster code location loaded by every run worker, two scheduled
scripts) fail each other: ``FileExistsError``, a state file gone missing, a schema storage left ``None``.
Making it under a file lock is the fix that needs nothing from dlt: whoever comes second finds a finished
folder and attaches to it.

A run holds a second lock for as long as it uses the folder (its load packages, dbt's ``target``), so two
runs of one pipeline take turns instead of extracting into, or dropping, each other's packages.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import get_dlt_pipelines_dir

from .process_locks import held
from .read.destinations import destination_type
from .read.load_place import database_of

logger = logging.getLogger(__name__)


def pipelines_dir_of(pipelines_dir: str | None) -> Path:
    """The folder dlt keeps pipelines in: the one given, else dlt's own (``DLT_DATA_DIR`` moves it)."""
    return Path(pipelines_dir or get_dlt_pipelines_dir())


def lock_of(pipelines_dir: Path, pipeline_name: str, purpose: str) -> Path:
    """A lock file beside the pipeline's folder (a file, so dlt never lists it as a pipeline)."""
    return pipelines_dir / f".{pipeline_name}.{purpose}.lock"


def make_pipeline(pipeline_name: str, pipelines_dir: str | None = None, **settings: Any) -> dlt.Pipeline:
    """``dlt.pipeline(pipeline_name=…, pipelines_dir=…, **settings)``, made by one process at a time, so
    processes that make the same pipeline at the same moment all get it."""
    folder = pipelines_dir_of(pipelines_dir)
    making = lock_of(folder, pipeline_name, "making")
    with held(making, f"waiting for another process making pipeline {pipeline_name}", logger.debug):
        return dlt.pipeline(pipeline_name=pipeline_name, pipelines_dir=str(folder), **settings)


def one_run_at_a_time(
    pipeline_name: str, pipelines_dir: str | None = None, say: Callable[[str], None] = logger.info
) -> contextlib.AbstractContextManager[None]:
    """Hold a pipeline's working folder for a run: make the pipeline inside this block. A second run of
    the same pipeline waits for the first (saying so once) rather than writing load packages, state or
    dbt files into the same folder, and then makes its pipeline from the state the first one left."""
    folder = pipelines_dir_of(pipelines_dir)
    waiting = f"another run of pipeline {pipeline_name} is using {folder / pipeline_name}: waiting for it to finish"
    return held(lock_of(folder, pipeline_name, "running"), waiting, say)


def one_writer_on_duckdb(
    pipeline: dlt.Pipeline, say: Callable[[str], None] = logger.info
) -> contextlib.AbstractContextManager[None]:
    """On DuckDB, which takes one writer per file at a time, wait for the run writing the file before
    this one (saying so once) instead of failing half-way on the file's lock. Elsewhere nothing."""
    if destination_type(pipeline.destination) != "duckdb":
        return contextlib.nullcontext()
    path = database_of(pipeline)
    return held(Path(f"{path}.lock"), f"DuckDB takes one writer at a time: waiting for the run writing {path}", say)
