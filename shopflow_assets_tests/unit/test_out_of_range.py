"""Values the warehouse types cannot hold (money beyond DECIMAL(12,2), Infinity, NaN, quantities beyond
INTEGER, times like 9999-01-01) are quarantined with their rule by the shop cleaning, not left to fail the
day's DuckDB load; the marketplace silver accepts spreadsheet timestamp shapes and quarantines
out-of-range times."""

from __future__ import annotations

import datetime as dt

import pytest

from shopflow_assets.contracts import shop as contract
from shopflow_assets.domains.shop import transforms
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


def _clean(spark, tmp_path, name, text, dataset, clean, *extra):
    path = tmp_path / name
    path.write_text(text)
    rows = clean(transforms.read_raw_csv(spark, str(path), dataset).frame, *extra, name).toPandas()
    return transforms.split_rows(rows, dataset)


def test_shop_rows_beyond_the_warehouse_types_are_quarantined_with_their_rule(spark, tmp_path):
    users, bad_users = _clean(
        spark,
        tmp_path,
        "Users.csv",
        "user_id,signup_date,country\nu1,2025-01-01T10:00:00Z,France\nu2,9999-01-01T00:00:00,Spain\n",
        "users",
        transforms.clean_users,
    )
    products, bad_products = _clean(
        spark,
        tmp_path,
        "Products.csv",
        "product_id,category,price\np1,books,12.50\np2,toys,Infinity\np3,toys,NaN\np4,toys,1e10\n",
        "products",
        transforms.clean_products,
    )
    orders_csv = (
        "order_id,user_id,product_id,quantity,total_amount,order_ts\n"
        "o1,u1,p1,1,12.50,2025-01-01T11:00:00Z\n"
        "o2,u1,p1,1,99999999999.00,2025-01-01T11:00:00Z\n"
        "o3,u1,p1,1,-Infinity,2025-01-01T11:00:00Z\n"
        "o4,u1,p1,1,NaN,2025-01-01T11:00:00Z\n"
        "o5,u1,p1,3000000000,12.50,2025-01-01T11:00:00Z\n"
        "o6,u1,p1,1,12.50,9999-01-01T00:00:00\n"
        "o7,u1,p1,1,9999999999.99,2025-01-01T11:00:00Z\n"
    )
    orders, bad_orders = _clean(
        spark,
        tmp_path,
        "Orders.csv",
        orders_csv,
        "orders",
        transforms.clean_orders,
        spark.createDataFrame(users[["user_id"]]),
        spark.createDataFrame(products[["product_id"]]),
    )
    assert list(users["user_id"]) == ["u1"] and list(products["product_id"]) == ["p1"]
    assert list(orders["order_id"]) == ["o1", "o7"]  # 9,999,999,999.99 still fits DECIMAL(12,2)
    rules = {
        row.record_id: (row.rule, row.detail)
        for frame in (bad_users, bad_products, bad_orders)
        for row in frame.itertuples()
    }
    assert rules["u2"] == (
        contract.OUT_OF_RANGE,
        "signup_date='9999-01-01T00:00:00' is outside [1970-01-01, 2100-01-01)",
    )
    assert rules["p2"][0] == contract.OUT_OF_RANGE and "DECIMAL(12,2)" in rules["p2"][1]
    assert rules["p3"] == (contract.BAD_TYPE, "price='NaN' is not a number")
    assert rules["p4"][0] == contract.OUT_OF_RANGE
    assert rules["o2"] == (
        contract.OUT_OF_RANGE,
        "total_amount='99999999999.00' is outside (-10,000,000,000, 10,000,000,000) (the warehouse's DECIMAL(12,2))",
    )
    assert rules["o3"][0] == contract.OUT_OF_RANGE
    assert rules["o4"][0] == contract.BAD_TYPE
    assert rules["o5"] == (
        contract.OUT_OF_RANGE,
        "quantity='3000000000' is outside [1, 2,147,483,647] (the warehouse's INTEGER)",
    )
    assert rules["o6"][0] == contract.OUT_OF_RANGE


def test_marketplace_silver_reads_spreadsheet_timestamps_and_quarantines_impossible_ones(spark):
    from shopflow_assets.contracts.marketplace import INGESTION_TS, ORDERS
    from shopflow_assets.domains.marketplace.transforms import REASON, typed_with_reasons

    shapes = {
        "iso": "2017-10-02 10:56:33",
        "iso_t": "2017-10-02T10:56:33",
        "no_seconds": "2017-10-02 10:56",
        "t_no_seconds": "2017-10-02T10:56",
        "us": "10/2/2017 10:56",
        "us_seconds": "10/2/2017 10:56:33",
        "future": "9999-01-01 00:00:00",
        "garbage": "soon",
    }
    columns = [*ORDERS.columns, INGESTION_TS]
    rows = []
    for order_id, stamp in shapes.items():
        row = dict.fromkeys(columns)
        row.update(
            order_id=order_id, customer_id="c", order_status="delivered", order_purchase_timestamp=stamp
        )
        row.update(
            order_estimated_delivery_date="2017-10-20 00:00:00", **{INGESTION_TS: "2024-01-01T00:00:00Z"}
        )
        rows.append(tuple(row[c] for c in columns))
    bronze = spark.createDataFrame(rows, ", ".join(f"`{c}` string" for c in columns))
    typed = typed_with_reasons(bronze, ORDERS).selectExpr(
        "order_id", f"`{REASON}` as reason", "cast(order_purchase_timestamp as string) as ts"
    )
    got = {row.order_id: (row.reason, row.ts) for row in typed.collect()}
    for shape in ("iso", "iso_t", "us_seconds"):
        assert got[shape] == (None, "2017-10-02 10:56:33"), shape
    for shape in ("no_seconds", "t_no_seconds", "us"):
        assert got[shape] == (None, "2017-10-02 10:56:00"), shape
    assert got["future"][0] == "order_purchase_timestamp_out_of_range"
    assert got["garbage"][0] == "unparseable_order_purchase_timestamp"
    assert dt.date(2017, 10, 2)  # the month-first reading: 10/2 is October 2nd


def test_money_that_rounds_beyond_decimal_12_2_is_quarantined_not_loaded(spark, tmp_path):
    """9,999,999,999.995 is below the limit but rounds to 10,000,000,000.00, which DECIMAL(12,2) cannot
    hold: the value is rounded to cents first, then the rule applies, so it is quarantined with its reason
    and the day still loads."""
    products, bad_products = _clean(
        spark,
        tmp_path,
        "Products.csv",
        "product_id,category,price\np1,books,12.345\np2,toys,9999999999.995\np3,toys,9999999999.994\n",
        "products",
        transforms.clean_products,
    )
    orders_csv = (
        "order_id,user_id,product_id,quantity,total_amount,order_ts\n"
        "o1,u1,p1,1,-9999999999.995,2025-01-01T11:00:00Z\n"
        "o2,u1,p1,1,9999999999.995,2025-01-01T11:00:00Z\n"
        "o3,u1,p1,1,12.50,2025-01-01T11:00:00Z\n"
    )
    orders, bad_orders = _clean(
        spark,
        tmp_path,
        "Orders.csv",
        orders_csv,
        "orders",
        transforms.clean_orders,
        spark.createDataFrame([("u1",)], "user_id string"),
        spark.createDataFrame(products[["product_id"]]),
    )
    assert list(products["product_id"]) == ["p1", "p3"]
    assert list(products["price"]) == [12.35, 9999999999.99]  # rounded to cents, as the warehouse keeps
    assert list(bad_products["rule"]) == [contract.OUT_OF_RANGE]
    assert bad_products["detail"][0].startswith("price='9999999999.995' is outside")
    assert list(orders["order_id"]) == ["o3"]
    assert set(bad_orders["rule"]) == {contract.OUT_OF_RANGE} and len(bad_orders) == 2
