"""dbt gold models of the marketplace against an independent pandas computation, on a small local lake.

Silver is built with the real silver code (Spark + Delta) from a small generated dataset; dbt-duckdb reads
it with delta_scan. A second round of new and updated orders checks the incremental models and MERGE.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from shopflow_assets.contracts.marketplace import BY_NAME
from shopflow_assets.domains.marketplace.pipeline import SilverPaths
from shopflow_assets.resources.spark import get_spark_session
from shopflow_assets_tests.support import marketplace_reference as ref
from shopflow_assets_tests.support.marketplace import dbt_build, load_silver

pytestmark = pytest.mark.unit


def gold(warehouse: Path, name: str, key: list[str]) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(f"select * from {name} order by {', '.join(key)}").df()


def assert_frames_match(actual: pd.DataFrame, expected: pd.DataFrame, key: list[str], columns: list[str]):
    expected = expected.sort_values(key).reset_index(drop=True)
    actual = actual.sort_values(key).reset_index(drop=True)
    assert list(actual[key].astype(str).itertuples(index=False)) == list(
        expected[key].astype(str).itertuples(index=False)
    )
    for column in columns:
        got = actual[column].astype(float).to_numpy()
        want = expected[column].astype(float).to_numpy()
        assert got == pytest.approx(want, abs=0.011, nan_ok=True), column


def check_all_gold(warehouse: Path, tables: dict[str, pd.DataFrame]) -> None:
    daily = gold(warehouse, "gold_daily_sales", ["order_date"])
    daily["order_date"] = (
        daily["order_date"].dt.date if hasattr(daily["order_date"], "dt") else daily["order_date"]
    )
    assert_frames_match(
        daily,
        ref.daily_sales(tables),
        ["order_date"],
        ["total_orders", "total_revenue", "avg_order_value", "total_items"],
    )
    assert_frames_match(
        gold(warehouse, "gold_seller_performance", ["seller_id"]),
        ref.seller_performance(tables),
        ["seller_id"],
        ["total_orders", "total_revenue", "avg_review_score", "avg_delivery_days"],
    )
    rfm = gold(warehouse, "gold_customer_rfm", ["customer_unique_id"])
    expected_rfm = ref.customer_rfm(tables)
    assert_frames_match(rfm, expected_rfm, ["customer_unique_id"], ["recency_days", "frequency", "monetary"])
    assert list(rfm["rfm_segment"]) == list(expected_rfm.sort_values("customer_unique_id")["rfm_segment"])
    assert_frames_match(
        gold(warehouse, "gold_product_analytics", ["product_category"]),
        ref.product_analytics(tables),
        ["product_category"],
        ["total_sold", "total_revenue", "avg_price", "avg_review_score"],
    )
    delivery = gold(warehouse, "gold_delivery_performance", ["seller_state", "customer_state"])
    assert_frames_match(
        delivery,
        ref.delivery_performance(tables),
        ["seller_state", "customer_state"],
        ["total_deliveries", "avg_delivery_days", "on_time_rate", "late_rate"],
    )
    assert delivery["on_time_rate"].between(0, 1).all() and delivery["late_rate"].between(0, 1).all()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("olist_lake")
    lake_root = str(root / "lakehouse")
    paths = SilverPaths(f"{lake_root}/bronze", f"{lake_root}/silver", f"{lake_root}/quarantine")
    return root, lake_root, paths


def test_gold_equals_independent_computation_then_updates_incrementally(lake):
    root, lake_root, paths = lake
    spark = get_spark_session()
    warehouse = root / "warehouse.duckdb"
    tables = ref.small_olist(160, seed=11)
    load_silver(spark, paths, tables, "2024-01-01T00:00:00Z", 0)
    dbt_build(lake_root, warehouse)
    check_all_gold(warehouse, tables)
    first_daily = gold(warehouse, "gold_daily_sales", ["order_date"]).set_index("order_date")

    # Second round: new orders, an order canceled after delivery, a price correction, and a late (older)
    # message that must not win.
    delivered = tables["orders"].index[tables["orders"]["order_status"] == "delivered"]
    canceled_idx, repriced_idx = delivered[0], delivered[1]
    updated = {name: frame.copy() for name, frame in tables.items()}
    updated["orders"].loc[canceled_idx, "order_status"] = "canceled"
    repriced_order = updated["orders"].loc[repriced_idx, "order_id"]
    item_mask = updated["order_items"]["order_id"] == repriced_order
    updated["order_items"].loc[item_mask, "price"] = "1234.50"
    repriced_items = updated["order_items"].index[item_mask]

    # Moves, whose old keys still have other sales and must be recomputed too: an order bought three days
    # earlier, another order given to another customer, an item sold by another seller and an item
    # switched to a product of another category.
    orders = updated["orders"]
    moved_idx, rehomed_idx = delivered[2], delivered[3]
    moved_from = pd.Timestamp(orders.loc[moved_idx, "order_purchase_timestamp"])
    orders.loc[moved_idx, "order_purchase_timestamp"] = (moved_from - pd.Timedelta(days=3)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    orders.loc[rehomed_idx, "customer_id"] = orders.loc[delivered[4], "customer_id"]
    items = updated["order_items"]
    untouched_orders = set(orders.loc[delivered[5:], "order_id"])
    reseller_idx, recategorized_idx = items.index[items["order_id"].isin(untouched_orders)][:2]
    items.loc[reseller_idx, "seller_id"] = next(
        s for s in updated["sellers"]["seller_id"] if s != items.loc[reseller_idx, "seller_id"]
    )
    category = updated["products"].set_index("product_id")["product_category_name"].to_dict()
    items.loc[recategorized_idx, "product_id"] = next(
        p for p, c in category.items() if c != category[items.loc[recategorized_idx, "product_id"]]
    )
    moved_orders = [canceled_idx, moved_idx, rehomed_idx]
    moved_items = [*repriced_items, reseller_idx, recategorized_idx]
    extra = ref.small_olist(20, seed=99)
    for name in ("orders", "order_items", "customers", "order_reviews"):
        frame = extra[name].copy()
        for col in ("order_id", "customer_id", "review_id"):
            if col in frame:
                frame[col] = "new-" + frame[col]
        updated[name] = pd.concat([updated[name], frame], ignore_index=True)

    changed = {
        "orders": pd.concat(
            [updated["orders"].loc[moved_orders], updated["orders"].iloc[len(tables["orders"]) :]]
        ),
        "order_items": pd.concat(
            [
                updated["order_items"].loc[moved_items],
                updated["order_items"].iloc[len(tables["order_items"]) :],
            ]
        ),
        "customers": updated["customers"].iloc[len(tables["customers"]) :],
        "order_reviews": updated["order_reviews"].iloc[len(tables["order_reviews"]) :],
        "category_translation": tables["category_translation"],
    }
    load_silver(spark, paths, changed, "2024-01-02T00:00:00Z", 1)
    stale = {"orders": updated["orders"].loc[[repriced_idx]].assign(order_status="canceled")}
    stale["category_translation"] = tables["category_translation"]
    load_silver(spark, paths, stale, "2023-12-31T00:00:00Z", 2)  # older than silver: ignored

    dbt_build(lake_root, warehouse)
    check_all_gold(warehouse, updated)

    # Incremental: the days no change touched kept their first-run rows.
    second_daily = gold(warehouse, "gold_daily_sales", ["order_date"]).set_index("order_date")
    touched_orders = [*moved_orders, repriced_idx]
    touched_orders += list(orders.index[orders["order_id"].isin(items.loc[moved_items, "order_id"])])
    touched = set(pd.to_datetime(orders.loc[touched_orders, "order_purchase_timestamp"]).dt.date)
    touched |= set(pd.to_datetime(tables["orders"].loc[touched_orders, "order_purchase_timestamp"]).dt.date)
    touched |= set(pd.to_datetime(extra["orders"]["order_purchase_timestamp"]).dt.date)
    untouched = [d for d in first_daily.index if d.date() not in touched and d in second_daily.index]
    assert untouched, "the dataset should leave some days untouched"
    assert (
        second_daily.loc[untouched, "_gold_updated_at"] == first_daily.loc[untouched, "_gold_updated_at"]
    ).all()
    recomputed = [d for d in second_daily.index if d.date() in touched]
    assert (second_daily.loc[recomputed, "_gold_updated_at"] > first_daily["_gold_updated_at"].max()).all()
    assert BY_NAME["orders"].keys == ("order_id",)
