"""The checks that block publication of the interface: duplicates in gold and mean revenue in range.

They are blocking asset checks on the gold assets (declared in assets.py, evaluated right after gold
is written for the run's days): a failure fails the gold step, so the interface step never runs and
the report views keep the content published last. Each failure names the rows at fault.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg
from pyspark.sql import DataFrame, SparkSession

from shopflow_assets.domains.rainforest import transforms as T
from shopflow_assets.domains.rainforest.pipeline import RainforestLake, gold_days, silver_days

SHOWN = 20  # offending rows listed in a check's message and metadata


@dataclass(frozen=True)
class CheckDef:
    asset: str
    name: str
    description: str


CHECKS = (
    CheckDef("wide_orders", "no_duplicate_orders", "every order_id once in wide_orders"),
    CheckDef(
        "wide_orders",
        "no_duplicate_click_events",
        "every click event once among the events wide_orders counts (event_id)",
    ),
    CheckDef(
        "wide_order_items",
        "no_duplicate_items",
        "every item once in wide_order_items: by order_item_id and by order line (order, product, seller)",
    ),
    CheckDef("daily_category_metrics", "mean_revenue_below_100000", "every mean revenue < 100,000"),
    CheckDef("daily_order_metrics", "mean_revenue_below_100000", "every mean revenue < 100,000"),
)


def _describe(rows: list, columns: list[str]) -> list[str]:
    return [", ".join(f"{c}={getattr(r, c)}" for c in columns) for r in rows]


def _result(check: CheckDef, key, offenders: DataFrame, columns: list[str], what: str, days: str):
    total = offenders.count()
    shown = _describe(offenders.limit(SHOWN).collect(), columns) if total else []
    message = (
        f"{check.name} passed for {days}"
        if not total
        else f"{check.name} FAILED for {days}: {total} {what} in rainforest/{check.asset}; "
        f"publication of the interface is blocked. First: " + "; ".join(shown[:5])
    )
    return dg.AssetCheckResult(
        asset_key=key(check.asset),
        check_name=check.name,
        passed=total == 0,
        description=message,
        metadata={"offending_rows": total, "rows_at_fault": dg.MetadataValue.json(shown), "days": days},
    )


def evaluate_gold_checks(
    spark: SparkSession, lake: RainforestLake, first: dt.date, last: dt.date, key
) -> list[dg.AssetCheckResult]:
    """Every publication check on the gold rows of days first..last."""
    days = first.isoformat() if first == last else f"{first}..{last}"
    wide = gold_days(spark, lake, "wide_orders", first, last)
    items = gold_days(spark, lake, "wide_order_items", first, last)
    clicks = silver_days(spark, lake, "fact_clickstream", first, last)
    by_id = T.duplicate_keys(items, ["order_item_id"])
    by_line = T.duplicate_keys(items, ["order_id", "product_id", "seller_id"], "order_item_id")
    checks = {(c.asset, c.name): c for c in CHECKS}
    return [
        _result(
            checks[("wide_orders", "no_duplicate_orders")],
            key,
            T.duplicate_keys(wide, ["order_id"]),
            ["order_id", "copies"],
            "duplicated orders",
            days,
        ),
        _result(
            checks[("wide_orders", "no_duplicate_click_events")],
            key,
            T.duplicate_keys(clicks, ["event_id"]),
            ["event_id", "copies"],
            "duplicated click events",
            days,
        ),
        _result(
            checks[("wide_order_items", "no_duplicate_items")],
            key,
            # The same item id twice, or one order line (order, product, seller) under two item ids.
            by_line.unionByName(
                by_id.selectExpr(
                    "NULL AS order_id",
                    "NULL AS product_id",
                    "NULL AS seller_id",
                    "copies",
                    "array(order_item_id) AS order_item_ids",
                )  # fmt: skip
            ),
            ["order_id", "product_id", "seller_id", "copies", "order_item_ids"],
            "duplicated items",
            days,
        ),
        _result(
            checks[("daily_category_metrics", "mean_revenue_below_100000")],
            key,
            T.mean_revenue_too_high(gold_days(spark, lake, "daily_category_metrics", first, last)),
            ["order_date", "category", "mean_revenue"],
            "report rows with mean revenue >= 100,000",
            days,
        ),
        _result(
            checks[("daily_order_metrics", "mean_revenue_below_100000")],
            key,
            T.mean_revenue_too_high(gold_days(spark, lake, "daily_order_metrics", first, last)),
            ["order_date", "mean_revenue"],
            "report rows with mean revenue >= 100,000",
            days,
        ),
    ]
