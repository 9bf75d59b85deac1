"""The click stream as one Definitions object: fact_page_views, its job and Kafka sensor.

Resources from build_resources(): spark, lake, kafka, warehouse. Its own: the shared SparkStreamingResource
under "streaming".
"""

from __future__ import annotations

import dagster as dg

from shopflow_assets.domains.clickstream.assets import PREFIX, clicks_topic, fact_page_views
from shopflow_assets.domains.clickstream.automation import (
    clicks_topic_sensor,
    page_views_freshness_checks,
    page_views_freshness_sensor,
    page_views_job,
)
from shopflow_assets.domains.skeleton import domain_specs
from shopflow_assets.resources.streaming.resource import STREAMING_RESOURCE, STREAMING_RESOURCE_KEY

defs = domain_specs(
    dg.Definitions(
        assets=[clicks_topic, fact_page_views],
        asset_checks=page_views_freshness_checks,
        jobs=[page_views_job],
        sensors=[clicks_topic_sensor, page_views_freshness_sensor],
        resources={STREAMING_RESOURCE_KEY: STREAMING_RESOURCE},
    ),
    group=PREFIX,
)
