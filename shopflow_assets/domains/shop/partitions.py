"""Daily partitions of the shop batch: one partition = one business day (UTC)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from shopflow_assets.settings import get_settings

shop_daily_partitions = dg.DailyPartitionsDefinition(
    start_date=get_settings().shop_start_date, timezone="UTC"
)


def business_date(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


def raw_object_key(day: dt.date, dataset: str) -> str:
    """THE raw landing key: raw-data/YYYY/MM/DD/<users|products|orders>.csv."""
    return f"{day:%Y/%m/%d}/{dataset}.csv"


def parse_raw_object_key(key: str) -> tuple[dt.date, str] | None:
    """raw-data key -> (day, dataset), or None for a key that is not a shop raw object."""
    parts = key.split("/")
    if len(parts) != 4 or not parts[3].endswith(".csv"):
        return None
    try:
        day = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None
    return day, parts[3].removesuffix(".csv")
