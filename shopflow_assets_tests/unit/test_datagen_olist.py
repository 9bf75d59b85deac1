"""The Olist generator: exact file names and columns, quirks, key integrity, planted orphans, determinism and
the real distributions of docs/datagen.md (within tolerance)."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from shopflow_assets.datagen import olist
from shopflow_assets.datagen.olist import COLUMNS, FILES, OlistManifest, generate_olist

pytestmark = pytest.mark.unit


def _read(folder, name):
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.fixture(scope="module")
def olist_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("olist")
    manifest = generate_olist(folder, scale=0.2, seed=9)
    return folder, manifest, {name: _read(folder, name) for name in FILES}


def test_file_names_columns_and_bom(olist_dir):
    folder, manifest, tables = olist_dir
    assert sorted(p.name for p in folder.glob("*.csv")) == sorted(FILES)
    assert len(FILES) == 9
    for name in FILES:
        assert tuple(tables[name].columns) == COLUMNS[name]
        assert manifest.rows[name] == len(tables[name])
        assert (folder / name).read_bytes().startswith(b"\xef\xbb\xbf") == (name in olist.BOM_FILES)
    assert "product_name_lenght" in COLUMNS[olist.PRODUCTS]
    assert (folder / olist.SELLERS).read_text(encoding="utf-8-sig").splitlines()[1].startswith('"')
    assert not (folder / olist.ORDERS).read_text().splitlines()[1].startswith('"')
    assert OlistManifest.load(folder / "manifest.json") == manifest


def test_same_seed_same_bytes(tmp_path):
    generate_olist(tmp_path / "a", scale=0.01, seed=3)
    generate_olist(tmp_path / "b", scale=0.01, seed=3)
    generate_olist(tmp_path / "c", scale=0.01, seed=4)
    digest = lambda folder: {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in FILES}  # noqa: E731
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")[olist.ORDERS] != digest(tmp_path / "c")[olist.ORDERS]


def test_keys_are_unique_and_foreign_keys_resolve_except_the_planted_orphans(olist_dir):
    _, manifest, t = olist_dir
    orders, items, customers = t[olist.ORDERS], t[olist.ORDER_ITEMS], t[olist.CUSTOMERS]
    assert orders["order_id"].is_unique and customers["customer_id"].is_unique
    assert t[olist.PRODUCTS]["product_id"].is_unique and t[olist.SELLERS]["seller_id"].is_unique
    assert not items.duplicated(["order_id", "order_item_id"]).any()
    assert set(orders["customer_id"]) == set(customers["customer_id"])
    assert set(items["order_id"]) <= set(orders["order_id"])
    orphans = manifest.orphans
    missing_products = set(items["product_id"]) - set(t[olist.PRODUCTS]["product_id"])
    assert missing_products == set(orphans[f"{olist.ORDER_ITEMS}.product_id -> {olist.PRODUCTS}"])
    missing_sellers = set(items["seller_id"]) - set(t[olist.SELLERS]["seller_id"])
    assert missing_sellers == set(orphans[f"{olist.ORDER_ITEMS}.seller_id -> {olist.SELLERS}"])
    missing_orders = set(t[olist.PAYMENTS]["order_id"]) - set(orders["order_id"])
    assert missing_orders == set(orphans[f"{olist.PAYMENTS}.order_id -> {olist.ORDERS}"])
    no_geo = set(customers["customer_zip_code_prefix"]) - set(
        t[olist.GEOLOCATION]["geolocation_zip_code_prefix"]
    )
    assert no_geo == set(orphans[f"{olist.CUSTOMERS}.customer_zip_code_prefix -> {olist.GEOLOCATION}"])
    assert set(t[olist.REVIEWS]["order_id"]) <= set(orders["order_id"])
    # item numbers run 1..n inside each order
    numbers = items["order_item_id"].astype(int)
    assert (numbers.groupby(items["order_id"]).max() == numbers.groupby(items["order_id"]).size()).all()


def test_formats_and_quirks(olist_dir):
    folder, manifest, t = olist_dir
    orders = t[olist.ORDERS]
    pd.to_datetime(orders["order_purchase_timestamp"], format="%Y-%m-%d %H:%M:%S")  # raises if not
    assert (orders.loc[orders["order_status"] != "delivered", "order_delivered_customer_date"] == "").all()
    assert (orders["order_approved_at"] == "").any()
    assert t[olist.CUSTOMERS]["customer_zip_code_prefix"].str.fullmatch(r"\d{5}").all()
    assert t[olist.CUSTOMERS]["customer_zip_code_prefix"].str.startswith("0").any()
    products = t[olist.PRODUCTS]
    uncategorised = products["product_category_name"] == ""
    assert (products.loc[uncategorised, "product_photos_qty"] == "").all()
    translated = set(t[olist.TRANSLATION]["product_category_name"])
    used = set(products["product_category_name"]) - {""}
    assert (
        used - translated
        == set(manifest.untranslated_categories)
        == {
            "pc_gamer",
            "portateis_cozinha_e_preparadores_de_alimentos",
        }
    )
    messages = t[olist.REVIEWS]["review_comment_message"]
    assert messages.str.contains("\n").any() and messages.str.contains('"').any()
    assert t[olist.ORDER_ITEMS]["price"].str.fullmatch(r"\d+\.\d\d").all()


def test_distributions_follow_the_real_data(tmp_path):
    folder = tmp_path / "real_size"
    manifest = generate_olist(folder, scale=1.0, seed=42)
    assert manifest.rows[olist.ORDERS] == 99_441
    assert 3_000 <= manifest.rows[olist.SELLERS] <= 3_200
    t = {
        name: _read(folder, name)
        for name in (
            olist.ORDERS,
            olist.ORDER_ITEMS,
            olist.PAYMENTS,
            olist.REVIEWS,
            olist.CUSTOMERS,
            olist.PRODUCTS,
        )
    }
    status = t[olist.ORDERS]["order_status"].value_counts(normalize=True)
    assert status["delivered"] == pytest.approx(0.97, abs=0.005)
    assert status["shipped"] == pytest.approx(0.011, abs=0.002)
    items = t[olist.ORDER_ITEMS]
    per_order = items.groupby("order_id").size()
    assert 1.12 <= per_order.mean() <= 1.22 and per_order.max() <= 21
    price = items["price"].astype(float)
    assert price.median() == pytest.approx(75, rel=0.1)
    assert price.quantile(0.9) == pytest.approx(229, rel=0.12)
    assert price.quantile(0.99) == pytest.approx(860, rel=0.2)
    assert items["freight_value"].astype(float).median() == pytest.approx(16, rel=0.1)
    payment = t[olist.PAYMENTS]["payment_type"].value_counts(normalize=True)
    assert payment["credit_card"] == pytest.approx(0.74, abs=0.02)
    assert payment["boleto"] == pytest.approx(0.19, abs=0.02)
    assert payment["voucher"] == pytest.approx(0.06, abs=0.015)
    assert (t[olist.PAYMENTS]["payment_installments"] == "1").mean() == pytest.approx(0.5, abs=0.05)
    scores = t[olist.REVIEWS]["review_score"].value_counts(normalize=True)
    assert scores["5"] == pytest.approx(0.58, abs=0.03) and scores["1"] == pytest.approx(0.115, abs=0.03)
    orders = t[olist.ORDERS]
    done = orders[(orders["order_status"] == "delivered") & (orders["order_delivered_customer_date"] != "")]
    purchase = pd.to_datetime(done["order_purchase_timestamp"])
    delivered = pd.to_datetime(done["order_delivered_customer_date"])
    days = (delivered - purchase).dt.total_seconds() / 86400
    assert days.median() == pytest.approx(10, rel=0.1)
    assert days.quantile(0.9) == pytest.approx(23, rel=0.1)
    on_time = (delivered.dt.date <= pd.to_datetime(done["order_estimated_delivery_date"]).dt.date).mean()
    assert on_time == pytest.approx(0.92, abs=0.015)
    states = t[olist.CUSTOMERS]["customer_state"].value_counts(normalize=True)
    assert states["SP"] == pytest.approx(0.42, abs=0.02) and states["RJ"] == pytest.approx(0.13, abs=0.02)
    repeat = 1 - t[olist.CUSTOMERS]["customer_unique_id"].nunique() / len(t[olist.CUSTOMERS])
    assert repeat == pytest.approx(0.03, abs=0.01)
    categories = t[olist.PRODUCTS]["product_category_name"]
    assert (categories == "").mean() == pytest.approx(0.019, abs=0.004)
    assert categories[categories != ""].nunique() == 73
