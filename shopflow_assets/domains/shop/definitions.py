"""The shop daily batch as one Definitions object; shopflow_assets/definitions.py merges it.

Resources it needs from build_resources(): spark, lake, warehouse. Its own: the two Pandera-checked IO
managers and the dbt CLI resource.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from shopflow_assets.domains.dbt import dbt_resource
from shopflow_assets.domains.shop.assets import (
    DBT_RESOURCE_KEY,
    PARQUET_IO,
    PREFIX,
    WAREHOUSE_IO,
    landing_csvs,
    shop_cleaned_tables,
    shop_dbt_models,
    shop_raw_objects,
    shop_star_schema,
)
from shopflow_assets.domains.shop.automation import (
    JOB_NAME,
    ecommerce_daily_batch,
    ecommerce_daily_batch_schedule,
    shop_freshness_checks,
    shop_freshness_sensor,
    shop_raw_data_sensor,
)
from shopflow_assets.domains.shop.checks import shop_star_schema_checks
from shopflow_assets.domains.skeleton import domain_specs
from shopflow_assets.io_managers import PanderaDuckDBIOManager, PanderaParquetIOManager
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.warehouse import WarehouseResource

defs = domain_specs(
    dg.Definitions(
        assets=[*landing_csvs, shop_raw_objects, shop_cleaned_tables, shop_star_schema, shop_dbt_models],
        asset_checks=[shop_star_schema_checks, *shop_freshness_checks],
        jobs=[ecommerce_daily_batch],
        schedules=[ecommerce_daily_batch_schedule],
        sensors=[shop_raw_data_sensor, shop_freshness_sensor],
        resources={
            # backend None: the lake follows SHOPFLOW_ENV when used (directory locally, S3 with the stack).
            PARQUET_IO: PanderaParquetIOManager(lake=LakeResource(), bucket="staging"),
            WAREHOUSE_IO: PanderaDuckDBIOManager(warehouse=WarehouseResource()),
            DBT_RESOURCE_KEY: dbt_resource(),
        },
    ),
    group=PREFIX,
)


# --- the batch in this process (the demo, `shopflow run shop`, the bench, tests) -----------------------


def shop_definitions() -> dg.Definitions:
    """The shop domain with the shared resources, built per call (definitions.py's `defs` is fixed at import).

    Resources are chosen from the settings in force when a run starts, so a caller that switches SHOPFLOW_ENV
    (the e2e tests, `SHOPFLOW_ENV=docker shopflow run shop`) gets the store it asked for.
    """
    from shopflow_assets.resources import build_resources

    return dg.Definitions.merge(defs, dg.Definitions(resources=build_resources()))


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


def run_days(
    days: list[dt.date],
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    log_level: str = "INFO",
) -> list[dg.ExecuteInProcessResult]:
    """Materialize job `ecommerce_daily_batch` for each day, in order (a backfill, one run per day)."""
    job = shop_definitions().resolve_job_def(JOB_NAME)
    results = []
    for day in days:
        result = job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            raise_on_error=raise_on_error,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        results.append(result)
    return results
