"""The click stream's bounded job and the Kafka sensor that starts it when clicks_topic holds new records."""

from __future__ import annotations

import dagster as dg

from shopflow_assets.automation import SOURCE_LAG_RUN_PRIORITY
from shopflow_assets.contracts import clickstream as contract
from shopflow_assets.domains.clickstream.assets import fact_page_views
from shopflow_assets.domains.freshness import source_lag_freshness, without_freshness_checks
from shopflow_assets.domains.kafka_sensors import RUN_RETRIES, build_kafka_lag_sensor

page_views_job = dg.define_asset_job(
    "page_views_stream",
    selection=without_freshness_checks(dg.AssetSelection.assets(fact_page_views), [fact_page_views.key]),
    description="Bounded (availableNow) run of the page-view queries over what clicks_topic holds now.",
    tags={"dagster/max_runtime": 3600, **RUN_RETRIES, **SOURCE_LAG_RUN_PRIORITY},
)

clicks_topic_sensor = build_kafka_lag_sensor(
    name="clicks_topic_sensor",
    job_name="page_views_stream",
    topic=lambda: contract.CLICKS_TOPIC,
    checkpoint_keys=lambda streaming: {
        "page_views": streaming.checkpoint_key(contract.PAGE_VIEWS_CHECKPOINT),
        "dead_letter": streaming.checkpoint_key(contract.CLICKS_DEAD_LETTER_CHECKPOINT),
    },
    caught_up_assets=[fact_page_views.key],
)

# Within 5 minutes of the clicks while they arrive: the last update is the newest run or, while the topic
# has nothing uncommitted, clicks_topic_sensor's caught-up observation (a quiet topic is not stale).
page_views_freshness_checks, page_views_freshness_sensor = source_lag_freshness(
    "page_views_freshness_sensor", [fact_page_views.key]
)
