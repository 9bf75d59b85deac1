"""Cleaning rules (Spark) and star-schema builders (pandas) of the shop batch, on small local data."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pandas as pd
import pytest

from shopflow_assets.datagen.shop import ShopManifest, generate_shop_day
from shopflow_assets.domains.shop import transforms
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit

DAY = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


def _write(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _clean_all(spark, tmp_path, users_csv: str, products_csv: str, orders_csv: str):
    """The cleaning step as the asset runs it: Spark rules per file, collected once, split in pandas."""

    def read(name: str, text: str, dataset: str):
        return transforms.read_raw_csv(spark, _write(tmp_path / name, text), dataset).frame

    users, bad_users = transforms.split_rows(
        transforms.clean_users(read("Users.csv", users_csv, "users"), "users.csv").toPandas(), "users"
    )
    products, bad_products = transforms.split_rows(
        transforms.clean_products(read("Products.csv", products_csv, "products"), "products.csv").toPandas(),
        "products",
    )
    orders_rows = transforms.clean_orders(
        read("Orders.csv", orders_csv, "orders"),
        spark.createDataFrame(users[["user_id"]]),
        spark.createDataFrame(products[["product_id"]]),
        "orders.csv",
    ).toPandas()
    orders, bad_orders = transforms.split_rows(orders_rows, "orders")
    return users, products, orders, pd.concat([bad_users, bad_products, bad_orders], ignore_index=True)


USERS = """user_id,signup_date,country
u1,2025-01-01T10:00:00Z,France
u2,,Germany
u3,not-a-date,Spain
u1,2025-02-01T10:00:00Z,Italy
u4,2025-03-01T00:00:00Z,"Korea, Republic of"
u5,soon,Japan
u5,2025-04-01T00:00:00Z,Japan
"""
PRODUCTS = """product_id,category,price
p1,books,12.50
p2,toys,0.00
p3,home,-4.00
p4,shoes,$45.00
p5,,10.00
p1,books,99.00
p6,garden,NaN
p7,sports,20.00
"""
ORDERS = """order_id,user_id,product_id,quantity,total_amount,order_ts
o1,u1,p1,2,25.00,2026-01-01T08:00:00Z
o2,u1,p1,,25.00,2026-01-01T08:01:00Z
o3,u1,p1,two,25.00,2026-01-01T08:02:00Z
o4,u1,p1,0,0.00,2026-01-01T08:03:00Z
o5,u1,p1,1,-12.50,2026-01-01T08:04:00Z
o6,u2,p1,1,12.50,2026-01-01T08:05:00Z
o7,u1,p2,1,12.50,2026-01-01T08:06:00Z
o8,u9,p9,1,12.50,2026-01-01T08:07:00Z
o1,u4,p7,1,20.00,2026-01-01T08:08:00Z
o9,u4,p7,3,60.00,2026-01-01T08:09:00Z
o10,u1,p1,1,12.50,yesterday
o11,u5,p1,1,12.50,2026-01-01T08:11:00Z
o12,u4,p7,1,abc,2026-01-01T08:12:00Z
o13,u4
"""


def _rules(quarantine: pd.DataFrame, dataset: str) -> dict[int, str]:
    rows = quarantine[quarantine["dataset"] == dataset]
    return dict(zip(rows["row_number"], rows["rule"], strict=True))


def test_each_row_is_loaded_or_quarantined_under_the_first_rule_it_breaks(spark, tmp_path):
    users, products, orders, quarantine = _clean_all(spark, tmp_path, USERS, PRODUCTS, ORDERS)

    assert _rules(quarantine, "users") == {
        2: "missing_value",
        3: "bad_type",
        4: "duplicate_key",
        6: "bad_type",
    }
    # u5: its first row is invalid, so the first VALID row (row 7) wins and is no duplicate.
    assert list(users["user_id"]) == ["u1", "u4", "u5"]
    assert users.loc[users.user_id == "u1", "country"].item() == "France"  # first row wins
    assert users.loc[users.user_id == "u4", "country"].item() == "Korea, Republic of"  # quoted comma
    assert str(users["signup_date"].dtype).startswith("datetime64")

    assert _rules(quarantine, "products") == {
        2: "non_positive_price",
        3: "non_positive_price",
        4: "bad_type",
        5: "missing_value",
        6: "duplicate_key",
        7: "bad_type",
    }
    assert products.set_index("product_id")["price"].to_dict() == {"p1": 12.5, "p7": 20.0}

    assert _rules(quarantine, "orders") == {
        2: "missing_value",
        3: "bad_type",
        4: "bad_quantity",
        5: "negative_total_amount",
        6: "unknown_user",  # u2 is quarantined in Users.csv: not among the day's clean users
        7: "unknown_product",  # p2 has a non-positive price
        8: "unknown_user",  # the user is checked before the product
        9: "duplicate_key",
        11: "bad_type",
        13: "bad_type",
        14: "missing_value",  # a short row: its missing fields are missing values
    }
    assert "o11" in set(orders["order_id"])  # u5 is clean (its second, valid row)
    assert list(orders["order_id"]) == ["o1", "o9", "o11"]
    assert orders["quantity"].tolist() == [2, 3, 1]
    assert orders["total_amount"].sum() == pytest.approx(97.50)


def test_quarantine_rows_carry_source_detail_and_raw_values(spark, tmp_path):
    _, _, _, quarantine = _clean_all(spark, tmp_path, USERS, PRODUCTS, ORDERS)
    duplicate = quarantine[(quarantine.dataset == "orders") & (quarantine.row_number == 9)].iloc[0]
    assert duplicate.record_id == "o1"
    assert duplicate.source == "orders.csv"
    assert duplicate.detail == "an earlier row has order_id o1 (row 1)"
    assert json.loads(duplicate.raw_record) == {
        "order_id": "o1",
        "user_id": "u4",
        "product_id": "p7",
        "quantity": "1",
        "total_amount": "20.00",
        "order_ts": "2026-01-01T08:08:00Z",
    }
    bad = quarantine[(quarantine.dataset == "orders") & (quarantine.row_number == 3)].iloc[0]
    assert bad.detail == "quantity='two' is not an integer"
    short = quarantine[(quarantine.dataset == "orders") & (quarantine.row_number == 14)].iloc[0]
    assert short.detail == "product_id is empty"
    assert json.loads(short.raw_record)["quantity"] is None
    assert quarantine["raw_record"].notna().all()


def test_a_generated_day_quarantines_exactly_the_manifest_rows_and_keeps_its_revenue(spark, tmp_path):
    manifest: ShopManifest = generate_shop_day(DAY, tmp_path, orders=3000, dirty_rate=0.03, seed=7)
    files = {"Users.csv": "users", "Products.csv": "products", "Orders.csv": "orders"}
    texts = {dataset: (tmp_path / name).read_text() for name, dataset in files.items()}
    users, products, clean_orders, quarantine = _clean_all(
        spark,
        tmp_path,
        texts["users"],
        texts["products"],
        texts["orders"],
    )
    expected = {(files[row.file], row.row, row.id, row.rule) for row in manifest.dirty_rows}
    got = set(
        zip(quarantine.dataset, quarantine.row_number, quarantine.record_id, quarantine.rule, strict=True)
    )
    assert got == expected
    assert len(users) == manifest.files["Users.csv"].clean_rows
    assert len(products) == manifest.files["Products.csv"].clean_rows
    assert len(clean_orders) == manifest.files["Orders.csv"].clean_rows
    cents = sum(int(Decimal(str(v)) * 100) for v in clean_orders["total_amount"].round(2))
    assert cents == manifest.expected_revenue_cents


def test_row_numbers_follow_the_file_across_several_splits(spark, tmp_path):
    lines = ["user_id,signup_date,country"] + [f"u{i},2025-01-01T00:00:00Z,C{i}" for i in range(1, 20_001)]
    path = _write(tmp_path / "Users.csv", "\n".join(lines) + "\n")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "65536")
    try:
        assert spark.read.csv(path).rdd.getNumPartitions() > 1  # the file is read as several splits
        raw = transforms.read_raw_csv(spark, path, "users").frame
        numbered = raw.select("user_id", transforms.ROW_NUMBER).toPandas()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert (numbered["user_id"] == "u" + numbered[transforms.ROW_NUMBER].astype(str)).all()


# --- star schema -------------------------------------------------------------------------------------


def _clean_frames():
    users = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "signup_date": pd.to_datetime(["2025-01-01", "2025-02-01"]),
            "country": ["FR", "DE"],
        }
    )
    products = pd.DataFrame({"product_id": ["p1", "p2"], "category": ["books", "toys"], "price": [12.5, 3.0]})
    orders = pd.DataFrame(
        {
            "order_id": ["o2", "o1"],
            "user_id": ["u2", "u1"],
            "product_id": ["p1", "p2"],
            "quantity": [2, 1],
            "total_amount": [25.0, 3.0],
            "order_ts": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 09:00"]),
        }
    )
    return users, products, orders


def test_fact_orders_joins_orders_to_users_and_products():
    users, products, orders = _clean_frames()
    fact = transforms.build_fact_orders(orders, users, products, DAY)
    assert list(fact.columns) == [
        "order_id",
        "order_date",
        "date_key",
        "order_ts",
        "user_id",
        "product_id",
        "quantity",
        "unit_price",
        "total_amount",
    ]
    assert fact["order_id"].tolist() == ["o1", "o2"]
    assert fact["unit_price"].tolist() == [3.0, 12.5]
    assert set(fact["date_key"]) == {20260101}
    assert (fact["order_date"] == pd.Timestamp(DAY)).all()


def test_fact_orders_refuses_a_product_listed_twice():
    users, products, orders = _clean_frames()
    with pytest.raises(pd.errors.MergeError):
        transforms.build_fact_orders(orders, users, pd.concat([products, products]), DAY)


def test_dim_date_has_calendar_attributes():
    dim = transforms.build_dim_date([dt.date(2026, 1, 3), dt.date(2026, 1, 5), dt.date(2026, 1, 3)])
    assert dim["date_key"].tolist() == [20260103, 20260105]
    assert dim["day_name"].tolist() == ["Saturday", "Monday"]
    assert dim["day_of_week"].tolist() == [6, 1]
    assert dim["is_weekend"].tolist() == [True, False]
    assert dim["quarter"].tolist() == [1, 1]


def test_dimensions_are_versioned_by_the_business_day():
    users, products, _ = _clean_frames()
    assert (transforms.build_dim_users(users, DAY)["last_seen_date"] == pd.Timestamp(DAY)).all()
    assert transforms.build_dim_products(products, DAY)["price"].tolist() == [12.5, 3.0]


def test_record_counts_must_add_up():
    users, products, orders = _clean_frames()
    quarantine = pd.DataFrame(
        {"dataset": ["orders", "orders", "users"], "rule": ["bad_type", "bad_type", "missing_value"]}
    )
    counts = transforms.count_records(
        {"users": users, "products": products, "orders": orders},
        quarantine,
        {"users": 3, "products": 2, "orders": 4},
    )
    assert counts["orders"] == {"records_in": 4, "records_loaded": 2, "records_quarantined": 2}
    assert transforms.rule_counts(quarantine) == {
        "users": {"missing_value": 1},
        "products": {},
        "orders": {"bad_type": 2},
    }
    with pytest.raises(transforms.RecordCountMismatchError, match="orders: 5 input rows but 2 loaded"):
        transforms.count_records(
            {"users": users, "products": products, "orders": orders},
            quarantine,
            {"users": 3, "products": 2, "orders": 5},
        )
