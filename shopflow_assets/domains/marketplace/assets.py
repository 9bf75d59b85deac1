"""Dagster assets of the Olist lakehouse: thin wrappers over pipeline.py, with counts and checks as metadata.

Graph: olist_topic_offsets (freshness) -> bronze_<5 topics> (bounded streams) + bronze_<4 CSVs> ->
silver_<7 tables> (foreachBatch + MERGE, blocking checks) -> dbt gold (dbt tests as checks).
"""

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from shopflow_assets.contracts.marketplace import (
    BATCH_LOADED,
    SILVER_ORDER,
    STREAMED,
)
from shopflow_assets.domains.dbt import DbtResource, prepared_dbt_assets
from shopflow_assets.domains.marketplace import RETRY, bronze_key, key, silver_key
from shopflow_assets.domains.marketplace.checks import (
    bronze_check_result,
    bronze_check_specs,
    silver_check_results,
    silver_check_specs,
)
from shopflow_assets.domains.marketplace.gold import olist_dbt_env
from shopflow_assets.domains.marketplace.quarantine_ratio import quarantine_ratio_result
from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.source_files import SourceFilesResource
from shopflow_assets.resources.spark import SparkResource
from shopflow_assets.resources.warehouse import WarehouseResource

# pipeline.py imports Spark and Delta: the asset bodies import it when they run, not when the code location
# loads.
if TYPE_CHECKING:
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake


class MarketplaceRunConfig(dg.Config):
    """Empty in production. Tests set both to run the whole graph on isolated tables and topics."""

    namespace: str = ""  # tables under <bucket>/<namespace>/...
    topic_suffix: str = ""  # topics raw_*_<suffix>
    max_quarantine_share: float = 0.2  # a silver run quarantining more of its input fails there


def marketplace_lake(lake: LakeResource, config: MarketplaceRunConfig) -> "MarketplaceLake":
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake

    return MarketplaceLake(lake.get_lake().uri, config.namespace)


@dg.asset(key=key("olist_topic_offsets"), kinds={"kafka"}, retry_policy=RETRY)
def olist_topic_offsets(config: MarketplaceRunConfig, kafka: KafkaResource) -> dg.MaterializeResult:
    """Freshness gate: the five raw_* topics exist and hold messages (end offsets as metadata)."""
    suffix = f"_{config.topic_suffix}" if config.topic_suffix else ""
    offsets = {table.topic + suffix: kafka.end_offsets(table.topic + suffix) for table in STREAMED}
    empty = [topic for topic, ends in offsets.items() if sum(ends.values()) == 0]
    if empty:
        raise dg.Failure(f"no data in Kafka topics {empty}: run `shopflow produce olist` first")
    return dg.MaterializeResult(
        metadata={topic: sum(ends.values()) for topic, ends in offsets.items()}  # type: ignore[misc]
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            bronze_key(t),
            deps=[key("olist_topic_offsets")],
            kinds={"spark", "delta"},
            description=f"{t.topic} as sent (strings), appended by a bounded checkpointed stream",
        )
        for t in STREAMED
    ],
    check_specs=[spec for t in STREAMED for spec in bronze_check_specs(t)],
    retry_policy=RETRY,
)
def olist_bronze_streams(
    context: dg.AssetExecutionContext,
    config: MarketplaceRunConfig,
    spark: SparkResource,
    lake: LakeResource,
    kafka: KafkaResource,
):
    """Bounded (`availableNow`) Kafka -> bronze for the five topics; bad messages to the dead letters."""
    from shopflow_assets.domains.marketplace.pipeline import ingest_bronze

    session = spark.get_session()
    mlake = marketplace_lake(lake, config)
    counts = ingest_bronze(session, mlake, kafka.servers, topic_suffix=config.topic_suffix)
    for table in STREAMED:
        c = counts[table.name]
        yield dg.MaterializeResult(
            asset_key=bronze_key(table),
            metadata={
                "messages": c.messages,
                "rows": c.rows,
                "dead_letters": c.dead_letters,
                "dead_letter_reasons": c.reasons,
                "micro_batches": c.batches,
                "path": mlake.paths.bronze(table.name),
                "dead_letter_path": mlake.dead_letters(table),
            },
        )
        yield bronze_check_result(session, mlake.paths.bronze(table.name), table, c.null_ids)


class OlistCsvConfig(MarketplaceRunConfig):
    """Folder of the Olist CSVs (default: the source_files resource's olist_csv_dir)."""

    csv_dir: str = ""
    # Declared timestamp formats, {table or file name or "*": strptime format, e.g. "%d/%m/%Y %H:%M"}.
    # Without one, each timestamp column's day/month order is detected from all its values and an
    # ambiguous column fails the load naming the file and column (shopflow_assets.timestamp_formats).
    timestamp_formats: dict[str, str] = {}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            bronze_key(t),
            kinds={"spark", "delta"},
            description=f"{t.csv_name}.csv as sent (strings), replaced on each load",
        )
        for t in BATCH_LOADED
    ],
    check_specs=[spec for t in BATCH_LOADED for spec in bronze_check_specs(t)],
    retry_policy=RETRY,
)
def olist_bronze_batch(
    context: dg.AssetExecutionContext,
    config: OlistCsvConfig,
    spark: SparkResource,
    lake: LakeResource,
    source_files: SourceFilesResource,
):
    """Payments, reviews, geolocation and the category translation from their CSVs (not streamed)."""
    from shopflow_assets.domains.marketplace.pipeline import load_batch_bronze

    session = spark.get_session()
    mlake = marketplace_lake(lake, config)
    csv_dir = Path(config.csv_dir) if config.csv_dir else source_files.olist_csv_root()
    loads = load_batch_bronze(session, mlake, csv_dir, timestamp_formats=config.timestamp_formats)
    for table in BATCH_LOADED:
        load = loads[table.name]
        yield dg.MaterializeResult(
            asset_key=bronze_key(table),
            metadata={
                "rows": load.rows,
                # the same file as the last load (same SHA-256): bronze kept that load, nothing was read
                "unchanged_file_skipped": load.skipped,
                # records with too few / too many fields: quarantined with their line number and rule
                "quarantined_rows": load.quarantined,
                "quarantined_by_rule": load.malformed,
                "quarantine": mlake.malformed_rows(table),
                "source": str(csv_dir / f"{table.csv_name}.csv"),
            },
        )
        yield bronze_check_result(session, mlake.paths.bronze(table.name), table, load.null_ids)


SILVER_DEPS = {
    "customers": ["customers"],
    "products": ["products", "category_translation"],
    "sellers": ["sellers"],
    "orders": ["orders", "customers"],
    "order_items": ["order_items", "products", "sellers"],
    "order_payments": ["order_payments"],
    "order_reviews": ["order_reviews"],
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            silver_key(t),
            deps=[key(f"bronze_{d}") for d in SILVER_DEPS[t.name]],
            kinds={"spark", "delta"},
            description=f"silver_{t.name}: newest valid version per {', '.join(t.keys)} (MERGE), enriched",
        )
        for t in SILVER_ORDER
    ],
    check_specs=[spec for t in SILVER_ORDER for spec in silver_check_specs(t)],
    retry_policy=RETRY,
)
def olist_silver(
    context: dg.AssetExecutionContext, config: MarketplaceRunConfig, spark: SparkResource, lake: LakeResource
):
    """Bounded bronze -> silver, dimensions first (input = newest versions + superseded + quarantined)."""
    from shopflow_assets.domains.marketplace.pipeline import build_silver, read_delta

    session = spark.get_session()
    mlake = marketplace_lake(lake, config)
    results = build_silver(session, mlake)
    for table in SILVER_ORDER:
        counts = results[table.name]
        yield dg.MaterializeResult(
            asset_key=silver_key(table),
            metadata={
                **counts,
                "path": mlake.paths.silver(table.name),
                "quarantine_path": mlake.paths.quarantine(table.name),
            },
        )
        yield from silver_check_results(session, mlake.paths.silver(table.name), table)
        yield quarantine_ratio_result(
            silver_key(table),
            table,
            counts,
            read_delta(session, mlake.paths.quarantine(table.name)),
            read_delta(session, mlake.paths.bronze(table.name)),
            config.max_quarantine_share,
        )


# dagster-dbt's definition (translator, `tag:olist`) is in dbt_models.py: it imports dbt-core, so the code
# location loads these assets from the specs `shopflow dbt-prepare` wrote (domains/dbt.py).
@prepared_dbt_assets("olist_dbt_models", retry_policy=RETRY)
def olist_dbt_models(
    context: dg.AssetExecutionContext,
    config: MarketplaceRunConfig,
    olist_dbt: DbtResource,
    lake: LakeResource,
    warehouse: WarehouseResource,
):
    """`dbt build --select tag:olist`: staging views, intermediate, incremental gold, then their tests.

    dbt runs a model's tests right after it and skips what depends on a failed test, so a failing
    error-severity test blocks publication downstream.
    """
    root = marketplace_lake(lake, config).duckdb_lakehouse_root
    with warehouse.dbt_environment(extra=olist_dbt_env(root)):
        yield from olist_dbt.cli(["build"], context=context).stream()
