"""The shop daily batch as one Definitions object; shopflow_assets/definitions.py merges it.

Resources it needs from build_resources(): spark, lake, warehouse. Its own: the two Pandera-checked IO
managers and the dbt CLI resource.
"""

from __future__ import annotations

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
    ecommerce_daily_batch,
    ecommerce_daily_batch_schedule,
    shop_raw_data_sensor,
)
from shopflow_assets.domains.shop.checks import shop_star_schema_checks
from shopflow_assets.domains.skeleton import domain_specs
from shopflow_assets.io_managers import PanderaDuckDBIOManager, PanderaParquetIOManager
from shopflow_assets.resources.lake import LakeResource

defs = domain_specs(
    dg.Definitions(
        assets=[*landing_csvs, shop_raw_objects, shop_cleaned_tables, shop_star_schema, shop_dbt_models],
        asset_checks=[shop_star_schema_checks],
        jobs=[ecommerce_daily_batch],
        schedules=[ecommerce_daily_batch_schedule],
        sensors=[shop_raw_data_sensor],
        resources={
            # backend None: the lake follows SHOPFLOW_ENV when used (directory locally, S3 with the stack).
            PARQUET_IO: PanderaParquetIOManager(lake=LakeResource(), bucket="staging"),
            WAREHOUSE_IO: PanderaDuckDBIOManager(),
            DBT_RESOURCE_KEY: dbt_resource(),
        },
    ),
    group=PREFIX,
)
