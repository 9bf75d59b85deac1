"""Job and daily schedule of the rainforest medallion (after the shop batch)."""

import dagster as dg

from shopflow_assets.domains.rainforest.assets import GROUP, rainforest_daily_partitions

JOB_NAME = "rainforest_medallion"

rainforest_medallion = dg.define_asset_job(
    name=JOB_NAME,
    selection=dg.AssetSelection.groups(GROUP),
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
