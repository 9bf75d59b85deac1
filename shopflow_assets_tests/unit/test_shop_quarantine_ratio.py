"""The shop's cleaned tables carry a blocking `quarantine_ratio` check: a day quarantining more than a set
share of a file fails there, naming the main rule, its column and three sample raw values."""

import json

import pandas as pd
import pytest

from shopflow_assets.domains.shop import transforms
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit

USERS = "user_id,signup_date,country\nu1,2025-01-01T10:00:00Z,France\nu2,2025-01-02T10:00:00Z,Spain\n"
PRODUCTS = "product_id,category,price\np1,books,12.50\np2,toys,3.00\n"
# 10 orders, 7 with spreadsheet-style timestamps the shop contract does not accept, one with a bad quantity
ORDERS = "order_id,user_id,product_id,quantity,total_amount,order_ts\n" + "".join(
    [f"o{i},u1,p1,1,12.50,1/{i}/2026 10:0{i}\n" for i in range(1, 8)]
    + ["o8,u2,p2,x,3.00,2026-01-08T10:00:00Z\n", "o9,u2,p2,1,3.00,2026-01-09T10:00:00Z\n"]
    + ["o10,u1,p2,2,6.00,2026-01-10T10:00:00Z\n"]
)


def _clean(tmp_path, dataset: str, text: str, **ids):
    spark = get_spark_session()
    path = tmp_path / f"{dataset}.csv"
    path.write_text(text)
    raw = transforms.read_raw_csv(spark, str(path), dataset).frame
    if dataset == "orders":
        rows = transforms.clean_orders(
            raw, *(spark.createDataFrame(ids[k]) for k in ("users", "products")), "o.csv"
        )
    else:
        rows = getattr(transforms, f"clean_{dataset}")(raw, f"{dataset}.csv")
    return transforms.split_rows(rows.toPandas(), dataset)


def test_a_mostly_quarantined_day_fails_naming_rule_column_and_three_samples(tmp_path):
    users, bad_users = _clean(tmp_path, "users", USERS)
    products, bad_products = _clean(tmp_path, "products", PRODUCTS)
    orders, bad_orders = _clean(
        tmp_path, "orders", ORDERS, users=users[["user_id"]], products=products[["product_id"]]
    )
    quarantine = pd.concat([bad_users, bad_products, bad_orders], ignore_index=True)
    assert (len(orders), len(bad_orders)) == (2, 8)

    ratio = transforms.quarantine_ratio("orders", 10, quarantine, 0.2)
    assert not ratio.passed and ratio.quarantined == 8 and ratio.share == pytest.approx(0.8)
    assert (ratio.rule, ratio.column) == ("bad_type", "order_ts")
    assert ratio.samples == ("1/1/2026 10:01", "1/2/2026 10:02", "1/3/2026 10:03")
    message = ratio.description()
    assert "80% of the day's orders quarantined (> 20%)" in message
    assert "'bad_type'" in message and "'order_ts'" in message and "1/3/2026 10:03" in message

    assert transforms.quarantine_ratio("users", 2, quarantine, 0.2).passed
    # the share is configurable: a day may be allowed to quarantine most of its rows
    assert transforms.quarantine_ratio("orders", 10, quarantine, 0.8).passed


def test_a_rule_naming_no_column_samples_whole_raw_records():
    raw = [json.dumps({"user_id": f"u{i}", "signup_date": "x", "country": "y"}) for i in range(4)]
    quarantine = pd.DataFrame(
        {
            "dataset": "users",
            "rule": "bad_type",
            "detail": "wrong number of fields (expected 3)",
            "raw_record": raw,
        }
    )
    ratio = transforms.quarantine_ratio("users", 5, quarantine, 0.5)
    assert not ratio.passed and ratio.column is None and ratio.samples == tuple(raw[:3])
    assert "on column" not in ratio.description()


def test_the_cleaned_tables_declare_one_blocking_ratio_check_each():
    from shopflow_assets.domains.shop.assets import shop_cleaned_tables

    specs = {spec.asset_key.path[-1]: spec for spec in shop_cleaned_tables.check_specs}
    assert set(specs) == {"clean_users", "clean_products", "clean_orders"}
    assert all(s.name == "quarantine_ratio" and s.blocking for s in specs.values())
