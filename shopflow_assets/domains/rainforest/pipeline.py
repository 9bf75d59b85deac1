"""The rainforest medallion as plain functions over one SparkSession: source -> bronze -> silver -> gold.

Assets, the integration tests and the benchmark all run these for a range of order days first..last
(one day in the daily schedule, a month in one go for a backfill). Every write replaces exactly the days
it computed (Delta `replaceWhere`), so a re-run of a day replaces that day and nothing else.

Layout (under the lakehouse bucket, optionally below a namespace for tests):
    rainforest/bronze/<source table>   every extracted row + _load_ts, _partition (UTC day of updated_ts)
    rainforest/silver/<fact|dim|bridge> facts partitioned by their day; dims/bridges newest versions
    rainforest/gold/<table>             wide tables and daily metrics, by order_date
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from shopflow_assets.datagen.rainforest import TABLES as SOURCE_TABLES
from shopflow_assets.domains.rainforest import transforms as T
from shopflow_assets.resources.extract import ChangeWindow, checked_identifier, extract_changes

Uri = Callable[..., str]  # the lake path scheme: uri(bucket, key, engine)

CHANGED_COLUMN = "updated_ts"
SILVER_DIMS = (
    "dim_buyer",
    "dim_seller",
    "dim_category",
    "dim_product",
    "product_x_category",
    "seller_x_product",
)
SILVER_FACTS = {
    "fact_orders": "order_date",
    "fact_order_items": "order_date",
    "fact_clickstream": "event_date",
}
SILVER_TABLES = (*SILVER_FACTS, *SILVER_DIMS)
GOLD_TABLES = ("wide_orders", "wide_order_items", "daily_category_metrics", "daily_order_metrics")


@dataclass(frozen=True)
class RainforestLake:
    """Every rainforest location, from the one lake path scheme (see the module docstring)."""

    uri: Uri
    namespace: str = ""

    def path(self, layer: str, table: str) -> str:
        key = f"rainforest/{layer}/{table}"
        return self.uri("lakehouse", f"{self.namespace}/{key}" if self.namespace else key, "spark")


def days_window(first: dt.date, last: dt.date) -> ChangeWindow:
    """The changes of the UTC days first..last, with the same bounds as ChangeWindow.for_day."""
    return ChangeWindow(after=ChangeWindow.for_day(first).after, up_to=ChangeWindow.for_day(last).up_to)


def _replace_days(
    frame: DataFrame, path: str, column: str, first: dt.date, last: dt.date, partition: bool
) -> None:
    """Overwrite the rows of days first..last at `path` with `frame` (creating the table if needed)."""
    writer = (
        frame.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"{column} >= '{first.isoformat()}' AND {column} <= '{last.isoformat()}'")
    )
    if partition:
        writer = writer.partitionBy(column)
    writer.save(path)


def _read(spark: SparkSession, path: str) -> DataFrame:
    return spark.read.format("delta").load(path)


# --- source -> bronze ---------------------------------------------------------------------------------
def extract_bronze(
    spark: SparkSession,
    conn,
    lake: RainforestLake,
    first: dt.date,
    last: dt.date,
    *,
    schema: str = "public",
    tables: tuple[str, ...] = SOURCE_TABLES,
) -> dict[str, int]:
    """Every source table's rows changed on days first..last (by updated_ts), into its bronze table.

    The extraction is the shared component (read-only role, bound window, exact Arrow types); bronze
    keeps every extracted version, partitioned by the UTC day of its change.
    """
    checked_identifier(schema, "schema")
    window = days_window(first, last)
    load_ts = dt.datetime.now(dt.UTC)
    rows = {}
    for table in tables:
        extracted = extract_changes(conn, table, changed_column=CHANGED_COLUMN, window=window, schema=schema)
        frame = T.with_load_metadata(spark.createDataFrame(extracted), load_ts)
        _replace_days(frame, lake.path("bronze", table), "_partition", first, last, partition=True)
        rows[table] = extracted.num_rows
    return rows


def source_orders_on(conn, day: dt.date, schema: str = "public") -> int:
    """Orders placed on `day` in the app database (the Airflow DAG waits for this to be > 0)."""
    from psycopg import sql

    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT count(*) FROM {}.orders WHERE order_ts >= %(day)s AND order_ts < %(next)s"
            ).format(sql.Identifier(checked_identifier(schema, "schema"))),
            {"day": day, "next": day + dt.timedelta(days=1)},
        )
        return int(cur.fetchone()[0])


# --- bronze -> silver -----------------------------------------------------------------------------------
def build_silver(spark: SparkSession, lake: RainforestLake, first: dt.date, last: dt.date) -> dict[str, int]:
    """Dims and bridges: newest version of every row over all bronze (type 1, whole tables, small).
    Facts of days first..last: newest version per key, replacing those days only.

    A fact changes on or after its own day (updated_ts >= order_ts), so facts read bronze from `first`.
    """

    def bronze(table: str) -> DataFrame:
        return _read(spark, lake.path("bronze", table))

    def since_first(table: str) -> DataFrame:
        return bronze(table).where(f"_partition >= '{first.isoformat()}'")

    dims = {
        "dim_buyer": T.dim_buyer(bronze("buyer"), bronze("appuser")),
        "dim_seller": T.dim_seller(bronze("seller"), bronze("appuser")),
        "dim_category": T.dim_category(bronze("category")),
        "dim_product": T.dim_product(bronze("product"), bronze("brand"), bronze("manufacturer")),
        "product_x_category": T.product_x_category(bronze("product_category")),
        "seller_x_product": T.seller_x_product(bronze("seller_product")),
    }
    rows: dict[str, int] = {}
    for name, frame in dims.items():
        frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(
            lake.path("silver", name)
        )
        rows[name] = _read(spark, lake.path("silver", name)).count()

    def write_fact(name: str, frame: DataFrame) -> DataFrame:
        column = SILVER_FACTS[name]
        _replace_days(frame, lake.path("silver", name), column, first, last, partition=True)
        written = silver_days(spark, lake, name, first, last)
        rows[name] = written.count()
        return written

    orders = write_fact("fact_orders", T.fact_orders(since_first("orders"), first, last))
    write_fact("fact_order_items", T.fact_order_items(since_first("order_items"), orders))
    write_fact("fact_clickstream", T.fact_clickstream(since_first("clickstream"), first, last))
    return rows


def silver_days(
    spark: SparkSession, lake: RainforestLake, name: str, first: dt.date, last: dt.date
) -> DataFrame:
    column = SILVER_FACTS[name]
    return _read(spark, lake.path("silver", name)).where(
        f"{column} >= '{first.isoformat()}' AND {column} <= '{last.isoformat()}'"
    )


# --- silver -> gold ---------------------------------------------------------------------------------------
def build_gold(spark: SparkSession, lake: RainforestLake, first: dt.date, last: dt.date) -> dict[str, int]:
    """Wide tables and daily metrics of days first..last, replacing those days only."""

    def silver(name: str) -> DataFrame:
        return _read(spark, lake.path("silver", name))

    orders = silver_days(spark, lake, "fact_orders", first, last)
    items = silver_days(spark, lake, "fact_order_items", first, last)
    clicks = silver_days(spark, lake, "fact_clickstream", first, last)
    buyers = silver("dim_buyer")
    wide_items = T.wide_order_items(
        items,
        orders,
        silver("dim_product"),
        silver("product_x_category"),
        silver("dim_category"),
        buyers,
        silver("dim_seller"),
    )
    wide = T.wide_orders(orders, items, clicks, buyers)
    rows: dict[str, int] = {}
    for name, frame in (("wide_orders", wide), ("wide_order_items", wide_items)):
        _replace_days(frame, lake.path("gold", name), "order_date", first, last, partition=True)
        rows[name] = gold_days(spark, lake, name, first, last).count()
    metrics = {
        "daily_category_metrics": T.daily_category_metrics(
            gold_days(spark, lake, "wide_order_items", first, last)
        ),
        "daily_order_metrics": T.daily_order_metrics(gold_days(spark, lake, "wide_orders", first, last)),
    }
    for name, frame in metrics.items():
        # Small tables (a row per day and category): one file per write, no directory per day.
        _replace_days(frame.coalesce(1), lake.path("gold", name), "order_date", first, last, partition=False)
        rows[name] = gold_days(spark, lake, name, first, last).count()
    return rows


def gold_days(
    spark: SparkSession, lake: RainforestLake, name: str, first: dt.date, last: dt.date
) -> DataFrame:
    return _read(spark, lake.path("gold", name)).where(
        f"order_date >= '{first.isoformat()}' AND order_date <= '{last.isoformat()}'"
    )


def run_medallion(
    spark: SparkSession,
    conn,
    lake: RainforestLake,
    first: dt.date,
    last: dt.date,
    *,
    schema: str = "public",
) -> dict[str, dict[str, int]]:
    """Source -> bronze -> silver -> gold for days first..last (what the benchmark times)."""
    return {
        "bronze": extract_bronze(spark, conn, lake, first, last, schema=schema),
        "silver": build_silver(spark, lake, first, last),
        "gold": build_gold(spark, lake, first, last),
    }
