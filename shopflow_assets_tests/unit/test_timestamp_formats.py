"""Dates written day first: each timestamp column's day/month order is detected from ALL its values
(day first if a first field exceeds 12, month first if a second does); an ambiguous or mixed column is
refused naming the file, the column and the rule, unless its format is declared (run config, CLI). The
same pure function serves the Olist producer and the Olist batch bronze load; they write ISO."""

from __future__ import annotations

import pytest

from shopflow_assets.contracts.marketplace import ORDER_REVIEWS, ORDERS
from shopflow_assets.timestamp_formats import (
    DAY_FIRST,
    MONTH_FIRST,
    YEAR_FIRST,
    TimestampFormatError,
    detect_timestamp_format,
    parse_format_options,
)

pytestmark = pytest.mark.unit


def _detect(values, declared=None):
    pairs = list(enumerate(values, start=2))
    return detect_timestamp_format(pairs, source="olist_orders_dataset.csv", column="ts", declared=declared)


def test_day_first_dash_export_is_read_as_2_october():
    found = _detect(["02-10-2017 10:56", "13-10-2017 08:05", "", "31-12-2017 23:59"])
    assert found.order == DAY_FIRST
    assert found.to_iso("02-10-2017 10:56") == "2017-10-02 10:56:00"
    assert found.to_iso("31-02-2017 10:56") == "31-02-2017 10:56"  # no such day: silver quarantines it


def test_month_first_slash_export_is_read_month_first():
    found = _detect(["10/2/2017 10:56", "10/13/2017 10:56:33", "2017-10-02 10:56:33"])
    assert found.order == MONTH_FIRST
    assert found.to_iso("10/2/2017 10:56") == "2017-10-02 10:56:00"
    assert found.to_iso("2017-10-02 10:56:33") == "2017-10-02 10:56:33"  # year first: unchanged


def test_an_ambiguous_column_is_refused_naming_file_column_and_rule_unless_declared():
    with pytest.raises(TimestampFormatError) as refused:
        _detect(["02/10/2017", "03/11/2017 10:00"])
    message = str(refused.value)
    assert "olist_orders_dataset.csv" in message and "'ts'" in message and "ambiguous" in message
    assert "above 12" in message and "line 2" in message and "--timestamp-format" in message
    declared = _detect(["02/10/2017", "03/11/2017"], declared="%d/%m/%Y")
    assert declared.to_iso("02/10/2017") == "2017-10-02 00:00:00"


def test_a_mixed_column_is_refused_naming_both_lines():
    with pytest.raises(TimestampFormatError, match=r"mixes day-first .*line 3.* month-first .*line 4"):
        _detect(["01/01/2017", "13/01/2017", "01/13/2017"])


def test_a_value_off_the_declared_format_is_refused_with_its_line():
    with pytest.raises(TimestampFormatError, match=r"line 3: '2017/10/02' does not fit"):
        _detect(["02-10-2017 10:56", "2017/10/02"], declared="%d-%m-%Y %H:%M")
    assert _detect(["2017-10-02 10:56:33", ""]).order == YEAR_FIRST


def test_declared_formats_are_checked():
    assert parse_format_options(["%d-%m-%Y %H:%M", "orders=%d/%m/%Y"]) == {
        "*": "%d-%m-%Y %H:%M",
        "orders": "%d/%m/%Y",
    }
    with pytest.raises(ValueError, match="day"):
        parse_format_options(["%H:%M"])


def _orders_csv(folder, stamps):
    header = ",".join(ORDERS.columns)
    rows = []
    for i, stamp in enumerate(stamps):
        row = dict.fromkeys(ORDERS.columns, "")
        row.update(
            order_id=f"o{i}", customer_id="c", order_status="delivered", order_purchase_timestamp=stamp
        )
        rows.append(",".join(row[c] for c in ORDERS.columns))
    folder.mkdir(exist_ok=True)
    (folder / f"{ORDERS.csv_name}.csv").write_text("\n".join([header, *rows]) + "\n")


def test_the_producer_sends_iso_read_in_the_detected_or_declared_order(tmp_path, capsys):
    from shopflow_assets import cli
    from shopflow_assets.datagen.events import read_olist_tables

    day_first = tmp_path / "day_first"
    _orders_csv(day_first, ["02-10-2017 10:56", "13-10-2017 08:00"])
    rows = read_olist_tables(day_first, ("orders",))["orders"]
    assert [r["order_purchase_timestamp"] for r in rows] == ["2017-10-02 10:56:00", "2017-10-13 08:00:00"]

    pt_br = tmp_path / "pt_br"
    _orders_csv(pt_br, ["02/10/2017 10:56", "03/11/2017 09:00"])
    with pytest.raises(TimestampFormatError, match="order_purchase_timestamp"):
        read_olist_tables(pt_br, ("orders",))
    rows = read_olist_tables(pt_br, ("orders",), timestamp_formats={"orders": "%d/%m/%Y %H:%M"})["orders"]
    assert rows[0]["order_purchase_timestamp"] == "2017-10-02 10:56:00"

    # the CLI refuses the ambiguous file in one line (exit 2) before any broker is needed
    assert cli.main(["produce", "olist", "--source", str(pt_br), "--tables", "orders"]) == 2
    err = capsys.readouterr().err
    assert "ambiguous" in err and f"{ORDERS.csv_name}.csv" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["produce", "olist", "--source", str(pt_br), "--timestamp-format", "%Q"]) == 2


def test_the_batch_bronze_load_reads_a_day_first_file_and_refuses_an_ambiguous_one(tmp_path):
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake, load_batch_bronze
    from shopflow_assets.resources.spark import get_spark_session

    header = ",".join(ORDER_REVIEWS.columns)
    folder = tmp_path / "olist"
    folder.mkdir()
    path = folder / f"{ORDER_REVIEWS.csv_name}.csv"
    lake = MarketplaceLake(uri=lambda bucket, key, engine: str(tmp_path / "lake" / bucket / key))
    spark = get_spark_session()

    path.write_text(
        f"{header}\nr1,o1,5,,,02/10/2017 00:00,03/10/2017 10:56\nr2,o2,4,,,05/11/2017,06/11/2017\n"
    )
    with pytest.raises(
        TimestampFormatError, match=rf"{ORDER_REVIEWS.csv_name}\.csv: column 'review_creation_date'"
    ):
        load_batch_bronze(spark, lake, folder, (ORDER_REVIEWS,))
    declared = {"order_reviews": "%d/%m/%Y %H:%M", "*": "%d/%m/%Y"}
    with pytest.raises(TimestampFormatError, match="line 3: '05/11/2017' does not fit"):
        load_batch_bronze(spark, lake, folder, (ORDER_REVIEWS,), declared)

    path.write_text(
        f"{header}\nr1,o1,5,,,02/10/2017 00:00,03/10/2017 10:56\nr2,o2,4,,,25/11/2017,26/11/2017\n"
    )
    load_batch_bronze(spark, lake, folder, (ORDER_REVIEWS,))
    bronze = spark.read.format("delta").load(lake.paths.bronze("order_reviews"))
    stamps = sorted(
        tuple(r) for r in bronze.select("review_creation_date", "review_answer_timestamp").collect()
    )
    assert stamps == [
        ("2017-10-02 00:00:00", "2017-10-03 10:56:00"),
        ("2017-11-25 00:00:00", "2017-11-26 00:00:00"),
    ]
