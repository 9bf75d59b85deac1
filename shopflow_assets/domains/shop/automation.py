"""Job, 02:00 UTC schedule and raw-data sensor of the shop daily batch, and the 03:00 freshness of what it serves."""

from __future__ import annotations

import json

import dagster as dg

from shopflow_assets.automation import schedule_status, sensor_status
from shopflow_assets.contracts.shop import SHOP_DATASETS, parse_raw_object_key
from shopflow_assets.domains.freshness import (
    dagster_freshness_factories,
    freshness_check_sensor,
    without_freshness_checks,
)
from shopflow_assets.domains.shop.assets import PREFIX, shop_daily_partitions
from shopflow_assets.resources.lake import LakeResource

JOB_NAME = "ecommerce_daily_batch"

# What the shop serves: the fact table and the dbt gold models. The batch starts at 02:00 for the day
# that ended; from 03:00 the check expects that day's partition (before 03:00, the day before's).
SHOP_SERVED_KEYS = [
    dg.AssetKey([PREFIX, name])
    for name in (
        "fact_orders",
        "shop_daily_revenue",
        "shop_revenue_by_category",
        "shop_revenue_by_country",
        "shop_top_products",
    )
]

# Every materializable asset of the shop group (landing CSVs are external: observed, not run).
ecommerce_daily_batch = dg.define_asset_job(
    name=JOB_NAME,
    selection=without_freshness_checks(dg.AssetSelection.groups("shop"), SHOP_SERVED_KEYS),
    partitions_def=shop_daily_partitions,
    description=(
        "The shop daily batch for one business day: raw objects -> cleaned tables (Spark) -> star schema "
        "-> blocking checks -> dbt gold models."
    ),
    # The graph is a chain (no parallelism to win): one process keeps Spark and dbt start-up paid once
    # and never has two steps competing for the DuckDB write lock.
    executor_def=dg.in_process_executor,
    tags={"domain": "shop"},
)

# 02:00 UTC every day, for the partition of the day that just ended (the previous day).
ecommerce_daily_batch_schedule = dg.build_schedule_from_partitioned_job(
    ecommerce_daily_batch,
    name="ecommerce_daily_batch_schedule",
    hour_of_day=2,
    minute_of_hour=0,
    description="Materializes the previous day's shop partition at 02:00 UTC.",
    default_status=schedule_status(),
)


def complete_days(keys: list[str]) -> list[str]:
    """Days (YYYY-MM-DD) whose users, products and orders raw objects are all in raw-data."""
    seen: dict[str, set[str]] = {}
    for key in keys:
        parsed = parse_raw_object_key(key)
        if parsed is not None and parsed[1] in SHOP_DATASETS:
            seen.setdefault(parsed[0].isoformat(), set()).add(parsed[1])
    return sorted(day for day, datasets in seen.items() if datasets == set(SHOP_DATASETS))


def plan_runs(
    keys: list[str], cursor: str | None, valid_partitions: set[str] | None = None
) -> tuple[list[str], str]:
    """Days to run now and the new cursor (the JSON list of days already requested)."""
    requested = set(json.loads(cursor)) if cursor else set()
    days = [day for day in complete_days(keys) if day not in requested]
    if valid_partitions is not None:
        days = [day for day in days if day in valid_partitions]
    return days, json.dumps(sorted(requested | set(days)))


@dg.sensor(
    name="shop_raw_data_sensor",
    job=ecommerce_daily_batch,
    minimum_interval_seconds=60,
    default_status=sensor_status(),
    description="Starts the batch for a day as soon as its three raw objects are in s3://raw-data/YYYY/MM/DD/.",
)
def shop_raw_data_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
    # Listing keys is quick and bounded; the sensor never reads object contents.
    keys = lake.get_lake().list_keys("raw-data")
    valid = set(shop_daily_partitions.get_partition_keys())
    days, cursor = plan_runs(keys, context.cursor, valid)
    if not days:
        return dg.SkipReason(f"no new complete day in raw-data ({len(keys)} objects listed)")
    context.update_cursor(cursor)
    # A run of the batch (the schedule's, a user's) puts its day's raw objects there itself: that day is
    # already being run, or was, and a second run would only redo it.
    already = days_with_runs(context.instance, days)
    if len(already) == len(days):
        return dg.SkipReason(f"new complete days {', '.join(days)} already have a run of {JOB_NAME}")
    return [dg.RunRequest(run_key=f"shop-raw-{day}", partition_key=day) for day in days if day not in already]


# A run in one of these states covers its partition; a failed or canceled one does not.
_COVERING_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.SUCCESS,
]


def days_with_runs(instance: dg.DagsterInstance, days: list[str]) -> set[str]:
    """The days among `days` that a queued, running or successful run of the batch covers."""
    return {
        day
        for day in days
        if instance.get_run_records(
            dg.RunsFilter(
                job_name=JOB_NAME, tags={"dagster/partition": day}, statuses=_COVERING_RUN_STATUSES
            ),
            limit=1,
        )
    }


# --- freshness -------------------------------------------------------------------------------------------

SHOP_FRESH_BY_CRON = "0 3 * * *"

with dagster_freshness_factories():
    shop_freshness_checks = dg.build_time_partition_freshness_checks(
        assets=SHOP_SERVED_KEYS, deadline_cron=SHOP_FRESH_BY_CRON, timezone="UTC"
    )
shop_freshness_sensor = freshness_check_sensor("shop_freshness_sensor", shop_freshness_checks)
