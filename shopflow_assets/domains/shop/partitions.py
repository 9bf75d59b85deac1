"""The shop's daily partitions, apart from assets.py so dbt_models.py can use them without importing the assets."""

import dagster as dg

from shopflow_assets.contracts import shop as contract

# One partition = one business day (UTC).
shop_daily_partitions = dg.DailyPartitionsDefinition(
    start_date=contract.FIRST_BUSINESS_DAY.isoformat(), timezone="UTC"
)
