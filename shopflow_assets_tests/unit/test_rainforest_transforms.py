"""The rainforest silver/gold transformations on a few hand-made rows (local Spark, no services).

Expected numbers are worked out by hand or with Python's `statistics` on the same rows.
"""

from __future__ import annotations

import datetime as dt
import statistics
from decimal import Decimal

import pytest
from pyspark.sql import Row

from shopflow_assets.domains.rainforest import transforms as T
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit

D1 = dt.date(2026, 11, 1)
D2 = dt.date(2026, 11, 2)
UTC = dt.UTC


def ts(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


def frame(spark, rows: list[dict]):
    return spark.createDataFrame([Row(**r) for r in rows])


@pytest.fixture(scope="module")
def source(spark):
    """Two buyers and one seller (users 1, 2 buyers; user 3 seller whose seller_id is 1 like buyer 1)."""
    day0 = ts(D1, 0, 1)
    users = [
        {
            "user_id": u,
            "username": f"u{u}",
            "email": f"u{u}@x",
            "is_active": True,
            "created_ts": day0,
            "updated_ts": day0,
        }
        for u in (1, 2, 3)
    ]
    buyers = [
        {
            "buyer_id": 1,
            "user_id": 1,
            "first_name": "Ana",
            "last_name": "A",
            "country": "US",
            "created_ts": day0,
            "updated_ts": day0,
        },
        {
            "buyer_id": 2,
            "user_id": 2,
            "first_name": "Ben",
            "last_name": "B",
            "country": "GB",
            "created_ts": day0,
            "updated_ts": day0,
        },
        # buyer 2 moved on day 2: the newest version wins
        {
            "buyer_id": 2,
            "user_id": 2,
            "first_name": "Ben",
            "last_name": "B",
            "country": "FR",
            "created_ts": day0,
            "updated_ts": ts(D2, 1),
        },
    ]
    sellers = [
        {
            "seller_id": 1,
            "user_id": 3,
            "store_name": "Shop",
            "country": "DE",
            "rating": Decimal("4.5"),
            "created_ts": day0,
            "updated_ts": day0,
        }
    ]
    categories = [
        {"category_id": c, "name": n, "created_ts": day0, "updated_ts": day0}
        for c, n in ((1, "books"), (2, "toys"))
    ]
    products = [
        {
            "product_id": 10,
            "name": "P10",
            "brand_id": 1,
            "manufacturer_id": 1,
            "base_price": Decimal("10.00"),
            "created_ts": day0,
            "updated_ts": day0,
        },
        {
            "product_id": 20,
            "name": "P20",
            "brand_id": 1,
            "manufacturer_id": 1,
            "base_price": Decimal("20.00"),
            "created_ts": day0,
            "updated_ts": day0,
        },
    ]
    brand = [{"brand_id": 1, "name": "B1", "country": "US", "created_ts": day0, "updated_ts": day0}]
    manufacturer = [
        {"manufacturer_id": 1, "name": "M1", "country": "US", "created_ts": day0, "updated_ts": day0}
    ]
    # product 10 is in two categories, product 20 in one
    bridge = [
        {"product_id": 10, "category_id": 1, "created_ts": day0, "updated_ts": day0},
        {"product_id": 10, "category_id": 2, "created_ts": day0, "updated_ts": day0},
        {"product_id": 20, "category_id": 2, "created_ts": day0, "updated_ts": day0},
    ]

    def order(oid, buyer, at, status, updated=None):
        return {
            "order_id": oid,
            "buyer_id": buyer,
            "order_ts": at,
            "status": status,
            "created_ts": at,
            "updated_ts": updated or at,
        }

    orders = [
        order(1, 1, ts(D1, 10), "placed"),
        order(2, 2, ts(D1, 23, 59), "delivered"),
        order(3, 1, ts(D1, 12), "placed"),
        order(3, 1, ts(D1, 12), "cancelled", ts(D1, 13)),  # cancelled later that day
        order(4, 2, ts(D2, 0, 30), "placed"),
    ]

    def item(iid, oid, product, qty, price, at):
        return {
            "order_item_id": iid,
            "order_id": oid,
            "product_id": product,
            "seller_id": 1,
            "quantity": qty,
            "base_price": Decimal(price),
            "actual_price": Decimal(price),
            "created_ts": at,
            "updated_ts": at,
        }

    items = [
        item(1, 1, 10, 2, "5.00", ts(D1, 10)),  # 10.00 in books and toys
        item(2, 1, 20, 1, "7.50", ts(D1, 10)),  # 7.50 in toys
        item(3, 2, 10, 1, "3.25", ts(D1, 23)),  # 3.25 in books and toys
        item(4, 3, 20, 1, "999.00", ts(D1, 12)),  # cancelled order: excluded
        item(5, 4, 20, 3, "1.00", ts(D2, 1)),  # day 2
    ]
    clicks = [
        {
            "event_id": 1,
            "buyer_id": 1,
            "session_id": "s1",
            "product_id": 10,
            "event_type": "view",
            "event_ts": ts(D1, 9),
            "order_id": None,
            "created_ts": ts(D1, 9),
            "updated_ts": ts(D1, 9),
        },
        {
            "event_id": 2,
            "buyer_id": 1,
            "session_id": "s1",
            "product_id": 10,
            "event_type": "checkout",
            "event_ts": ts(D1, 10),
            "order_id": 1,
            "created_ts": ts(D1, 10),
            "updated_ts": ts(D1, 10),
        },
    ]
    return {
        "appuser": frame(spark, users), "buyer": frame(spark, buyers), "seller": frame(spark, sellers),
        "category": frame(spark, categories), "product": frame(spark, products), "brand": frame(spark, brand),
        "manufacturer": frame(spark, manufacturer), "product_category": frame(spark, bridge),
        "orders": frame(spark, orders), "order_items": frame(spark, items), "clickstream": frame(spark, clicks),
    }  # fmt: skip


@pytest.fixture(scope="module")
def gold(source):
    s = source
    orders = T.fact_orders(s["orders"], D1, D2)
    items = T.fact_order_items(s["order_items"], orders)
    clicks = T.fact_clickstream(s["clickstream"], D1, D2)
    buyers, sellers = T.dim_buyer(s["buyer"], s["appuser"]), T.dim_seller(s["seller"], s["appuser"])
    products = T.dim_product(s["product"], s["brand"], s["manufacturer"])
    wide_items = T.wide_order_items(
        items, orders, products, T.product_x_category(s["product_category"]), T.dim_category(s["category"]),
        buyers, sellers,
    )  # fmt: skip
    wide = T.wide_orders(orders, items, clicks, buyers)
    return {"orders": orders, "items": items, "wide_items": wide_items, "wide_orders": wide, "buyers": buyers,
            "sellers": sellers}  # fmt: skip


def test_newest_version_per_order_and_utc_order_date(gold):
    rows = {r.order_id: r for r in gold["orders"].collect()}
    assert sorted(rows) == [1, 2, 3, 4]
    assert rows[3].status == "cancelled"
    assert rows[2].order_date == D1  # 23:59 UTC stays on its UTC day
    assert rows[4].order_date == D2


def test_buyer_and_seller_each_joined_to_their_own_user(gold):
    buyers = {r.buyer_id: r for r in gold["buyers"].collect()}
    sellers = {r.seller_id: r for r in gold["sellers"].collect()}
    assert buyers[1].username == "u1" and buyers[2].country == "FR"
    # seller 1 is user 3: a join on buyer_id = seller_id would have given u1
    assert sellers[1].username == "u3"


def test_wide_items_one_row_per_item_with_all_categories(gold):
    rows = {r.order_item_id: r for r in gold["wide_items"].collect()}
    assert len(rows) == 5 and gold["wide_items"].count() == 5
    assert rows[1].categories == ["books", "toys"]
    assert rows[2].categories == ["toys"]
    assert rows[1].item_revenue == Decimal("10.00")
    assert rows[1].seller_username == "u3" and rows[1].buyer_username == "u1"


def test_category_metrics_count_an_item_in_each_category_exact_median(gold):
    metrics = {(r.order_date, r.category): r for r in T.daily_category_metrics(gold["wide_items"]).collect()}
    books = metrics[(D1, "books")]
    toys = metrics[(D1, "toys")]
    assert books.items == 2 and books.total_revenue == Decimal("13.25")
    assert books.mean_revenue == Decimal("6.625000")
    assert books.median_revenue == Decimal(str(statistics.median([10.00, 3.25])))  # mean of the two
    assert toys.items == 3  # the two-category item counts here too; the cancelled 999 does not
    assert toys.median_revenue == Decimal("7.50")
    assert toys.mean_revenue == Decimal("6.916667")  # 20.75 / 3 rounded half-up
    assert metrics[(D2, "toys")].total_revenue == Decimal("3.00")


def test_order_metrics_mean_is_per_order_without_cancelled(gold):
    metrics = {r.order_date: r for r in T.daily_order_metrics(gold["wide_orders"]).collect()}
    assert metrics[D1].orders == 2  # order 3 is cancelled
    assert metrics[D1].total_revenue == Decimal("20.75")
    assert metrics[D1].mean_revenue == Decimal("10.375000")
    assert metrics[D2].orders == 1 and metrics[D2].mean_revenue == Decimal("3.000000")


def test_wide_orders_count_clicks_and_items(gold):
    rows = {r.order_id: r for r in gold["wide_orders"].collect()}
    assert rows[1].click_events == 1 and rows[1].item_count == 2 and rows[1].order_revenue == Decimal("17.50")
    assert rows[2].click_events == 0


def test_exact_median_odd_and_even_counts(spark):
    values = [Decimal(v) for v in ("1.00", "2.00", "4.00", "8.00", "100.01")]
    odd = frame(spark, [{"g": 1, "v": v} for v in values])
    even = frame(spark, [{"g": 1, "v": v} for v in values[:4]])
    assert T.exact_median(odd, ["g"], "v", "m").first().m == Decimal("4.000000")
    assert T.exact_median(even, ["g"], "v", "m").first().m == Decimal("3.000000")


def test_duplicate_and_mean_checks_name_the_rows(spark, gold):
    items = gold["wide_items"]
    doubled = items.unionByName(
        items.where("order_item_id = 2").withColumn("order_item_id", items.order_item_id + 100)
    )
    offenders = T.duplicate_keys(doubled, ["order_id", "product_id", "seller_id"], "order_item_id").collect()
    assert [(r.order_id, r.product_id, r.copies, r.order_item_ids) for r in offenders] == [
        (1, 20, 2, [2, 102])
    ]
    assert T.duplicate_keys(items, ["order_item_id"]).count() == 0
    high = frame(
        spark,
        [
            {"order_date": D1, "mean_revenue": Decimal("100000.00")},
            {"order_date": D2, "mean_revenue": Decimal("99999.99")},
        ],
    )
    assert [r.order_date for r in T.mean_revenue_too_high(high).collect()] == [D1]
