"""The rainforest medallion as plain functions over one SparkSession: source -> bronze -> silver -> gold.

Assets, the integration tests and the benchmark all run these for a range of order days first..last
(one day in the daily schedule, a month in one go for a backfill). Every write replaces exactly the days
it computed (Delta `replaceWhere`), so a re-run of a day replaces that day and nothing else.

Layout (under the lakehouse bucket, optionally below a namespace for tests):
    rainforest/bronze/<source table>   every extracted row + _load_ts, _partition (UTC day of updated_ts)
    rainforest/silver/<fact|dim|bridge> facts partitioned by their day; dims/bridges newest versions
    rainforest/gold/<table>             wide tables and daily metrics, by order_date
The source tables, the table names of each layer and their day columns are the contract's
(`contracts/rainforest.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from shopflow_assets.contracts.rainforest import (
    CHANGED_COLUMN,
    GOLD_DAY_COLUMN,
    GOLD_TABLES,
    SILVER_FACTS,
    SOURCE_TABLES,
)
from shopflow_assets.domains.rainforest import transforms as T
from shopflow_assets.resources.extract import ChangeWindow, checked_identifier, extract_changes

Uri = Callable[..., str]  # the lake path scheme: uri(bucket, key, engine)


@dataclass(frozen=True)
class RainforestLake:
    """Every rainforest location, from the one lake path scheme (see the module docstring)."""

    uri: Uri
    namespace: str = ""

    def __post_init__(self) -> None:
        # the namespace ends up in lake paths read by Spark and DuckDB: the marketplace's strict rule
        from shopflow_assets.identifiers import safe_namespace

        object.__setattr__(self, "namespace", safe_namespace(self.namespace, "rainforest namespace"))

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


# Writes of different tables run side by side: a small table's write is mostly fixed cost (planning,
# Delta log reads and the commit's round trips to the object store), which overlaps well even on 2 cores.
CONCURRENT_WRITES = 2


def _in_parallel(jobs: Iterable[Callable[[], dict[str, int]]]) -> dict[str, int]:
    """Run the jobs (each gives rows per table it wrote) on one SparkSession from a few threads.
    Every job runs to its end; the first failure is then raised."""
    with ThreadPoolExecutor(max_workers=CONCURRENT_WRITES, thread_name_prefix="rainforest") as pool:
        futures = [pool.submit(job) for job in jobs]
    rows: dict[str, int] = {}
    for future in futures:
        rows.update(future.result())
    return rows


def _write_counted(frame: DataFrame, write: Callable[[DataFrame], None]) -> tuple[DataFrame, int]:
    """Compute `frame` once (cached), count it, write it: the count is the written rows without reading
    the table back, and the cached frame can feed the next step. The caller unpersists it."""
    frame = frame.persist()
    rows = frame.count()
    write(frame)
    return frame, rows


# --- source -> bronze ---------------------------------------------------------------------------------
def extract_bronze(
    spark: SparkSession,
    conn,
    lake: RainforestLake,
    first: dt.date,
    last: dt.date,
    *,
    schema: str = "public",
    tables: tuple[str, ...] = tuple(SOURCE_TABLES),
) -> dict[str, int]:
    """Every source table's rows changed on days first..last (by updated_ts), into its bronze table.

    The extraction is the shared component (read-only role, bound window, exact Arrow types); bronze
    keeps every extracted version, partitioned by the UTC day of its change.
    """
    checked_identifier(schema, "schema")
    window = days_window(first, last)
    load_ts = dt.datetime.now(dt.UTC)
    rows = {}
    # One table at a time: written side by side, the large tables' Arrow data (shipped inside Spark
    # tasks) competed for the driver heap and the run got slower, not faster.
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

    def write_dim(name: str) -> dict[str, int]:
        frame, rows = _write_counted(
            dims[name],
            lambda frame: (
                frame.write.format("delta")
                .mode("overwrite")
                .option("overwriteSchema", "true")
                .save(lake.path("silver", name))
            ),
        )
        frame.unpersist()
        return {name: rows}

    def write_fact(name: str, frame: DataFrame) -> tuple[DataFrame, int]:
        column = SILVER_FACTS[name]
        path = lake.path("silver", name)
        return _write_counted(frame, lambda frame: _replace_days(frame, path, column, first, last, True))

    def orders_and_items() -> dict[str, int]:
        # The items of the orders just computed: the cached orders, not a second read of the table.
        orders, order_rows = write_fact("fact_orders", T.fact_orders(since_first("orders"), first, last))
        items = T.fact_order_items(since_first("order_items"), orders)
        items, item_rows = write_fact("fact_order_items", items)
        items.unpersist()
        orders.unpersist()
        return {"fact_orders": order_rows, "fact_order_items": item_rows}

    def clicks() -> dict[str, int]:
        frame, rows = write_fact(
            "fact_clickstream", T.fact_clickstream(since_first("clickstream"), first, last)
        )
        frame.unpersist()
        return {"fact_clickstream": rows}

    rows = _in_parallel([orders_and_items, clicks, *(lambda name=name: write_dim(name) for name in dims)])
    return {name: rows[name] for name in (*dims, *SILVER_FACTS)}


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

    def write_wide(name: str, frame: DataFrame, metrics_name: str, metrics) -> dict[str, int]:
        # The day's metrics come from the cached wide rows just written, not from a re-read of gold.
        frame, rows = _write_counted(
            frame,
            lambda frame: _replace_days(frame, lake.path("gold", name), GOLD_DAY_COLUMN, first, last, True),
        )
        # Small tables (a row per day and category): one file per write, no directory per day.
        metric_frame, metric_rows = _write_counted(
            metrics(frame).coalesce(1),
            lambda metric: _replace_days(
                metric, lake.path("gold", metrics_name), GOLD_DAY_COLUMN, first, last, False
            ),
        )
        metric_frame.unpersist()
        frame.unpersist()
        return {name: rows, metrics_name: metric_rows}

    rows = _in_parallel(
        [
            lambda: write_wide("wide_orders", wide, "daily_order_metrics", T.daily_order_metrics),
            lambda: write_wide(
                "wide_order_items", wide_items, "daily_category_metrics", T.daily_category_metrics
            ),
        ]
    )
    return {name: rows[name] for name in GOLD_TABLES}


def gold_days(
    spark: SparkSession, lake: RainforestLake, name: str, first: dt.date, last: dt.date
) -> DataFrame:
    return _read(spark, lake.path("gold", name)).where(
        f"{GOLD_DAY_COLUMN} >= '{first.isoformat()}' AND {GOLD_DAY_COLUMN} <= '{last.isoformat()}'"
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
