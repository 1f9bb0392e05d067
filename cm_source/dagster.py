"""Dagster assets for the source: one asset per table, and with an agency key one partition per client.

Needs the ``dagster`` extra (``pip install "cm-source[dagster]"``), which pins ``dagster`` and
``dagster-dlt`` as a pair that resolves. Built on ``dagster-dlt``'s ``@dlt_assets``; each partition
runs under a dlt pipeline of its own (``<pipeline_name>_<client_id>``), because partitions run side by
side under one pipeline name race on its state (dagster-dlt's issue 21022). All partitions load one
dataset: a table a full refresh would replace is instead replaced for the partition's client only
(dlt's ``delete-insert`` merge on ``client_id``, which every table of a client has), so partitions never
remove each other's rows; tables an incremental run merges by key are left as they are.
"""

# No "from __future__ import annotations": Dagster reads the asset function's annotations as types.

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dlt
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    StaticPartitionsDefinition,
    multi_asset,
)
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from .account_access import api_from_settings
from .analytics import MODEL_SOURCES, analytics_dataset, build_models
from .pipeline_folders import make_pipeline, one_run_at_a_time, one_writer_on_duckdb
from .read import campaign_monitor_source
from .read.catalogue import ENDPOINTS_BY_TABLE, carries_client_id
from .read.destinations import destination_for, destination_type
from .read.run_in_pieces import run_in_pieces

DEFAULT_GROUP = "campaign_monitor"
PARTITION_DISPOSITION = {"disposition": "merge", "strategy": "delete-insert"}

__all__ = [
    "DagsterDltResource",
    "Warehouse",
    "campaign_monitor_assets",
    "campaign_monitor_models",
    "client_ids_of",
    "key_pool",
]


class CampaignMonitorTranslator(DagsterDltTranslator):
    """Asset keys ``[group, table]`` in one group, with each table's primary key in its metadata."""

    def __init__(self, group: str) -> None:
        self.group = group

    def get_asset_spec(self, data: DltResourceTranslatorData) -> Any:
        spec = super().get_asset_spec(data)
        endpoint = ENDPOINTS_BY_TABLE.get(data.resource.name)
        key = list(endpoint.primary_key) if endpoint is not None else []
        return spec.replace_attributes(
            key=AssetKey([self.group, data.resource.name]),
            group_name=self.group,
            deps=[],  # the source's tables are read side by side, not from each other's assets
            metadata={**spec.metadata, "primary_key": key, "merge_key_in_partitions": "client_id"},
        )


def client_ids_of(api_key: str | None = None, base_url: str | None = None) -> list[str]:
    """Every client the key can see (``clients.json``): the partitions, when none are configured."""
    api = api_from_settings(api_key, base_url)
    return [str(row["ClientID"]) for row in api.get_array("clients.json")]


def partition_safe(source: Any) -> Any:
    """Each full-refresh table replaced for this run's client only (see the module's docstring); a table
    of the account itself (its administrators) has no client to keep apart, and every partition replaces
    it with the same rows."""
    for resource in source.selected_resources.values():
        if resource.write_disposition == "replace" and carries_client_id(ENDPOINTS_BY_TABLE[resource.name]):
            resource.apply_hints(write_disposition=PARTITION_DISPOSITION, merge_key="client_id")
    return source


@dataclass(frozen=True)
class Warehouse:
    """Where the assets load, shared by the tables' assets and the models': a dlt destination or its name
    (configured the dlt way), the dataset, the pipelines' names (a partition's is
    ``<pipeline_name>_<client_id>``) and folder, and for DuckDB the one file every pipeline of the job
    loads."""

    destination: Any = "duckdb"
    dataset_name: str = "campaign_monitor_data"
    pipeline_name: str = "campaign_monitor"
    pipelines_dir: str | None = None
    duckdb_path: str = "campaign_monitor.duckdb"

    def pipeline(self, name: str) -> dlt.Pipeline:
        """The pipeline ``name`` into this warehouse, made by one process at a time (``make_pipeline``)."""
        destination = self.destination
        if isinstance(destination, str):
            destination = destination_for(destination, self.duckdb_path)
        return make_pipeline(name, self.pipelines_dir, destination=destination, dataset_name=self.dataset_name)

    def pipeline_name_for(self, client_id: str | None) -> str:
        return f"{self.pipeline_name}_{client_id}" if client_id else self.pipeline_name


def campaign_monitor_assets(
    *,
    warehouse: Warehouse = Warehouse(),
    client_ids: Sequence[str] | None = None,
    partitioned: bool = True,
    tables: Sequence[str] | None = None,
    group_name: str = DEFAULT_GROUP,
    pool: str | None = None,
    **source_settings: Any,
) -> AssetsDefinition:
    """The source's tables as Dagster assets, materialised with ``DagsterDltResource`` (as ``dlt``).

    ``partitioned`` gives one static partition per client: ``client_ids``, or every client the key
    sees when the definitions load. ``source_settings`` are ``campaign_monitor_source``'s
    (``read.settings.ReadSettings``: ``api_key``, ``incremental``, ``reports_sent_after``, …); those not
    given come from its configuration, as for the plain call. An incremental partition loads in pieces of
    ``checkpoint_minutes`` until its pass is complete, so a run the orchestrator cuts off keeps every piece
    it loaded, and the next run goes on from there.

    Partitions may run side by side, each in its own process (see docs/agency.md):
    - they run in the Dagster concurrency pool ``pool``, by default one per API key
      (``key_pool``), whose limit (set in the Dagster instance) is how many clients of one key read
      at once; they share the key's rate budget through the API's rate headers;
    - on Postgres, partitions take turns only for dlt's load step, which creates and alters tables;
    - on DuckDB, which takes one writer at a time, a partition waits for the one before it.
    """
    api_key, base_url = source_settings.get("api_key"), source_settings.get("base_url")
    partitions = None
    if partitioned:
        partitions = StaticPartitionsDefinition(list(client_ids) if client_ids else client_ids_of(api_key, base_url))

    def source_for(client_id: str | None) -> Any:
        source = campaign_monitor_source(**{**source_settings, "client_id": client_id})
        source = source.with_resources(*tables) if tables else source
        return partition_safe(source) if client_id else source

    def pipeline_for(client_id: str | None) -> dlt.Pipeline:
        return warehouse.pipeline(warehouse.pipeline_name_for(client_id))

    @dlt_assets(
        dlt_source=source_for(None),
        dlt_pipeline=pipeline_for(None),  # every run worker makes it at once: make_pipeline takes turns
        name=group_name,
        dagster_dlt_translator=CampaignMonitorTranslator(group_name),
        partitions_def=partitions,
        pool=pool or key_pool(api_key, base_url),
    )
    def assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Any:
        client_id = context.partition_key if partitions is not None else None
        with one_run_at_a_time(warehouse.pipeline_name_for(client_id), warehouse.pipelines_dir, say=context.log.info):
            # made before the source: the source takes its file format from the pipeline made last
            pipeline = loads_one_at_a_time(pipeline_for(client_id))
            with one_writer_on_duckdb(pipeline, say=context.log.info):
                # an incremental partition runs piece after piece (run_in_pieces); its assets are
                # materialised by the last, which completes the pass
                pieces = run_in_pieces(
                    pipeline,
                    lambda: source_for(client_id),
                    run=lambda source: list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline)),
                    say=context.log.info,
                )
                yield from pieces[-1]

    return assets


def key_pool(api_key: str | None = None, base_url: str | None = None) -> str:
    """The Dagster concurrency pool of one API key: ``campaign_monitor_`` and a digest of the key (never
    the key itself), so every partition, asset or job using that key shares its limit."""
    key = (
        api_key
        or dlt.secrets.get("sources.campaign_monitor.api_key")
        or dlt.secrets.get("sources.campaign_monitor.refresh_token")
        or base_url
        or "default"
    )
    return f"campaign_monitor_{hashlib.sha256(str(key).encode('utf-8')).hexdigest()[:12]}"


def loads_one_at_a_time(pipeline: dlt.Pipeline) -> dlt.Pipeline:
    """The pipeline with its load step taking turns with every other pipeline loading the same Postgres
    dataset. dlt's load step creates and alters the tables first, and two pipelines doing that at once
    fail ("dlt cannot update tables"). The lock is Postgres's advisory lock, held on a connection of its
    own; extracting and normalising, the long part, still run side by side."""
    if destination_type(pipeline.destination) != "postgres":
        return pipeline
    load = pipeline.load

    def load_in_turn(*args: Any, **kwargs: Any) -> Any:
        with pipeline.sql_client() as client:
            lock = int(hashlib.sha256(pipeline.dataset_name.encode("utf-8")).hexdigest()[:15], 16)
            client.execute_sql("SELECT pg_advisory_lock(%s)", lock)
            try:
                return load(*args, **kwargs)
            finally:
                client.execute_sql("SELECT pg_advisory_unlock(%s)", lock)

    pipeline.load = load_in_turn  # type: ignore[method-assign]  # what pipeline.run calls for its load step
    return pipeline


def campaign_monitor_models(*, warehouse: Warehouse = Warehouse(), group_name: str = DEFAULT_GROUP) -> AssetsDefinition:
    """The analytics models (``cm_source.analytics``) as assets downstream of the tables they read, built
    together in one dbt run into ``<dataset_name>_analytics``. Give it the ``warehouse`` given to
    ``campaign_monitor_assets``; it reads what every partition loaded. Needs the ``dbt`` extra."""
    specs = [
        AssetSpec(
            key=AssetKey([group_name, model]),
            group_name=group_name,
            deps=[AssetKey([group_name, table]) for table in tables],
        )
        for model, tables in MODEL_SOURCES.items()
    ]

    @multi_asset(specs=specs, name=f"{group_name}_models")
    def models(context: AssetExecutionContext) -> Any:
        # build_models takes turns with any other build of this pipeline, and waits for DuckDB's one writer
        built = build_models(warehouse.pipeline(f"{warehouse.pipeline_name}_models"))
        for warning in built.warnings:
            context.log.warning(warning)
        for model in MODEL_SOURCES:
            yield MaterializeResult(
                asset_key=AssetKey([group_name, model]),
                metadata={"dataset": analytics_dataset(warehouse.dataset_name), "built": model in built.models},
            )

    return models
