"""Checks of the Olist tables: bronze completeness and silver rules (evaluated by the assets that write them,
with Spark), and the gold suite after dbt (Pandera ranges, freshness, gold = silver totals).
"""

import datetime as dt

import dagster as dg
import pandera.pandas as pa
from pyspark.sql import functions as F

from shopflow_assets.contracts.marketplace import GOLD_SCHEMAS, MAX_AMOUNT, ORDER_STATUSES, TableContract
from shopflow_assets.domains.marketplace import bronze_key, key, silver_key
from shopflow_assets.resources.warehouse import WarehouseResource

# --- bronze and silver ---------------------------------------------------------------------------------


def bronze_check_specs(table: TableContract) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "schema_and_ids_complete",
            asset=bronze_key(table),
            blocking=True,
            description="every contract column present; no null primary key",
        )
    ]


def bronze_check_result(spark, path: str, table: TableContract) -> dg.AssetCheckResult:
    frame = spark.read.format("delta").load(path)
    missing_columns = [c for c in table.columns if c not in frame.columns]
    null_ids = (
        frame.where(" OR ".join(f"`{k}` IS NULL" for k in table.keys)).count()
        if table.keys and not missing_columns
        else 0
    )
    return dg.AssetCheckResult(
        asset_key=bronze_key(table),
        check_name="schema_and_ids_complete",
        passed=not missing_columns and null_ids == 0,
        metadata={"missing_columns": missing_columns, "null_ids": null_ids},
    )


def silver_check_specs(table: TableContract) -> list[dg.AssetCheckSpec]:
    from shopflow_assets.domains.marketplace.quarantine_ratio import CHECK_NAME

    specs = [
        dg.AssetCheckSpec("unique_keys", asset=silver_key(table), blocking=True),
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=silver_key(table),
            blocking=True,
            description="at most max_quarantine_share of the run's input quarantined; names rule, column, samples",
        ),
    ]
    if table.name == "orders":
        specs.append(dg.AssetCheckSpec("allowed_statuses", asset=silver_key(table), blocking=True))
    if table.non_negative:
        specs.append(dg.AssetCheckSpec("amounts_in_range", asset=silver_key(table), blocking=True))
    return specs


def silver_check_results(session, path: str, table: TableContract) -> list[dg.AssetCheckResult]:
    """Uniqueness, allowed statuses and amount ranges of a silver table."""
    frame = session.read.format("delta").load(path)
    total = frame.count()
    distinct = frame.select(*table.keys).distinct().count()
    results = [
        dg.AssetCheckResult(
            asset_key=silver_key(table),
            check_name="unique_keys",
            passed=total == distinct,
            metadata={"rows": total, "duplicate_keys": total - distinct},
        )
    ]
    if table.name == "orders":
        bad = frame.where(
            ~F.col("order_status").isin(*ORDER_STATUSES) | F.col("order_status").isNull()
        ).count()
        results.append(
            dg.AssetCheckResult(
                asset_key=silver_key(table),
                check_name="allowed_statuses",
                passed=bad == 0,
                metadata={"rows_with_unknown_status": bad},
            )
        )
    if table.non_negative:
        condition = " OR ".join(f"`{c}` < 0 OR `{c}` > {MAX_AMOUNT}" for c in table.non_negative)
        bad = frame.where(condition).count()
        results.append(
            dg.AssetCheckResult(
                asset_key=silver_key(table),
                check_name="amounts_in_range",
                passed=bad == 0,
                metadata={"rows_out_of_range": bad, "range": f"[0, {MAX_AMOUNT}]"},
            )
        )
    return results


# --- gold --------------------------------------------------------------------------------------------

# Gold must have been rebuilt within this window to count as fresh (the pipeline runs daily at 06:00).
MAX_GOLD_AGE = dt.timedelta(hours=26)

GOLD_TOTALS_SQL = """
with silver as (
    select sum(i.price + i.freight_value) as revenue, count(distinct o.order_id) as orders
    from stg_olist__order_items i join stg_olist__orders o using (order_id)
    where o.order_status = 'delivered'
)
select
    (select sum(total_revenue) from gold_daily_sales) as gold_revenue,
    (select sum(total_orders) from gold_daily_sales) as gold_orders,
    silver.revenue as silver_revenue,
    silver.orders as silver_orders,
    (select max(_gold_updated_at) from gold_daily_sales) as refreshed_at
from silver
"""


def pandera_failures(schema: pa.DataFrameSchema, frame) -> tuple[int, list[str]]:
    """(number of failure cases, a few readable ones) of a lazy Pandera validation."""
    try:
        schema.validate(frame, lazy=True)
        return 0, []
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        sample = [f"{r['column']}: {r['check']} ({r['failure_case']})" for _, r in cases.head(5).iterrows()]
        return len(cases), sample


@dg.multi_asset_check(
    specs=[
        *[dg.AssetCheckSpec("pandera_contract", asset=key(name), blocking=True) for name in GOLD_SCHEMAS],
        dg.AssetCheckSpec("gold_equals_silver_totals", asset=key("gold_daily_sales"), blocking=True),
        dg.AssetCheckSpec("fresh", asset=key("gold_daily_sales"), blocking=True),
    ],
    name="olist_gold_checks",
)
def olist_gold_checks(warehouse: WarehouseResource):
    with warehouse.connect() as con:
        yield from evaluate_gold(con)


def evaluate_gold(con) -> list[dg.AssetCheckResult]:
    """Every gold check on an open warehouse connection (also run by Airflow's quality task)."""
    results = []
    for name, schema in GOLD_SCHEMAS.items():
        frame = con.sql(f"select * from {name}").df()  # nosec B608 # table names are the GOLD_SCHEMAS constants
        failures, sample = pandera_failures(schema, frame)
        results.append(
            dg.AssetCheckResult(
                asset_key=key(name),
                check_name="pandera_contract",
                passed=failures == 0 and len(frame) > 0,
                metadata={"rows": len(frame), "failure_cases": failures, "examples": sample},
            )
        )
    gold_revenue, gold_orders, silver_revenue, silver_orders, refreshed_at = con.sql(
        GOLD_TOTALS_SQL
    ).fetchone()
    results.append(
        dg.AssetCheckResult(
            asset_key=key("gold_daily_sales"),
            check_name="gold_equals_silver_totals",
            passed=gold_revenue == silver_revenue and gold_orders == silver_orders,
            metadata={
                "gold_revenue": float(gold_revenue or 0),
                "silver_revenue": float(silver_revenue or 0),
                "gold_orders": int(gold_orders or 0),
                "silver_orders": int(silver_orders or 0),
            },
        )
    )
    age = dt.datetime.now(dt.UTC).replace(tzinfo=None) - refreshed_at if refreshed_at else None
    results.append(
        dg.AssetCheckResult(
            asset_key=key("gold_daily_sales"),
            check_name="fresh",
            passed=age is not None and age <= MAX_GOLD_AGE,
            metadata={
                "refreshed_at": str(refreshed_at),
                "max_age_hours": MAX_GOLD_AGE.total_seconds() / 3600,
            },
        )
    )
    return results
