"""Dagster assets of the click stream: `fact_page_views` materialized by a bounded streaming run.

The asset is thin: it runs the page-view queries with `trigger(availableNow=True)` (everything in
clicks_topic the checkpoint has not committed, then stop) and reports the run's accounting as
metadata and checks. The same queries run continuously with `shopflow stream page-views`.
Group and owners are applied to the whole domain in definitions.py.
"""

import dagster as dg

from shopflow_assets.contracts import clickstream as contract
from shopflow_assets.domains.clickstream.checks import page_view_check_results, page_view_check_specs
from shopflow_assets.domains.clickstream.pipeline import PageViewsConfig, run_page_views
from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.spark import SparkResource
from shopflow_assets.resources.streaming.resource import (
    BoundedStreamRunConfig,
    SparkStreamingResource,
    run_bounded_from_asset,
)

PREFIX = "clickstream"
FACT_PAGE_VIEWS_KEY = dg.AssetKey([PREFIX, contract.FACT_PAGE_VIEWS])

clicks_topic = dg.AssetSpec(
    key=dg.AssetKey([PREFIX, contract.CLICKS_TOPIC]),
    description="Kafka topic of click events: JSON {event_id, user_id, url, timestamp, action}.",
    kinds={"kafka"},
)


class PageViewsRunConfig(BoundedStreamRunConfig):
    watermark: str = contract.DEFAULT_WATERMARK


@dg.asset(
    key=FACT_PAGE_VIEWS_KEY,
    deps=[clicks_topic],
    kinds={"spark", "delta", "duckdb"},
    description=(
        "Page views per 1-minute tumbling window and url (views, unique_users) from clicks_topic: Delta "
        "at lakehouse/fact_page_views, mirrored to the warehouse table fact_page_views. Late events inside "
        "the watermark update their window; later ones are dropped and counted."
    ),
    check_specs=page_view_check_specs(FACT_PAGE_VIEWS_KEY),
    metadata={"table_keys": list(contract.FACT_PAGE_VIEWS_KEYS)},
)
def fact_page_views(
    context: dg.AssetExecutionContext,
    config: PageViewsRunConfig,
    spark: SparkResource,
    lake: LakeResource,
    kafka: KafkaResource,
    streaming: SparkStreamingResource,
) -> dg.MaterializeResult:
    run_config = PageViewsConfig(
        watermark=config.watermark, max_offsets_per_trigger=config.max_offsets_per_trigger
    ).isolated(config.key_prefix, config.topic)
    run = run_bounded_from_asset(
        context, run_page_views, run_config, spark=spark, lake=lake, kafka=kafka, streaming=streaming
    )
    metadata = {
        **run.metadata(),
        "delta_table": run.lake.uri("lakehouse", run_config.table_key),
        "warehouse_table": run_config.warehouse_table,
    }
    return dg.MaterializeResult(metadata=metadata, check_results=page_view_check_results(run.summary))
