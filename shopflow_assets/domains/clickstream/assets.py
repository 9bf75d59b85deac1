"""Dagster assets of the click stream: `fact_page_views` materialized by a bounded streaming run.

The asset runs the page-view queries with `trigger(availableNow=True)` (everything in clicks_topic the
checkpoint has not committed, then stop) and reports the run's accounting as metadata and checks; the
streaming library builds it from this declaration. The same queries run continuously with
`shopflow stream page-views`. Group and owners are applied to the whole domain in definitions.py.
"""

from typing import TYPE_CHECKING, Any

import dagster as dg

from shopflow_assets.contracts import clickstream as contract
from shopflow_assets.domains.clickstream.checks import PAGE_VIEW_CHECKS
from shopflow_assets.resources.streaming.asset import BoundedStreamAsset, kafka_topic_spec
from shopflow_assets.resources.streaming.resource import BoundedStreamRunConfig

if TYPE_CHECKING:
    from shopflow_assets.domains.clickstream.pipeline import PageViewsConfig

PREFIX = "clickstream"
FACT_PAGE_VIEWS_KEY = dg.AssetKey([PREFIX, contract.FACT_PAGE_VIEWS])

clicks_topic = kafka_topic_spec(
    PREFIX,
    contract.CLICKS_TOPIC,
    "Kafka topic of click events: JSON {event_id, user_id, url, timestamp, action}.",
)


class PageViewsRunConfig(BoundedStreamRunConfig):
    watermark: str = contract.DEFAULT_WATERMARK

    def flow_config(self) -> "PageViewsConfig":
        from shopflow_assets.domains.clickstream.pipeline import PageViewsConfig

        return PageViewsConfig(watermark=self.watermark)


def run_page_views(*args: Any, **kwargs: Any) -> Any:
    """The pipeline's `run_page_views`, imported when a run starts: the pipeline imports Spark, which the
    code location does not need to load."""
    from shopflow_assets.domains.clickstream.pipeline import run_page_views as flow

    return flow(*args, **kwargs)


fact_page_views = BoundedStreamAsset(
    key=FACT_PAGE_VIEWS_KEY,
    topic=clicks_topic,
    description=(
        "Page views per 1-minute tumbling window and url (views, unique_users) from clicks_topic: Delta "
        "at lakehouse/fact_page_views, mirrored to the warehouse table fact_page_views. Late events inside "
        "the watermark update their window; later ones are dropped and counted."
    ),
    kinds={"spark", "delta", "duckdb"},
    metadata={"table_keys": list(contract.FACT_PAGE_VIEWS_KEYS)},
    run_config_type=PageViewsRunConfig,
    flow=run_page_views,
    checks=PAGE_VIEW_CHECKS,
    output_metadata=lambda run: {
        "delta_table": run.lake.uri("lakehouse", run.flow.table_key),
        "warehouse_table": run.flow.warehouse_table,
    },
).build()
