"""The analytics models: the dbt project in ``dbt/`` (campaign performance, audiences, list growth), built
after a load into ``<dataset>_analytics`` with dlt's own dbt runner on this virtualenv.

The project ships inside the package so ``pip install "cm-source[dbt]"`` has it and nothing is
downloaded at run time: it has no dbt dependencies, and DuckDB runs on a profile of its own
(``dbt/profiles``) because dlt's loads httpfs and iceberg, which DuckDB fetches from the network.
Every other destination uses dlt's profile for it, fed with the pipeline's credentials.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import yaml

from ..errors import CampaignMonitorError
from ..pipeline_folders import lock_of, one_writer_on_duckdb
from ..process_locks import held
from ..read.load_place import describe, place_of

logger = logging.getLogger(__name__)
PROJECT = Path(__file__).parent / "dbt"
_EVENTS = ("campaign_opens", "campaign_clicks", "campaign_bounces", "campaign_unsubscribes", "campaign_spam_complaints")
_SUBSCRIBERS = (
    "active_subscribers",
    "unconfirmed_subscribers",
    "unsubscribed_subscribers",
    "bounced_subscribers",
    "deleted_subscribers",
)
# Each model and the loaded tables it reads (through its staging and intermediate models): an orchestrator's lineage.
MODEL_SOURCES: dict[str, tuple[str, ...]] = {
    "cm__campaign_events": ("campaigns", *_EVENTS),
    "cm__campaign_recipients": (*_EVENTS, "campaign_recipients"),
    "cm__campaigns": ("campaigns", *_EVENTS, "campaign_recipients", "campaign_summaries"),
    "cm__campaign_links": _EVENTS,
    "cm__subscribers": (*_SUBSCRIBERS, *_EVENTS, "suppression_list", "campaign_recipients"),
    "cm__list_daily": (*_SUBSCRIBERS, "clients"),
    "cm__lists": (*_SUBSCRIBERS, "lists", "list_stats"),
    "cm__marketing_campaigns_standardized": ("campaigns", *_EVENTS, "campaign_recipients", "campaign_summaries"),
    "cm__journey_emails": (
        "journeys",
        "journey_emails",
        "journey_email_recipients",
        "journey_email_opens",
        "journey_email_clicks",
        "journey_email_bounces",
        "journey_email_unsubscribes",
    ),
}
MODELS: tuple[str, ...] = tuple(MODEL_SOURCES)
DBT_MISSING = 'the models need dbt: pip install "cm-source[dbt]"'


@dataclass
class ModelsBuilt:
    """What a build made: the dataset, each model built, and the checks that warned."""

    dataset: str
    models: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def analytics_dataset(dataset_name: str) -> str:
    """Where the models go: beside the loaded dataset, never in it, so a full refresh of the source
    (which drops its tables) leaves them alone and they never shadow a loaded table."""
    return f"{dataset_name}_analytics"


def build_models(pipeline: dlt.Pipeline, *, full_refresh: bool = False, datasets: Sequence[str] = ()) -> ModelsBuilt:
    """Build every model from what ``pipeline`` loaded, then run the models' checks.

    With ``datasets`` (several accounts, each loaded into a dataset of its own on the same destination),
    the models union all of them, each row's ``source_relation`` naming its dataset (the dbt var
    ``cm_source_datasets``, as Fivetran's ``union_schemas``); they are built beside ``pipeline``'s dataset.

    A model whose source is loaded incrementally is rebuilt only where its rows changed, unless
    ``full_refresh``. A check that fails at error severity (a key not unique, recipients that differ
    from the API's) raises; one at warn severity (the summary against the events) is returned.
    """
    folder = Path(pipeline.pipelines_dir)
    waiting = f"another build of the models is using {pipeline.working_dir}: waiting for it to finish"
    with held(lock_of(folder, pipeline.pipeline_name, "models"), waiting, logger.info), one_writer_on_duckdb(pipeline):
        return _build(pipeline, full_refresh, list(datasets))


def _build(pipeline: dlt.Pipeline, full_refresh: bool, datasets: list[str]) -> ModelsBuilt:
    """``build_models`` once this process has the pipeline's dbt project (its ``target``) and, on DuckDB,
    the file to itself."""
    runner = _runner(pipeline)
    _require_loaded_datasets(pipeline, datasets)
    dataset = analytics_dataset(pipeline.dataset_name)
    variables: dict[str, Any] = {"cm_journeys": bool(datasets) or _has_journeys(pipeline)}
    if datasets:
        variables["cm_source_datasets"] = datasets
    from dlt.helpers.dbt.exceptions import DBTProcessingError, IncrementalSchemaOutOfSyncError

    # No --fail-fast: with two threads on DuckDB, dbt closed the connection under the other thread's check
    # and answered with no results, so the failure could not be named (one run in five under load).
    try:
        try:
            results = _dbt_build(runner, ["--full-refresh"] if full_refresh else [], variables, dataset)
        except IncrementalSchemaOutOfSyncError:  # a model's columns changed with an upgrade: rebuild, as dlt does
            results = _dbt_build(runner, ["--full-refresh"], variables, dataset)
    except DBTProcessingError as failure:
        raise CampaignMonitorError(_failure_line(failure, dataset)) from None
    return ModelsBuilt(
        dataset=dataset,
        models=[result.model_name for result in results if result.model_name in MODEL_SOURCES],
        warnings=[f"{result.model_name}: {result.message}" for result in results if result.status == "warn"],
    )


def _dbt_build(runner: Any, params: list[str], variables: dict[str, Any], dataset: str) -> Sequence[Any]:
    """``dbt build``: the seed, the models and their checks in one dbt process, each check right after its
    model. dlt's ``run_all`` then ``test`` start four (deps, seed, run, test), each parsing the project
    again; the runner's command call is private in dlt, which is pinned."""
    return runner._run_dbt_command("build", params, runner._get_package_vars(variables, dataset))  # noqa: SLF001


def require_dbt() -> None:
    """Refuse before anything is read when dbt is not installed: the models come after the load."""
    if importlib.util.find_spec("dbt") is None or importlib.util.find_spec("dbt.adapters") is None:
        raise CampaignMonitorError(DBT_MISSING)


def _runner(pipeline: dlt.Pipeline) -> Any:
    """dlt's runner for a copy of the project in the pipeline's working folder: dbt writes its
    ``target`` and logs beside the project, which an installed package may not allow and which
    pipelines running side by side must not share."""
    require_dbt()
    from dlt.common.destination.exceptions import DatasetNotAvailable
    from dlt.common.runners import Venv

    project = project_copy(Path(pipeline.working_dir))
    try:
        runner = dlt.dbt.package(pipeline, str(project), venv=_this_python(Venv))
    except DatasetNotAvailable:
        runner = None
    if runner is None or not _has_profile(runner):
        raise CampaignMonitorError(
            f"the models need a SQL destination, and {pipeline.destination.destination_name} is not one:"
            " load into DuckDB, Postgres or another warehouse"
        )
    if runner.config.package_profile_name == "duckdb":
        runner.config.package_profiles_dir = str(project / "profiles")
    return runner


def project_copy(working_dir: Path) -> Path:
    """The dbt project copied into a pipeline's working folder, as this version ships it: the copy's own
    folders are replaced, so a model an upgrade removed is not built again; dbt's ``target/`` (its
    partial parse) stays."""
    project = working_dir / "campaign_monitor_models"
    for part in PROJECT.iterdir():
        if part.is_dir():
            shutil.rmtree(project / part.name, ignore_errors=True)
    shutil.copytree(PROJECT, project, dirs_exist_ok=True)
    return project


def _has_profile(runner: Any) -> bool:
    """Whether dlt has a dbt profile for the destination (a warehouse dbt can reach): a filesystem
    bucket, for one, has none."""
    profiles = Path(runner.config.package_profiles_dir) / "profiles.yml"
    return runner.config.package_profile_name in yaml.safe_load(profiles.read_text(encoding="utf-8"))


def _require_loaded_datasets(pipeline: dlt.Pipeline, datasets: Sequence[str]) -> None:
    """Refuse to build over a dataset that does not exist (the pipeline's, or any of ``datasets``): its
    models' rows would be missing, silently. The destination is asked, not the pipeline's local state,
    so a pipeline of another name (a Dagster partition's, an orchestrator's worker) builds over what any
    of them loaded."""
    for name in datasets or [pipeline.dataset_name]:
        with pipeline.sql_client() as client, client.with_alternative_dataset_name(name) as asking:
            if asking.has_dataset():
                continue
        raise CampaignMonitorError(
            f"dataset {name} does not exist in {describe(place_of(pipeline) or {})}:"
            " load it first (pipeline.run(campaign_monitor_source())), then build the models"
        )


def _this_python(venv: Any) -> Any:
    """The running interpreter's environment for dbt. dlt's ``Venv.restore_current()`` finds it only
    through ``VIRTUAL_ENV``, so a virtualenv's Python run by its path (cron, Dagster) would start the
    system's ``python``, which has no dbt."""
    return venv.restore(sys.prefix, current=True)


def _has_journeys(pipeline: dlt.Pipeline) -> bool:
    """Whether the load holds journey emails; without them the journey models are switched off. A
    pipeline that knows no schema (another name than the loading one) builds them: over tables that do
    not exist they come out empty."""
    if not pipeline.default_schema_name:
        return True
    return "journey_emails" in pipeline.default_schema.data_table_names(seen_data_only=True)


def _failure_line(failure: Exception, dataset: str) -> str:
    """One line naming the model or check that failed and dbt's reason."""
    results: Sequence[Any] = getattr(failure, "run_results", None) or []
    failed = [result for result in results if result.status in ("error", "fail")]
    if failed:
        first = failed[0]
        reason = " ".join(str(first.message).split())
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"building the models into {dataset} failed at {first.model_name}: {reason}{more}"
    return f"building the models into {dataset} failed: {' '.join(str(failure).split())}"
