"""Job and daily schedule of the rainforest medallion (after the shop batch), and its reports' freshness."""

import dagster as dg

from shopflow_assets.domains.freshness import (
    dagster_freshness_factories,
    freshness_check_sensor,
    without_freshness_checks,
)
from shopflow_assets.domains.rainforest.assets import GROUP, key, rainforest_daily_partitions

JOB_NAME = "rainforest_medallion"

# The two reports the interface publishes; from 04:00 (an hour after the schedule) the check expects the
# partition of the day that ended.
RAINFOREST_REPORT_KEYS = [key("daily_order_report"), key("daily_category_report")]

rainforest_medallion = dg.define_asset_job(
    name=JOB_NAME,
    selection=without_freshness_checks(dg.AssetSelection.groups(GROUP), RAINFOREST_REPORT_KEYS),
    partitions_def=rainforest_daily_partitions,
    description=(
        "The rainforest medallion for one day (or a range, as one run): app database -> bronze -> silver "
        "-> gold -> blocking checks -> interface report views."
    ),
    # One process for the whole chain: one Spark session for every step, started once.
    executor_def=dg.in_process_executor,
    tags={"domain": GROUP},
)

# 03:00 UTC: an hour after the shop batch (02:00), so the two never compete for the 2 cores, and late
# app writes of the day that ended are in.
rainforest_medallion_schedule = dg.build_schedule_from_partitioned_job(
    rainforest_medallion,
    name="rainforest_medallion_schedule",
    hour_of_day=3,
    minute_of_hour=0,
    description="Materializes the previous day's rainforest partition at 03:00 UTC.",
)


# --- freshness -------------------------------------------------------------------------------------------

RAINFOREST_FRESH_BY_CRON = "0 4 * * *"

with dagster_freshness_factories():
    rainforest_freshness_checks = dg.build_time_partition_freshness_checks(
        assets=RAINFOREST_REPORT_KEYS, deadline_cron=RAINFOREST_FRESH_BY_CRON, timezone="UTC"
    )
rainforest_freshness_sensor = freshness_check_sensor(
    "rainforest_freshness_sensor", rainforest_freshness_checks
)
