"""The Olist marketplace lakehouse as one Definitions object; shopflow_assets/definitions.py merges it.

Resources it needs from build_resources(): spark, lake, warehouse, kafka. Its own: the dbt CLI resource
(`olist_dbt`, configured like the shop's `dbt`).
"""

from __future__ import annotations

import dagster as dg

from shopflow_assets.domains.dbt import dbt_resource
from shopflow_assets.domains.marketplace import PREFIX
from shopflow_assets.domains.marketplace.assets import (
    olist_bronze_batch,
    olist_bronze_streams,
    olist_dbt_models,
    olist_silver,
    olist_topic_offsets,
)
from shopflow_assets.domains.marketplace.automation import (
    olist_bronze_silver,
    olist_daily_schedule,
    olist_gold_freshness_checks,
    olist_gold_freshness_sensor,
    olist_kafka_sensor,
    olist_pipeline,
    olist_success_notification,
)
from shopflow_assets.domains.marketplace.checks import olist_gold_fresh
from shopflow_assets.domains.skeleton import domain_specs

defs = domain_specs(
    dg.Definitions(
        assets=[
            olist_topic_offsets,
            olist_bronze_streams,
            olist_bronze_batch,
            olist_silver,
            olist_dbt_models,
        ],
        asset_checks=[olist_gold_fresh, *olist_gold_freshness_checks],
        jobs=[olist_pipeline, olist_bronze_silver],
        schedules=[olist_daily_schedule],
        sensors=[olist_kafka_sensor, olist_success_notification, olist_gold_freshness_sensor],
        # Its own key: Definitions.merge refuses two different resource objects under one key ("dbt").
        resources={"olist_dbt": dbt_resource()},
    ),
    group=PREFIX,
)
