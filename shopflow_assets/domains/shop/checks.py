"""Blocking checks on the warehouse star schema: when one fails, the dbt gold models of the run do not run.

They run in one op after the load (one DuckDB connection, no lock contention) and look at the
whole tables, so they also catch what a single day's frame cannot: a key repeated across days, a fact
row whose dimension row is gone.
"""

from collections.abc import Callable

import dagster as dg

from shopflow_assets.domains.shop.assets import shop_daily_partitions
from shopflow_assets.resources.warehouse import WarehouseResource

FACT_ORDERS = dg.AssetKey(["shop", "fact_orders"])
DIM_USERS = dg.AssetKey(["shop", "dim_users"])
DIM_PRODUCTS = dg.AssetKey(["shop", "dim_products"])
DIM_DATE = dg.AssetKey(["shop", "dim_date"])

# (check name, asset, description, SQL returning (failing_count, sample) for the day `$day`)
_CHECKS: list[tuple[str, dg.AssetKey, str, str]] = [
    (
        "fact_orders_has_rows",
        FACT_ORDERS,
        "The day has at least one order in fact_orders.",
        "SELECT CASE WHEN count(*) = 0 THEN 1 ELSE 0 END, 'no rows for ' || $day "
        "FROM fact_orders WHERE order_date = CAST($day AS DATE)",
    ),
    (
        "fact_orders_no_negative_amounts",
        FACT_ORDERS,
        "No order has a negative total_amount or a non-positive unit_price.",
        "SELECT count(*), string_agg(order_id, ', ') FILTER (WHERE order_id IS NOT NULL) "
        "FROM (SELECT order_id FROM fact_orders WHERE order_date = CAST($day AS DATE) "
        "AND (total_amount < 0 OR unit_price <= 0) LIMIT 1000)",
    ),
    (
        "fact_orders_unique_order_id",
        FACT_ORDERS,
        "order_id is unique in the whole fact table (not only within the day).",
        "SELECT count(*), string_agg(order_id, ', ') FROM (SELECT order_id FROM fact_orders GROUP BY order_id "
        "HAVING count(*) > 1 AND bool_or(order_date = CAST($day AS DATE)) LIMIT 1000)",
    ),
    (
        "fact_orders_referential_integrity",
        FACT_ORDERS,
        "Every order of the day has its user in dim_users, its product in dim_products and its day in dim_date.",
        "SELECT count(*), string_agg(order_id, ', ') FROM (SELECT f.order_id FROM fact_orders f "
        "LEFT JOIN dim_users u ON f.user_id = u.user_id LEFT JOIN dim_products p ON f.product_id = p.product_id "
        "LEFT JOIN dim_date d ON f.date_key = d.date_key WHERE f.order_date = CAST($day AS DATE) "
        "AND (u.user_id IS NULL OR p.product_id IS NULL OR d.date_key IS NULL) LIMIT 1000)",
    ),
    (
        "dim_products_positive_price",
        DIM_PRODUCTS,
        "Every product has a price > 0.",
        "SELECT count(*), string_agg(product_id, ', ') FROM (SELECT product_id FROM dim_products "
        "WHERE price <= 0 OR price IS NULL LIMIT 1000)",
    ),
    (
        "dim_products_unique_product_id",
        DIM_PRODUCTS,
        "product_id is unique in dim_products.",
        "SELECT count(*), string_agg(product_id, ', ') FROM (SELECT product_id FROM dim_products "
        "GROUP BY product_id HAVING count(*) > 1 LIMIT 1000)",
    ),
    (
        "dim_users_unique_user_id",
        DIM_USERS,
        "user_id is unique in dim_users.",
        "SELECT count(*), string_agg(user_id, ', ') FROM (SELECT user_id FROM dim_users "
        "GROUP BY user_id HAVING count(*) > 1 LIMIT 1000)",
    ),
    (
        "dim_date_unique_date_key",
        DIM_DATE,
        "date_key is unique in dim_date.",
        "SELECT count(*), string_agg(CAST(date_key AS VARCHAR), ', ') FROM (SELECT date_key FROM dim_date "
        "GROUP BY date_key HAVING count(*) > 1 LIMIT 1000)",
    ),
]

CHECK_SPECS = [
    dg.AssetCheckSpec(
        name=name,
        asset=asset,
        description=description,
        blocking=True,
        additional_deps=[key for key in (FACT_ORDERS, DIM_USERS, DIM_PRODUCTS, DIM_DATE) if key != asset],
    )
    for name, asset, description, _ in _CHECKS
]


def evaluate_checks(run_sql: Callable[[str, dict], tuple], day: str) -> list[dg.AssetCheckResult]:
    """Run every check for `day` through `run_sql(sql, params) -> (failing, sample)`."""
    results = []
    for name, asset, _description, sql in _CHECKS:
        failing, sample = run_sql(sql, {"day": day} if "$day" in sql else {})
        failing = int(failing or 0)
        results.append(
            dg.AssetCheckResult(
                check_name=name,
                asset_key=asset,
                passed=failing == 0,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"failing_rows": failing, "sample": (sample or "")[:500], "day": day},
            )
        )
    return results


@dg.multi_asset_check(specs=CHECK_SPECS, name="shop_star_schema_checks")
def shop_star_schema_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    day = _run_partition(context)
    with warehouse.connect() as conn:
        yield from evaluate_checks(lambda sql, params: conn.execute(sql, params).fetchone(), day)


def _run_partition(context: dg.AssetCheckExecutionContext) -> str:
    """The day the run materializes (checks of a partitioned run see its partition tag)."""
    day = context.run.tags.get("dagster/partition")
    if day is None:
        raise dg.Failure(
            "shop star schema checks need a partition: run them with the shop assets of one day "
            f"(partitions from {shop_daily_partitions.start:%Y-%m-%d})"
        )
    return day
