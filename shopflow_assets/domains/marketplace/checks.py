"""Checks of the Olist tables: bronze completeness and silver rules (evaluated by the assets that write them,
with Spark), and gold freshness after dbt.

The gold rules (keys, ranges, accepted values, gold = silver totals) are dbt tests next to the models
(`dbt_project/models/marts/olist/_olist__marts.yml`, `dbt_project/tests/olist/`), which dagster-dbt
turns into asset checks: each rule lives in one place. Only freshness, which is about when the pipeline
last ran rather than about the rows, is checked here.
"""

import datetime as dt

import dagster as dg

from shopflow_assets.contracts.marketplace import MAX_AMOUNT, ORDER_STATUSES, TableContract
from shopflow_assets.domains.marketplace import bronze_key, key, silver_key
from shopflow_assets.resources.warehouse import WarehouseResource

# --- bronze and silver ---------------------------------------------------------------------------------


def bronze_check_specs(table: TableContract) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "schema_and_ids_complete",
            asset=bronze_key(table),
            blocking=True,
            description="every contract column in the table; no null primary key in the rows this run wrote",
        )
    ]


def bronze_check_result(spark, path: str, table: TableContract, null_ids: int) -> dg.AssetCheckResult:
    """The columns are read from the Delta table's schema (metadata only); `null_ids` was counted on the
    rows as they were written (the writer's cached batch), so no step re-reads bronze to check it."""
    columns = spark.read.format("delta").load(path).columns
    missing_columns = [c for c in table.columns if c not in columns]
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
    """Uniqueness, allowed statuses and amount ranges of the whole silver table, in one pass over it."""
    from pyspark.sql import functions as F  # at run time: the code location loads without pyspark

    from shopflow_assets.domains.marketplace.quarantine_ratio import CHECK_NAME
    from shopflow_assets.resources.delta_sql import is_delta_table

    if not is_delta_table(session, path):
        # No silver table yet because its bronze was never loaded: the CSV tables' bronze comes with the
        # first olist_pipeline run, and the streams' sensor can run olist_bronze_silver before it. No row
        # can break a rule; reading the missing table would fail the run.
        return [
            dg.AssetCheckResult(
                asset_key=silver_key(table),
                check_name=spec.name,
                passed=True,
                metadata={"rows": 0},
                description=f"no silver table yet at {path}: its bronze has not been loaded",
            )
            for spec in silver_check_specs(table)
            if spec.name != CHECK_NAME  # the quarantine share has its own result
        ]
    frame = session.read.format("delta").load(path)
    measures = [F.count("*").alias("rows"), F.count_distinct(*[F.col(k) for k in table.keys]).alias("keys")]
    if table.name == "orders":
        unknown = ~F.col("order_status").isin(*ORDER_STATUSES) | F.col("order_status").isNull()
        measures.append(F.count_if(unknown).alias("unknown_status"))
    if table.non_negative:
        out_of_range = F.expr(" OR ".join(f"`{c}` < 0 OR `{c}` > {MAX_AMOUNT}" for c in table.non_negative))
        measures.append(F.count_if(out_of_range).alias("out_of_range"))
    row = frame.agg(*measures).first()
    total, duplicates = row["rows"], row["rows"] - row["keys"]
    results = [
        dg.AssetCheckResult(
            asset_key=silver_key(table),
            check_name="unique_keys",
            passed=duplicates == 0,
            metadata={"rows": total, "duplicate_keys": duplicates},
        )
    ]
    if table.name == "orders":
        results.append(
            dg.AssetCheckResult(
                asset_key=silver_key(table),
                check_name="allowed_statuses",
                passed=row["unknown_status"] == 0,
                metadata={"rows_with_unknown_status": row["unknown_status"]},
            )
        )
    if table.non_negative:
        results.append(
            dg.AssetCheckResult(
                asset_key=silver_key(table),
                check_name="amounts_in_range",
                passed=row["out_of_range"] == 0,
                metadata={"rows_out_of_range": row["out_of_range"], "range": f"[0, {MAX_AMOUNT}]"},
            )
        )
    return results


# --- gold --------------------------------------------------------------------------------------------

# Gold must have been rebuilt within this window to count as fresh (the pipeline runs daily at 06:00).
MAX_GOLD_AGE = dt.timedelta(hours=26)

GOLD_REFRESHED_SQL = "select max(_gold_updated_at) from gold_daily_sales"


@dg.asset_check(asset=key("gold_daily_sales"), name="fresh", blocking=True, description="rebuilt within 26 h")
def olist_gold_fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        return evaluate_gold_freshness(con)


def evaluate_gold_freshness(con, now: dt.datetime | None = None) -> dg.AssetCheckResult:
    """Whether gold was rebuilt within MAX_GOLD_AGE, on an open warehouse connection (also run by
    `shopflow olist quality`, Airflow's quality task)."""
    refreshed_at = con.sql(GOLD_REFRESHED_SQL).fetchone()[0]
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    age = now - refreshed_at if refreshed_at else None
    return dg.AssetCheckResult(
        asset_key=key("gold_daily_sales"),
        check_name="fresh",
        passed=age is not None and age <= MAX_GOLD_AGE,
        metadata={"refreshed_at": str(refreshed_at), "max_age_hours": MAX_GOLD_AGE.total_seconds() / 3600},
    )
