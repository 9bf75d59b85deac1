"""Dagster assets of the rainforest medallion: thin wrappers over pipeline.py, daily-partitioned.

Graph: bronze (one asset per source table) -> silver (facts, dims, bridges) -> gold (wide tables,
daily metrics, with the blocking publication checks) -> interface (the two report views).
A backfill of many days runs as ONE run over the whole range (single-run backfill policy): one Spark
session, one extraction window, one write per table.
"""

import datetime as dt
from typing import TYPE_CHECKING

import dagster as dg

from shopflow_assets.contracts.rainforest import (
    CHANGED_COLUMN,
    GOLD_TABLES,
    INTERFACE_SCHEMA,
    REPORTS,
    SILVER_TABLES,
    SOURCE_DATABASE,
    SOURCE_TABLES,
)
from shopflow_assets.domains.rainforest.checks import CHECKS, evaluate_gold_checks
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.resources.spark import SparkResource
from shopflow_assets.resources.warehouse import WarehouseResource

# pipeline.py (Spark, pyarrow) and publish.py (pyarrow) are imported by the asset bodies when they run, not
# when the code location loads.
if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from shopflow_assets.domains.rainforest.pipeline import RainforestLake

GROUP = "rainforest"
START_DATE = "2025-01-01"
PREVIEW_ROWS = 5

rainforest_daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")
SINGLE_RUN = dg.BackfillPolicy.single_run()
RETRY = dg.RetryPolicy(max_retries=1, delay=30)


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, name])


class RainforestRunConfig(dg.Config):
    """Empty in production. Tests set both to run the graph on isolated source tables and lake paths."""

    namespace: str = ""  # lake tables under lakehouse/<namespace>/rainforest/...
    source_schema: str = "public"  # PostgreSQL schema of the app tables in the rainforest database


def days(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of the run's partition range."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def rainforest_lake(lake: LakeResource, config: RainforestRunConfig) -> "RainforestLake":
    from shopflow_assets.domains.rainforest.pipeline import RainforestLake

    return RainforestLake(lake.get_lake().uri, config.namespace)


def preview(frame: "DataFrame") -> dg.MetadataValue:
    rows = frame.limit(PREVIEW_ROWS).collect()
    columns = frame.columns
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


SILVER_DEPS = {
    "fact_orders": ["orders"],
    "fact_order_items": ["order_items", "orders"],
    "fact_clickstream": ["clickstream"],
    "dim_buyer": ["buyer", "appuser"],
    "dim_seller": ["seller", "appuser"],
    "dim_category": ["category"],
    "dim_product": ["product", "brand", "manufacturer"],
    "product_x_category": ["product_category"],
    "seller_x_product": ["seller_product"],
}
GOLD_DEPS = {
    "wide_orders": ["fact_orders", "fact_order_items", "fact_clickstream", "dim_buyer"],
    "wide_order_items": [
        "fact_order_items",
        "fact_orders",
        "dim_product",
        "product_x_category",
        "dim_category",
        "dim_buyer",
        "dim_seller",
    ],
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key(f"bronze_{table}"),
            kinds={"postgres", "spark", "delta"},
            description=f"rainforest.{table}: every row changed that day ({CHANGED_COLUMN}), with _load_ts and _partition",
        )
        for table in SOURCE_TABLES
    ],
    partitions_def=rainforest_daily_partitions,
    backfill_policy=SINGLE_RUN,
    retry_policy=RETRY,
    name="rainforest_bronze",
)
def rainforest_bronze(
    context: dg.AssetExecutionContext,
    config: RainforestRunConfig,
    spark: SparkResource,
    lake: LakeResource,
    postgres_reader: PostgresResource,
):
    """Source -> bronze through the shared extraction component, with the read-only role."""
    from shopflow_assets.domains.rainforest import pipeline

    first, last = days(context)
    session = spark.get_session()
    rlake = rainforest_lake(lake, config)
    with postgres_reader.connect(database=SOURCE_DATABASE) as conn:
        rows = pipeline.extract_bronze(session, conn, rlake, first, last, schema=config.source_schema)
    for table in SOURCE_TABLES:
        yield dg.MaterializeResult(
            asset_key=key(f"bronze_{table}"),
            metadata={
                "rows_extracted": rows[table],
                "window": pipeline.days_window(first, last).describe(),
                "path": rlake.path("bronze", table),
            },
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key(name),
            deps=[key(f"bronze_{t}") for t in SILVER_DEPS[name]],
            kinds={"spark", "delta"},
            description=(
                f"{name}: the day's rows, newest version per key (replaces the day)"
                if name.startswith("fact_")
                else f"{name}: newest version of every row over all bronze (type 1)"
            ),
        )
        for name in SILVER_TABLES
    ],
    partitions_def=rainforest_daily_partitions,
    backfill_policy=SINGLE_RUN,
    retry_policy=RETRY,
    name="rainforest_silver",
)
def rainforest_silver(
    context: dg.AssetExecutionContext, config: RainforestRunConfig, spark: SparkResource, lake: LakeResource
):
    from shopflow_assets.domains.rainforest import pipeline

    first, last = days(context)
    session = spark.get_session()
    rlake = rainforest_lake(lake, config)
    rows = pipeline.build_silver(session, rlake, first, last)
    for name in SILVER_TABLES:
        yield dg.MaterializeResult(
            asset_key=key(name), metadata={"rows": rows[name], "path": rlake.path("silver", name)}
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key(name),
            deps=[key(d) for d in GOLD_DEPS.get(name, [])]
            + ([key("wide_order_items")] if name == "daily_category_metrics" else [])
            + ([key("wide_orders")] if name == "daily_order_metrics" else []),
            kinds={"spark", "delta"},
        )
        for name in GOLD_TABLES
    ],
    check_specs=[
        dg.AssetCheckSpec(c.name, asset=key(c.asset), blocking=True, description=c.description)
        for c in CHECKS
    ],
    partitions_def=rainforest_daily_partitions,
    backfill_policy=SINGLE_RUN,
    retry_policy=RETRY,
    name="rainforest_gold",
)
def rainforest_gold(
    context: dg.AssetExecutionContext, config: RainforestRunConfig, spark: SparkResource, lake: LakeResource
):
    """Wide tables and daily metrics for the run's days, then the checks that gate publication."""
    from shopflow_assets.domains.rainforest import pipeline

    first, last = days(context)
    session = spark.get_session()
    rlake = rainforest_lake(lake, config)
    rows = pipeline.build_gold(session, rlake, first, last)
    for name in GOLD_TABLES:
        yield dg.MaterializeResult(
            asset_key=key(name),
            metadata={
                "rows": rows[name],
                "path": rlake.path("gold", name),
                "preview": preview(pipeline.gold_days(session, rlake, name, first, last)),
            },
        )
    for result in evaluate_gold_checks(session, rlake, first, last, key):
        if not result.passed:
            context.log.error(result.description)
        yield result


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key(view),
            deps=[key(name) for name in GOLD_TABLES],
            kinds={"duckdb"},
            description=f"view {INTERFACE_SCHEMA}.{view} in the warehouse (published only when every gold check passes)",
        )
        for view in REPORTS
    ],
    partitions_def=rainforest_daily_partitions,
    backfill_policy=SINGLE_RUN,
    retry_policy=RETRY,
    name="rainforest_interface",
)
def rainforest_interface(
    context: dg.AssetExecutionContext,
    config: RainforestRunConfig,
    spark: SparkResource,
    lake: LakeResource,
    warehouse: WarehouseResource,
):
    """Publish the days' gold metrics into the warehouse tables behind the two report views."""
    from shopflow_assets.domains.rainforest import pipeline
    from shopflow_assets.domains.rainforest.publish import publish_reports

    first, last = days(context)
    session = spark.get_session()
    rlake = rainforest_lake(lake, config)
    reports = {
        view: pipeline.gold_days(session, rlake, report.gold, first, last).toArrow()
        for view, report in REPORTS.items()
    }
    with warehouse.connect() as con:
        rows = publish_reports(con, reports, first, last)
    for view in REPORTS:
        yield dg.MaterializeResult(
            asset_key=key(view),
            metadata={
                "rows_published": rows[view],
                "view": f"{INTERFACE_SCHEMA}.{view}",
                "days": f"{first}..{last}",
            },
        )
