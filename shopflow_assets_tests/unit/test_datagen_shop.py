"""The shop generator: determinism, schemas, key integrity, skew, and a manifest that an independent
application of the cleaning rules (plain pandas, written here from the contract) agrees with."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from shopflow_assets.datagen.shop import (
    ORDER_COLUMNS,
    PRODUCT_COLUMNS,
    USER_COLUMNS,
    ShopManifest,
    generate_shop_day,
    generate_shop_days,
    shop_sizes,
)

pytestmark = pytest.mark.unit

DAY = dt.date(2024, 1, 1)
FILES = ("Users.csv", "Products.csv", "Orders.csv")


def _digest(folder):
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in (*FILES, "manifest.json")
    }


def _read(folder, name):
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


# --- an independent cleaning oracle --------------------------------------------------------------
def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _is_int(text):
    try:
        int(text)
        return True
    except ValueError:
        return False


def _is_timestamp(text):
    try:
        dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
        return True
    except ValueError:
        return False


def _clean_file(frame, key, checks, known=None):
    """Apply the contract's rules in precedence order; return ({row: rule}, set of clean keys)."""
    verdicts, seen = {}, set()
    for row_number, record in enumerate(frame.to_dict("records"), start=1):
        rule = None
        if any(record[column] == "" for column in frame.columns):
            rule = "missing_value"
        if rule is None:
            for column, parses in checks["types"].items():
                if not parses(record[column]):
                    rule = "bad_type"
                    break
        if rule is None:
            for name, broken in checks["values"]:
                if broken(record):
                    rule = name
                    break
        if rule is None and known:
            for name, column, allowed in known:
                if record[column] not in allowed:
                    rule = name
                    break
        if rule is None and record[key] in seen:
            rule = "duplicate_key"
        if rule is None:
            seen.add(record[key])
        else:
            verdicts[row_number] = rule
    return verdicts, seen


def _oracle(folder):
    users, products, orders = (_read(folder, name) for name in FILES)
    user_rules, clean_users = _clean_file(
        users, "user_id", {"types": {"signup_date": _is_timestamp}, "values": []}
    )
    product_rules, clean_products = _clean_file(
        products,
        "product_id",
        {"types": {"price": _is_float}, "values": [("non_positive_price", lambda r: float(r["price"]) <= 0)]},
    )
    order_rules, _ = _clean_file(
        orders,
        "order_id",
        {
            "types": {"quantity": _is_int, "total_amount": _is_float, "order_ts": _is_timestamp},
            "values": [
                ("bad_quantity", lambda r: int(r["quantity"]) < 1),
                ("negative_total_amount", lambda r: float(r["total_amount"]) < 0),
            ],
        },
        known=[("unknown_user", "user_id", clean_users), ("unknown_product", "product_id", clean_products)],
    )
    clean_orders = orders.drop(index=[row - 1 for row in order_rules])
    revenue = round(clean_orders["total_amount"].astype(float).sum(), 2)
    return (
        {"Users.csv": user_rules, "Products.csv": product_rules, "Orders.csv": order_rules},
        revenue,
        clean_orders,
    )


@pytest.fixture(scope="module")
def day_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shop") / DAY.isoformat()
    manifest = generate_shop_day(DAY, folder, scale=0.5, seed=7, dirty_rate=0.03)
    return folder, manifest


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path):
    first = generate_shop_day(DAY, tmp_path / "a", scale=0.2, seed=11)
    generate_shop_day(DAY, tmp_path / "b", scale=0.2, seed=11)
    generate_shop_day(DAY, tmp_path / "c", scale=0.2, seed=12)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["Orders.csv"] != _digest(tmp_path / "c")["Orders.csv"]
    assert first.orders == 2000


def test_headers_and_types_follow_the_contract(day_dir):
    folder, manifest = day_dir
    for name, columns in zip(FILES, (USER_COLUMNS, PRODUCT_COLUMNS, ORDER_COLUMNS), strict=True):
        assert (folder / name).read_text().splitlines()[0] == ",".join(columns)
    dirty_rows = {(row.file, row.row) for row in manifest.dirty_rows}
    orders = _read(folder, "Orders.csv")
    clean = orders[[("Orders.csv", i + 1) not in dirty_rows for i in range(len(orders))]]
    assert clean["quantity"].astype(int).min() >= 1
    stamps = pd.to_datetime(clean["order_ts"], format="%Y-%m-%dT%H:%M:%SZ", utc=True)
    assert stamps.dt.date.eq(DAY).all()
    assert clean["order_id"].str.fullmatch(r"ord20240101\d{5}").all()
    products = _read(folder, "Products.csv")
    assert products["product_id"].str.fullmatch(r"prd\d+").all()
    # total_amount = quantity x price (2 dp) on clean rows, with the price of the first valid product row
    first_price = (
        products[[("Products.csv", i + 1) not in dirty_rows for i in range(len(products))]]
        .drop_duplicates("product_id")
        .set_index("product_id")["price"]
        .astype(float)
    )
    expected = (clean["quantity"].astype(int) * clean["product_id"].map(first_price)).round(2)
    assert np.allclose(clean["total_amount"].astype(float), expected)


def test_the_manifest_lists_exactly_the_rows_an_independent_cleaner_quarantines(day_dir):
    folder, manifest = day_dir
    verdicts, revenue, _ = _oracle(folder)
    for name in FILES:
        listed = {row.row: row.rule for row in manifest.dirty_rows_of(name)}
        assert listed == verdicts[name], name
        counts = manifest.files[name]
        assert counts.rows == len(_read(folder, name))
        assert counts.clean_rows == counts.rows - len(verdicts[name])
    assert manifest.expected_revenue == pytest.approx(revenue, abs=0.005)
    # every rule of the contract is exercised, including the cascade and duplicates
    rules = {row.rule for row in manifest.dirty_rows}
    assert rules >= {
        "missing_value",
        "bad_type",
        "non_positive_price",
        "bad_quantity",
        "negative_total_amount",
        "unknown_user",
        "unknown_product",
        "duplicate_key",
    }


def test_manifest_ids_match_the_file_and_the_manifest_round_trips(day_dir):
    folder, manifest = day_dir
    frames = {name: _read(folder, name) for name in FILES}
    keys = {"Users.csv": "user_id", "Products.csv": "product_id", "Orders.csv": "order_id"}
    for row in manifest.dirty_rows:
        assert frames[row.file].iloc[row.row - 1][keys[row.file]] == row.id
    loaded = ShopManifest.load(folder / "manifest.json")
    assert loaded == manifest
    assert json.loads((folder / "manifest.json").read_text())["expected_revenue_cents"] == round(
        manifest.expected_revenue * 100
    )


def test_dirty_share_follows_dirty_rate_and_zero_means_clean(tmp_path, day_dir):
    _, manifest = day_dir
    for name in ("Users.csv", "Products.csv"):
        counts = manifest.files[name]
        assert counts.rows - counts.clean_rows == pytest.approx(
            0.03 * (counts.rows - counts.quarantined.get("duplicate_key", 0)), abs=1.5
        )
    injected = manifest.files["Orders.csv"].quarantined
    # unknown_user/product also include the cascade from dirty users/products, so only the others are exact
    assert injected["missing_value"] + injected["bad_type"] == pytest.approx(
        0.4 * 0.03 * manifest.orders, abs=1
    )
    clean = generate_shop_day(DAY, tmp_path / "clean", scale=0.1, seed=3, dirty_rate=0.0)
    assert clean.dirty_rows == []
    assert all(counts.rows == counts.clean_rows for counts in clean.files.values())


def test_orders_are_skewed_toward_popular_products_and_repeat_buyers(day_dir):
    folder, _ = day_dir
    orders = _read(folder, "Orders.csv")
    per_product = orders["product_id"].value_counts()
    top_tenth = per_product.head(max(1, len(per_product) // 10)).sum() / per_product.sum()
    assert top_tenth > 0.3  # uniform would be ~0.1
    per_user = orders["user_id"].value_counts()
    assert (per_user >= 3).sum() > 0.05 * len(per_user)
    countries = _read(folder, "Users.csv")["country"].value_counts(normalize=True)
    assert countries.index[0] == "United States"
    assert 0.2 < countries.iloc[0] < 0.35


def test_users_and_products_are_stable_across_days_and_grow(tmp_path):
    results = generate_shop_days(DAY, 2, tmp_path, scale=1, seed=5, dirty_rate=0.0)
    first, second = (_read(folder, "Users.csv") for folder, _ in results)
    assert len(second) > len(first)
    pd.testing.assert_frame_equal(second.head(len(first)), first)
    assert (pd.to_datetime(second["signup_date"], utc=True).dt.date < DAY + dt.timedelta(days=1)).all()
    first_orders, second_orders = (_read(folder, "Orders.csv") for folder, _ in results)
    assert not set(first_orders["order_id"]) & set(second_orders["order_id"])


def test_sizes_scale_with_the_order_count():
    sizes = shop_sizes(DAY, orders=1_000_000)
    assert sizes.orders == 1_000_000
    assert 400_000 < sizes.users < 600_000
    assert shop_sizes(DAY, scale=2).orders == 20_000
    with pytest.raises(ValueError, match="at least one order"):
        shop_sizes(DAY, scale=0)
