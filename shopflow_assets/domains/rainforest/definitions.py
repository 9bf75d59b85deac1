"""The rainforest medallion (marketplace app database -> bronze -> silver -> gold -> interface).

Resources it needs from build_resources(): spark, lake, warehouse, postgres_reader.
"""

import dagster as dg

from shopflow_assets.domains.rainforest.assets import (
    GROUP,
    rainforest_bronze,
    rainforest_gold,
    rainforest_interface,
    rainforest_silver,
)
from shopflow_assets.domains.rainforest.automation import (
    rainforest_freshness_checks,
    rainforest_freshness_sensor,
    rainforest_medallion,
    rainforest_medallion_schedule,
)
from shopflow_assets.domains.skeleton import domain_specs

defs = domain_specs(
    dg.Definitions(
        assets=[rainforest_bronze, rainforest_silver, rainforest_gold, rainforest_interface],
        asset_checks=rainforest_freshness_checks,
        jobs=[rainforest_medallion],
        schedules=[rainforest_medallion_schedule],
        sensors=[rainforest_freshness_sensor],
    ),
    group=GROUP,
)
