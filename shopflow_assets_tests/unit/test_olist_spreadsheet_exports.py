"""Olist folders as spreadsheet tools save them (UTF-8 BOM, CRLF, tens of thousands of blank `,,,,` rows)
and folders that lack a file: blank rows are skipped and counted in linear time, a missing file is named
before anything runs, reviews and geolocation are optional."""

from __future__ import annotations

import logging
import time

import pytest

from shopflow_assets.datagen import olist
from shopflow_assets.datagen.events import OlistOptions, OlistStream, olist_send_order, read_olist_tables
from shopflow_assets.datagen.olist import COLUMNS, generate_olist
from shopflow_assets.datagen.olist_files import (
    BATCH_FILES,
    STREAMED_FILES,
    OlistSourceError,
    check_olist_folder,
    read_olist_csv,
)

pytestmark = pytest.mark.unit

BLANK_ROWS = 30_000


def as_spreadsheet_export(path, blank_rows: int) -> None:
    """Rewrite a CSV the way a spreadsheet tool saves it: BOM, CRLF, then `blank_rows` rows of commas."""
    text = path.read_bytes().decode("utf-8-sig")
    blank = "," * (len(COLUMNS[path.name]) - 1)
    lines = text.splitlines() + [blank] * blank_rows
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode())


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("olist_export")
    manifest = generate_olist(folder, scale=0.002, seed=5)
    for name in STREAMED_FILES.values():
        as_spreadsheet_export(folder / name, BLANK_ROWS)
    return folder, manifest


def test_blank_rows_are_skipped_and_counted_quickly(export_folder):
    folder, manifest = export_folder
    started = time.perf_counter()
    stream = OlistStream(OlistOptions(source=folder))
    elapsed = time.perf_counter() - started
    # 150k blank rows in all; the old quadratic pairing of blank orders with blank items never finished
    assert elapsed < 30, f"{elapsed:.1f}s"
    assert stream.blank_rows == dict.fromkeys(STREAMED_FILES, BLANK_ROWS)
    assert stream.rows_per_table == {table: manifest.rows[name] for table, name in STREAMED_FILES.items()}
    assert len(stream) == sum(stream.rows_per_table.values())
    first_order = read_olist_tables(folder, ("orders",))["orders"][0]
    assert list(first_order) == list(COLUMNS[olist.ORDERS])  # BOM stripped from the first header
    assert not first_order["order_estimated_delivery_date"].endswith("\r")  # CRLF understood


def test_send_order_is_linear_when_many_rows_share_an_order_id():
    """Rows that are not blank but share one order id (here the empty one) pair up once, not n x m."""
    n = 40_000
    tables = {
        "orders": [{"order_id": "", "customer_id": "", "order_purchase_timestamp": ""} for _ in range(n)],
        "order_items": [{"order_id": "", "seller_id": "", "product_id": ""} for _ in range(n)],
    }
    started = time.perf_counter()
    sequence = olist_send_order(tables)
    assert time.perf_counter() - started < 5
    assert len(sequence) == 2 * n and len(set(sequence)) == 2 * n


def test_read_olist_csv_keeps_rows_with_any_value_and_names_malformed_lines(tmp_path):
    path = tmp_path / olist.SELLERS
    path.write_bytes(
        b'\xef\xbb\xbfseller_id,seller_zip_code_prefix,seller_city,seller_state\r\n"s1","01001","sao\rpaulo","SP"'
        b"\r\n,,,\r\n , ,,\r\n,,,SP\r\ns2,01002\r\ns3,1,2,3,4\r\n,,,\r\n"
    )
    read = read_olist_csv(path)
    assert read.blank_rows == 3
    assert read.malformed_lines == [7, 8]  # physical lines: the quoted CR in "sao\rpaulo" ends one
    assert read.rows == [
        {
            "seller_id": "s1",
            "seller_zip_code_prefix": "01001",
            "seller_city": "sao\rpaulo",
            "seller_state": "SP",
        },
        {"seller_id": "", "seller_zip_code_prefix": "", "seller_city": "", "seller_state": "SP"},
    ]


def test_a_missing_required_file_is_named_with_the_expected_ones(tmp_path):
    generate_olist(tmp_path, scale=0.001, seed=1)
    (tmp_path / olist.ORDERS).unlink()
    (tmp_path / olist.REVIEWS).unlink()
    with pytest.raises(OlistSourceError) as error:
        check_olist_folder(tmp_path, [*STREAMED_FILES.values(), *BATCH_FILES])
    message = str(error.value)
    assert f"lacks {olist.ORDERS};" in message  # reviews are optional: not in the missing list
    assert all(name in message for name in (*STREAMED_FILES.values(), *BATCH_FILES))
    assert f"({olist.REVIEWS}, {olist.GEOLOCATION} optional)" in message or (
        f"({olist.GEOLOCATION}, {olist.REVIEWS} optional)" in message
    )
    with pytest.raises(OlistSourceError, match="does not exist"):
        check_olist_folder(tmp_path / "nowhere", BATCH_FILES)


def test_missing_reviews_and_geolocation_are_a_warning(tmp_path, caplog):
    generate_olist(tmp_path, scale=0.001, seed=1)
    (tmp_path / olist.REVIEWS).unlink()
    (tmp_path / olist.GEOLOCATION).unlink()
    with caplog.at_level(logging.WARNING):
        check = check_olist_folder(tmp_path, BATCH_FILES)
    assert check.missing_optional == (olist.REVIEWS, olist.GEOLOCATION)
    assert check.present(olist.PAYMENTS) and not check.present(olist.REVIEWS)
    assert "optional files missing" in caplog.text and olist.GEOLOCATION in caplog.text


def test_batch_bronze_skips_blank_rows_and_loads_a_missing_optional_file_empty(tmp_path):
    from shopflow_assets.contracts.marketplace import ORDER_PAYMENTS, ORDER_REVIEWS
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake, load_batch_bronze
    from shopflow_assets.resources.spark import get_spark_session

    folder = tmp_path / "olist"
    manifest = generate_olist(folder, scale=0.001, seed=2)
    as_spreadsheet_export(folder / olist.PAYMENTS, 5_000)
    (folder / olist.REVIEWS).unlink()
    lake = MarketplaceLake(uri=lambda bucket, key, engine: str(tmp_path / "lake" / bucket / key))
    spark = get_spark_session()
    loads = load_batch_bronze(spark, lake, folder, (ORDER_PAYMENTS, ORDER_REVIEWS))
    assert {name: (load.rows, load.quarantined) for name, load in loads.items()} == {
        "order_payments": (manifest.rows[olist.PAYMENTS], 0),
        "order_reviews": (0, 0),
    }
    reviews = spark.read.format("delta").load(lake.paths.bronze("order_reviews"))
    assert set(ORDER_REVIEWS.columns) <= set(reviews.columns)
    (folder / olist.PAYMENTS).unlink()
    with pytest.raises(OlistSourceError, match=f"lacks {olist.PAYMENTS}"):
        load_batch_bronze(spark, lake, folder, (ORDER_PAYMENTS, ORDER_REVIEWS))
