"""Fill a warehouse with every table the provisioned dashboards read, through the project's own code.

- fact_orders etc.: `shopflow demo` (the shop daily batch) has already built them.
- fact_page_views: generated click messages go through the real parsing and windowing transforms (on a
  batch DataFrame, which they support) and the real warehouse mirror (`upsert_warehouse`).
- Olist gold marts: a small Olist dataset goes through the real silver MERGE (Spark + Delta) and dbt gold.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import functions as F

from shopflow_assets.datagen.events import ClickOptions, Ratios, click_stream
from shopflow_assets.domains.clickstream.pipeline import upsert_warehouse
from shopflow_assets.domains.clickstream.transforms import page_view_windows, parse_clicks, valid_clicks
from shopflow_assets.domains.marketplace.pipeline import SilverPaths
from shopflow_assets.resources.spark import get_spark_session
from shopflow_assets.settings import Settings
from shopflow_assets_tests.support import marketplace_reference as ref
from shopflow_assets_tests.support.marketplace import dbt_build, load_silver


def load_page_views(spark, settings: Settings, clicks: int = 3000, minutes: int = 20) -> int:
    """Page views over the last `minutes` minutes; returns the total number of views written."""
    start = dt.datetime.now(dt.UTC).replace(tzinfo=None, second=0, microsecond=0) - dt.timedelta(
        minutes=minutes
    )
    options = ClickOptions(
        event_start=start,
        events_per_second=clicks / (minutes * 60),
        count=clicks,
        shop_scale=0.05,
        ratios=Ratios(duplicate_rate=0.02, bad_rate=0.01),
    )
    rows = [
        (value.decode(), "clicks_topic", 0, offset, start)
        for offset, value in enumerate(v for chunk in click_stream(options) for v in chunk.values)
    ]
    records = spark.createDataFrame(
        rows, "value string, topic string, partition int, offset long, kafka_timestamp timestamp"
    )
    windows = (
        page_view_windows(valid_clicks(parse_clicks(records)))
        .withColumn("updated_at", F.current_timestamp())
        .collect()
    )
    upsert_warehouse(settings, "fact_page_views", windows)
    return sum(row["views"] for row in windows)


def load_olist_gold(spark, work_dir: Path, warehouse: Path, orders: int = 160) -> None:
    lake_root = str(work_dir / "olist_lakehouse")
    paths = SilverPaths(f"{lake_root}/bronze", f"{lake_root}/silver", f"{lake_root}/quarantine")
    load_silver(spark, paths, ref.small_olist(orders, seed=11), "2024-01-01T00:00:00Z", 0)
    dbt_build(lake_root, warehouse)


def load_dashboard_data(settings: Settings, work_dir: Path) -> None:
    spark = get_spark_session()
    load_page_views(spark, settings)
    load_olist_gold(spark, work_dir, settings.warehouse_path)
