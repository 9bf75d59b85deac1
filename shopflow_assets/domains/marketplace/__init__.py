"""The Olist marketplace lakehouse: Kafka -> Delta bronze -> silver MERGE -> dbt gold.

Its asset keys (marketplace/<name>), shared by assets, checks and automation, and its steps' retry policy.
"""

import dagster as dg

from shopflow_assets.contracts.marketplace import TableContract

PREFIX = "marketplace"

# Every step of the domain: two retries with back-off (a broker or store hiccup); the run itself is retried
# by Dagster's run retries (automation.py), nothing else retries.
RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([PREFIX, name])


def bronze_key(table: TableContract) -> dg.AssetKey:
    return key(f"bronze_{table.name}")


def silver_key(table: TableContract) -> dg.AssetKey:
    return key(f"silver_{table.name}")
