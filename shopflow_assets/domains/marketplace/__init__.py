"""The Olist marketplace lakehouse: Kafka -> Delta bronze -> silver MERGE -> dbt gold.

Its asset keys (marketplace/<name>), shared by assets, checks and automation.
"""

import dagster as dg

from shopflow_assets.contracts.marketplace import TableContract

PREFIX = "marketplace"


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([PREFIX, name])


def bronze_key(table: TableContract) -> dg.AssetKey:
    return key(f"bronze_{table.name}")


def silver_key(table: TableContract) -> dg.AssetKey:
    return key(f"silver_{table.name}")
