"""Pure Spark transformations of the rainforest medallion: bronze rows -> silver -> gold, and the checks.

Every function takes and returns DataFrames (no I/O), so the unit tests run them on a few local rows.
Money stays decimal end to end: item revenue = actual_price * quantity is exact, and so are the sums,
the means (rounded half-up to 6 places) and the median (the middle value, or the mean of the two middle
values for an even count, computed on the sorted decimals — no approximate percentile).
Source keys, the cancelled status, the report columns and the revenue limit come from the contract
(`contracts/rainforest.py`).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from shopflow_assets.contracts.rainforest import (
    CANCELLED,
    CATEGORY_REPORT,
    CHANGED_COLUMN,
    MAX_MEAN_REVENUE,
    MEAN_DECIMAL,
    ORDER_REPORT,
    SOURCE_KEYS,
)

MEAN = DecimalType(*MEAN_DECIMAL)


def with_load_metadata(frame: DataFrame, load_ts: dt.datetime) -> DataFrame:
    """Bronze rows as extracted, plus when they were loaded and the day (UTC) of their change."""
    return frame.withColumn("_load_ts", F.lit(load_ts).cast("timestamp")).withColumn(
        "_partition", F.date_format(F.col(CHANGED_COLUMN), "yyyy-MM-dd")
    )


def newest_versions(frame: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """One row per key: the latest change (updated_ts, then the latest load), load metadata dropped."""
    order = [F.col(CHANGED_COLUMN).desc()]
    if "_load_ts" in frame.columns:
        order.append(F.col("_load_ts").desc())
    ranked = frame.withColumn("_rank", F.row_number().over(Window.partitionBy(*keys).orderBy(*order)))
    return ranked.where("_rank = 1").drop("_rank", "_load_ts", "_partition")


def _between(column: str, first: dt.date, last: dt.date) -> Column:
    return F.col(column).between(F.lit(first), F.lit(last))


# --- silver: dimensions (type 1: the newest known version of every row) ---------------------------
def _user_columns(users: DataFrame) -> DataFrame:
    return users.select(
        "user_id",
        "username",
        "email",
        "is_active",
        F.col("created_ts").alias("user_created_ts"),
    )


def dim_buyer(buyer: DataFrame, appuser: DataFrame) -> DataFrame:
    """Buyers with their own user row (joined on buyer.user_id, never on ids of another role)."""
    b = newest_versions(buyer, SOURCE_KEYS["buyer"])
    users = _user_columns(newest_versions(appuser, SOURCE_KEYS["appuser"]))
    return b.join(users, "user_id", "left").select(
        "buyer_id",
        "user_id",
        "username",
        "email",
        "is_active",
        "first_name",
        "last_name",
        "country",
        "user_created_ts",
        F.col("updated_ts").alias("buyer_updated_ts"),
    )


def dim_seller(seller: DataFrame, appuser: DataFrame) -> DataFrame:
    """Sellers with their own user row (joined on seller.user_id)."""
    s = newest_versions(seller, SOURCE_KEYS["seller"])
    users = _user_columns(newest_versions(appuser, SOURCE_KEYS["appuser"]))
    return s.join(users, "user_id", "left").select(
        "seller_id",
        "user_id",
        "username",
        "email",
        "is_active",
        "store_name",
        "country",
        "rating",
        "user_created_ts",
        F.col("updated_ts").alias("seller_updated_ts"),
    )


def dim_category(category: DataFrame) -> DataFrame:
    return newest_versions(category, SOURCE_KEYS["category"]).select(
        "category_id", F.col("name").alias("category_name")
    )


def dim_product(product: DataFrame, brand: DataFrame, manufacturer: DataFrame) -> DataFrame:
    """Products with their brand and manufacturer."""
    p = newest_versions(product, SOURCE_KEYS["product"])
    b = newest_versions(brand, SOURCE_KEYS["brand"]).select(
        "brand_id", F.col("name").alias("brand_name"), F.col("country").alias("brand_country")
    )
    m = newest_versions(manufacturer, SOURCE_KEYS["manufacturer"]).select(
        "manufacturer_id",
        F.col("name").alias("manufacturer_name"),
        F.col("country").alias("manufacturer_country"),
    )
    return (
        p.join(b, "brand_id", "left")
        .join(m, "manufacturer_id", "left")
        .select(
            "product_id",
            F.col("name").alias("product_name"),
            "base_price",
            "brand_id",
            "brand_name",
            "brand_country",
            "manufacturer_id",
            "manufacturer_name",
            "manufacturer_country",
        )
    )


def product_x_category(product_category: DataFrame) -> DataFrame:
    return newest_versions(product_category, SOURCE_KEYS["product_category"]).select(
        "product_id", "category_id"
    )


def seller_x_product(seller_product: DataFrame) -> DataFrame:
    return newest_versions(seller_product, SOURCE_KEYS["seller_product"]).select("seller_id", "product_id")


# --- silver: facts, for the order days first..last --------------------------------------------------
def fact_orders(orders: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """One row per order placed first..last (UTC dates), its newest version."""
    return (
        newest_versions(orders, SOURCE_KEYS["orders"])
        .withColumn("order_date", F.to_date("order_ts"))
        .where(_between("order_date", first, last))
        .select("order_id", "buyer_id", "order_ts", "order_date", "status", "created_ts", "updated_ts")
    )


def fact_order_items(order_items: DataFrame, orders: DataFrame) -> DataFrame:
    """One row per item of the given orders (fact_orders), with its order day and revenue."""
    items = newest_versions(order_items, SOURCE_KEYS["order_items"])
    return items.join(orders.select("order_id", "order_date"), "order_id").select(
        "order_item_id",
        "order_id",
        "order_date",
        "product_id",
        "seller_id",
        "quantity",
        "base_price",
        "actual_price",
        (F.col("actual_price") * F.col("quantity")).alias("item_revenue"),
        "created_ts",
        "updated_ts",
    )


def fact_clickstream(clickstream: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """One row per click event of first..last, linked to the order it led to (order_id, or null)."""
    return (
        newest_versions(clickstream, SOURCE_KEYS["clickstream"])
        .withColumn("event_date", F.to_date("event_ts"))
        .where(_between("event_date", first, last))
        .select(
            "event_id",
            "event_date",
            "event_ts",
            "event_type",
            "buyer_id",
            "session_id",
            "product_id",
            "order_id",
            F.col("order_id").isNotNull().alias("led_to_order"),
        )
    )


# --- gold ---------------------------------------------------------------------------------------------
def _prefixed(frame: DataFrame, key: str, prefix: str) -> DataFrame:
    return frame.select(key, *[F.col(c).alias(f"{prefix}_{c}") for c in frame.columns if c != key])


def wide_order_items(
    items: DataFrame,
    orders: DataFrame,
    products: DataFrame,
    bridge_categories: DataFrame,
    categories: DataFrame,
    buyers: DataFrame,
    sellers: DataFrame,
) -> DataFrame:
    """One row per item with its order, buyer, seller, product (brand, manufacturer) and categories.

    Categories are a sorted array, so the grain stays one row per item whatever the number of
    categories of the product.
    """
    product_categories = (
        bridge_categories.join(categories, "category_id")
        .groupBy("product_id")
        .agg(F.array_sort(F.collect_list("category_name")).alias("categories"))
    )
    buyer_cols = buyers.select(
        "buyer_id",
        F.col("username").alias("buyer_username"),
        F.col("first_name").alias("buyer_first_name"),
        F.col("last_name").alias("buyer_last_name"),
        F.col("country").alias("buyer_country"),
    )
    seller_cols = sellers.select(
        "seller_id",
        F.col("username").alias("seller_username"),
        F.col("store_name").alias("seller_store_name"),
        F.col("country").alias("seller_country"),
    )
    return (
        items.drop("created_ts", "updated_ts")
        .join(orders.select("order_id", "order_ts", "status", "buyer_id"), "order_id")
        .join(buyer_cols, "buyer_id", "left")
        .join(seller_cols, "seller_id", "left")
        .join(products.drop("base_price"), "product_id", "left")
        .join(product_categories, "product_id", "left")
        .withColumn("categories", F.coalesce("categories", F.array().cast("array<string>")))
    )


def wide_orders(orders: DataFrame, items: DataFrame, clicks: DataFrame, buyers: DataFrame) -> DataFrame:
    """One row per order with its buyer, item count, revenue and the click events that led to it."""
    per_order = items.groupBy("order_id").agg(
        F.count("*").alias("item_count"),
        F.sum("quantity").alias("units"),
        F.sum("item_revenue").alias("order_revenue"),
    )
    clicks_per_order = (
        clicks.where(F.col("order_id").isNotNull())
        .groupBy("order_id")
        .agg(F.count("*").alias("click_events"))
    )
    buyer_cols = buyers.select(
        "buyer_id",
        F.col("username").alias("buyer_username"),
        F.col("first_name").alias("buyer_first_name"),
        F.col("last_name").alias("buyer_last_name"),
        F.col("country").alias("buyer_country"),
    )
    return (
        orders.drop("created_ts", "updated_ts")
        .join(buyer_cols, "buyer_id", "left")
        .join(per_order, "order_id", "left")
        .join(clicks_per_order, "order_id", "left")
        .select(
            "order_id",
            "order_date",
            "order_ts",
            "status",
            "buyer_id",
            "buyer_username",
            "buyer_first_name",
            "buyer_last_name",
            "buyer_country",
            F.coalesce("item_count", F.lit(0)).alias("item_count"),
            F.coalesce("units", F.lit(0)).alias("units"),
            # An order without items earns nothing but still counts as an order of its day.
            F.coalesce("order_revenue", F.lit(0).cast("decimal(10,2)")).alias("order_revenue"),
            F.coalesce("click_events", F.lit(0)).alias("click_events"),
        )
    )


def exact_median(frame: DataFrame, groups: list[str], value: str, alias: str) -> DataFrame:
    """The exact median of `value` per group: the middle value, or the mean of the two middle ones."""
    window = Window.partitionBy(*groups).orderBy(value)
    ranked = (
        frame.select(*groups, value)
        .withColumn("_rank", F.row_number().over(window))
        .withColumn("_count", F.count("*").over(Window.partitionBy(*groups)))
    )
    middle = ranked.where(
        (F.col("_rank") == F.floor((F.col("_count") + 1) / 2))
        | (F.col("_rank") == F.ceil((F.col("_count") + 1) / 2))
    )
    return middle.groupBy(*groups).agg(F.avg(value).cast(MEAN).alias(alias))


def daily_category_metrics(items: DataFrame) -> DataFrame:
    """Per order day and category: items, mean and exact median item revenue (cancelled orders out).

    An item counts once in every category of its product.
    """
    exploded = items.where(F.col("status") != CANCELLED).select(
        "order_date", F.explode("categories").alias("category"), "item_revenue"
    )
    groups = ["order_date", "category"]
    means = exploded.groupBy(*groups).agg(
        F.count("*").alias("items"),
        F.sum("item_revenue").alias("total_revenue"),
        F.avg("item_revenue").cast(MEAN).alias("mean_revenue"),
    )
    return means.join(exact_median(exploded, groups, "item_revenue", "median_revenue"), groups).select(
        *CATEGORY_REPORT.column_names
    )


def daily_order_metrics(orders: DataFrame) -> DataFrame:
    """Per order day: orders, total revenue and mean revenue per order (cancelled orders out)."""
    return (
        orders.where(F.col("status") != CANCELLED)
        .groupBy("order_date")
        .agg(F.count("*").alias("orders"), F.sum("order_revenue").alias("total_revenue"))
        .withColumn("mean_revenue", (F.col("total_revenue") / F.col("orders")).cast(MEAN))
        .select(*ORDER_REPORT.column_names)
    )


# --- checks: the rows at fault ----------------------------------------------------------------------------
def duplicate_keys(frame: DataFrame, keys: list[str], detail: str | None = None) -> DataFrame:
    """Keys appearing more than once, with how often (and the `detail` values, e.g. the item ids)."""
    aggregates = [F.count("*").alias("copies")]
    if detail:
        aggregates.append(F.array_sort(F.collect_list(detail)).alias(f"{detail}s"))
    return frame.groupBy(*keys).agg(*aggregates).where("copies > 1").orderBy(*keys)


def mean_revenue_too_high(metrics: DataFrame, limit: int = MAX_MEAN_REVENUE) -> DataFrame:
    """Report rows whose mean revenue is not below the limit (or is missing)."""
    return metrics.where(F.col("mean_revenue").isNull() | (F.col("mean_revenue") >= limit))
