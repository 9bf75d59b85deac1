"""The checks that block publication of the interface: duplicates in gold and mean revenue in range.

They are blocking asset checks on the gold assets (declared in assets.py, evaluated right after gold
is written for the run's days): a failure fails the gold step, so the interface step never runs and
the report views keep the content published last. Each failure names the rows at fault.
The rules (the keys guarded, the order line, the revenue limit) are the contract's (`contracts/rainforest.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from shopflow_assets.contracts.rainforest import MAX_MEAN_REVENUE, ORDER_LINE, REPORTS, SOURCE_KEYS

# The check specs are read when the code location loads; Spark and the pipeline only when a run evaluates.
if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shopflow_assets.domains.rainforest.pipeline import RainforestLake

SHOWN = 20  # offending rows listed in a check's message and metadata
MEAN_REVENUE_CHECK = f"mean_revenue_below_{MAX_MEAN_REVENUE}"
TOO_HIGH = f"report rows with mean revenue >= {MAX_MEAN_REVENUE:,}"
# The grain the duplicate checks guard: one row per order, per item and per click event of the source.
ORDER_KEY, ITEM_KEY, EVENT_KEY = (list(SOURCE_KEYS[t]) for t in ("orders", "order_items", "clickstream"))


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
    *(
        CheckDef(metrics, MEAN_REVENUE_CHECK, f"every mean revenue < {MAX_MEAN_REVENUE:,}")
        for metrics in (report.gold for report in REPORTS.values())
    ),
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
    from shopflow_assets.domains.rainforest import transforms as T
    from shopflow_assets.domains.rainforest.pipeline import gold_days, silver_days

    days = first.isoformat() if first == last else f"{first}..{last}"
    wide = gold_days(spark, lake, "wide_orders", first, last)
    items = gold_days(spark, lake, "wide_order_items", first, last)
    clicks = silver_days(spark, lake, "fact_clickstream", first, last)
    (item_id,) = ITEM_KEY
    by_id = T.duplicate_keys(items, ITEM_KEY)
    by_line = T.duplicate_keys(items, list(ORDER_LINE), item_id)  # with the item ids of each line
    checks = {(c.asset, c.name): c for c in CHECKS}
    return [
        _result(
            checks[("wide_orders", "no_duplicate_orders")],
            key,
            T.duplicate_keys(wide, ORDER_KEY),
            [*ORDER_KEY, "copies"],
            "duplicated orders",
            days,
        ),
        _result(
            checks[("wide_orders", "no_duplicate_click_events")],
            key,
            T.duplicate_keys(clicks, EVENT_KEY),
            [*EVENT_KEY, "copies"],
            "duplicated click events",
            days,
        ),
        _result(
            checks[("wide_order_items", "no_duplicate_items")],
            key,
            # The same item id twice, or one order line (order, product, seller) under two item ids.
            by_line.unionByName(
                by_id.selectExpr(
                    *(f"NULL AS {c}" for c in ORDER_LINE), "copies", f"array({item_id}) AS {item_id}s"
                )
            ),
            [*ORDER_LINE, "copies", f"{item_id}s"],
            "duplicated items",
            days,
        ),
        _result(
            checks[("daily_category_metrics", MEAN_REVENUE_CHECK)],
            key,
            T.mean_revenue_too_high(gold_days(spark, lake, "daily_category_metrics", first, last)),
            ["order_date", "category", "mean_revenue"],
            TOO_HIGH,
            days,
        ),
        _result(
            checks[("daily_order_metrics", MEAN_REVENUE_CHECK)],
            key,
            T.mean_revenue_too_high(gold_days(spark, lake, "daily_order_metrics", first, last)),
            ["order_date", "mean_revenue"],
            TOO_HIGH,
            days,
        ),
    ]
