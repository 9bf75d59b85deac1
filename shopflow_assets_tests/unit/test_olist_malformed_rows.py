"""Batch Olist CSVs with short or long records: quarantined with their line number and rule, the good ones
load (Spark's permissive reader alone would pad or cut them silently)."""

import pytest

from shopflow_assets.contracts.marketplace import ORDER_PAYMENTS, ORDER_REVIEWS
from shopflow_assets.domains.marketplace.transforms import TOO_FEW_FIELDS, TOO_MANY_FIELDS, scan_csv_records

pytestmark = pytest.mark.unit

HEADER = ",".join(ORDER_PAYMENTS.columns)
# BOM, CRLF, a quoted comma, a short and a long record, trailing spreadsheet blanks (physical lines 1..9)
MESSY_PAYMENTS = (
    "\ufeff"
    + "\r\n".join(
        [
            HEADER,
            "o1,1,credit_card,3,99.90",
            '"o2",1,"voucher, gift",1,10.00',
            "o3,1,boleto",  # line 4: short
            "o4,1,debit_card,1,5.00,extra,fields",  # line 5: long
            "o5,2,credit_card,1,1.50",
            ",,,,",
            ",,,,",
            "o6,1,boleto,1",  # line 9: short by one
        ]
    )
    + "\r\n"
)


def _scan(text: str, columns: tuple[str, ...]):
    import io

    return list(scan_csv_records(io.StringIO(text.removeprefix("\ufeff"), newline=""), len(columns)))


def test_scan_names_each_short_and_long_record_with_its_line():
    records = _scan(MESSY_PAYMENTS, ORDER_PAYMENTS.columns)
    assert [(r.line, r.rule) for r in records] == [
        (2, None),
        (3, None),
        (4, TOO_FEW_FIELDS),
        (5, TOO_MANY_FIELDS),
        (6, None),
        (7, "blank"),
        (8, "blank"),
        (9, TOO_FEW_FIELDS),
    ]
    assert records[1].fields == ["o2", "1", "voucher, gift", "1", "10.00"]


def test_a_quoted_line_break_keeps_the_line_numbers_of_the_records_after_it():
    header = ",".join(ORDER_REVIEWS.columns)
    good = 'r1,o1,5,"title","first line\nsecond, line",2018-01-01 00:00:00,2018-01-02 00:00:00'
    text = "\n".join([header, good, "r2,o2,4", good.replace("r1", "r3")]) + "\n"
    records = _scan(text, ORDER_REVIEWS.columns)
    assert [(r.line, r.rule) for r in records] == [(2, None), (4, TOO_FEW_FIELDS), (5, None)]
    assert records[0].fields[4] == "first line\nsecond, line"


def test_batch_bronze_loads_the_good_rows_and_quarantines_the_rest_with_line_and_rule(tmp_path):
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake, load_batch_bronze
    from shopflow_assets.resources.spark import get_spark_session

    folder = tmp_path / "olist"
    folder.mkdir()
    (folder / f"{ORDER_PAYMENTS.csv_name}.csv").write_bytes(MESSY_PAYMENTS.encode())
    lake = MarketplaceLake(uri=lambda bucket, key, engine: str(tmp_path / "lake" / bucket / key))
    spark = get_spark_session()

    load = load_batch_bronze(spark, lake, folder, (ORDER_PAYMENTS,))["order_payments"]
    assert (load.rows, load.quarantined) == (3, 3)
    assert load.malformed == {TOO_FEW_FIELDS: 2, TOO_MANY_FIELDS: 1}

    bronze = spark.read.format("delta").load(lake.paths.bronze("order_payments"))
    loaded = {tuple(row) for row in bronze.select(*ORDER_PAYMENTS.columns).collect()}
    assert loaded == {
        ("o1", "1", "credit_card", "3", "99.90"),
        ("o2", "1", "voucher, gift", "1", "10.00"),
        ("o5", "2", "credit_card", "1", "1.50"),
    }
    quarantined = (
        spark.read.format("delta")
        .load(lake.malformed_rows(ORDER_PAYMENTS))
        .orderBy("_line")
        .select("_source_file", "_line", "_quarantine_reason", "_field_count", "_raw")
        .collect()
    )
    name = f"{ORDER_PAYMENTS.csv_name}.csv"
    assert [tuple(row) for row in quarantined] == [
        (name, 4, TOO_FEW_FIELDS, 3, "o3,1,boleto"),
        (name, 5, TOO_MANY_FIELDS, 7, "o4,1,debit_card,1,5.00,extra,fields"),
        (name, 9, TOO_FEW_FIELDS, 4, "o6,1,boleto,1"),
    ]

    # the file is the full snapshot: a corrected file empties the quarantine
    (folder / name).write_text(HEADER + "\no1,1,credit_card,3,99.90\n")
    load = load_batch_bronze(spark, lake, folder, (ORDER_PAYMENTS,))["order_payments"]
    assert (load.rows, load.quarantined) == (1, 0)
    assert spark.read.format("delta").load(lake.malformed_rows(ORDER_PAYMENTS)).count() == 0


def test_an_unchanged_batch_file_is_not_loaded_again_and_a_changed_one_is(tmp_path):
    from delta.tables import DeltaTable

    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake, load_batch_bronze
    from shopflow_assets.resources.spark import get_spark_session

    folder = tmp_path / "olist"
    folder.mkdir()
    csv_file = folder / f"{ORDER_PAYMENTS.csv_name}.csv"
    csv_file.write_bytes(MESSY_PAYMENTS.encode())
    lake = MarketplaceLake(uri=lambda bucket, key, engine: str(tmp_path / "lake" / bucket / key))
    spark = get_spark_session()
    bronze_path = lake.paths.bronze("order_payments")

    def load():
        return load_batch_bronze(spark, lake, folder, (ORDER_PAYMENTS,))["order_payments"]

    def version() -> int:
        return DeltaTable.forPath(spark, bronze_path).history(1).first()["version"]

    first = load()
    assert not first.skipped and (first.rows, first.quarantined) == (3, 3)
    loaded_version = version()

    csv_file.touch()  # a newer modification time, the same bytes: still the same file
    again = load()
    assert again.skipped and (again.rows, again.malformed) == (first.rows, first.malformed)
    assert version() == loaded_version  # nothing was written

    csv_file.write_text(HEADER + "\no1,1,credit_card,3,99.90\no9,1,voucher,1,2.00\n")
    changed = load()
    assert not changed.skipped and (changed.rows, changed.quarantined) == (2, 0)
    assert version() == loaded_version + 1
    assert spark.read.format("delta").load(bronze_path).count() == 2


def test_silver_merges_a_batch_table_once_per_bronze_load(tmp_path):
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake, build_silver, load_batch_bronze
    from shopflow_assets.resources.spark import get_spark_session

    folder = tmp_path / "olist"
    folder.mkdir()
    csv_file = folder / f"{ORDER_PAYMENTS.csv_name}.csv"
    csv_file.write_text(HEADER + "\no1,1,credit_card,3,99.90\no2,1,voucher,1,10.00\n")
    lake = MarketplaceLake(uri=lambda bucket, key, engine: str(tmp_path / "lake" / bucket / key))
    spark = get_spark_session()

    def load_and_build() -> dict[str, int]:
        load_batch_bronze(spark, lake, folder, (ORDER_PAYMENTS,))
        return build_silver(spark, lake, (ORDER_PAYMENTS,))["order_payments"]

    first = load_and_build()
    assert first["newest_versions"] == 2 and "unchanged_bronze_skipped" not in first
    unchanged = load_and_build()  # same file: bronze skipped, so silver has nothing new to merge
    assert unchanged == {
        "input": 0,
        "quarantined": 0,
        "newest_versions": 0,
        "superseded_in_batch": 0,
        "unchanged_bronze_skipped": 1,
    }
    csv_file.write_text(HEADER + "\no1,1,credit_card,3,99.90\no2,1,voucher,1,10.00\no3,1,boleto,1,7.50\n")
    changed = load_and_build()
    assert changed["input"] == 3 and "unchanged_bronze_skipped" not in changed
    silver = spark.read.format("delta").load(lake.paths.silver("order_payments"))
    assert sorted(row.order_id for row in silver.select("order_id").collect()) == ["o1", "o2", "o3"]


def test_a_batch_row_without_its_key_fails_the_bronze_check_also_when_the_file_is_skipped(tmp_path):
    """The bronze check's null-key count is taken from the rows as loaded and recorded with the load, so a
    skipped (unchanged) file reports the same verdict without reading bronze again."""
    from shopflow_assets.domains.marketplace.checks import bronze_check_result
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake, load_batch_bronze
    from shopflow_assets.resources.spark import get_spark_session

    folder = tmp_path / "olist"
    folder.mkdir()
    (folder / f"{ORDER_PAYMENTS.csv_name}.csv").write_text(
        HEADER + "\no1,1,credit_card,3,99.90\n,2,voucher,1,10.00\no3,,boleto,1,7.50\n"
    )
    lake = MarketplaceLake(uri=lambda bucket, key, engine: str(tmp_path / "lake" / bucket / key))
    spark = get_spark_session()
    bronze_path = lake.paths.bronze("order_payments")

    loads = [load_batch_bronze(spark, lake, folder, (ORDER_PAYMENTS,))["order_payments"] for _ in range(2)]
    assert [(load.skipped, load.rows, load.null_ids) for load in loads] == [(False, 3, 2), (True, 3, 2)]
    verdict = bronze_check_result(spark, bronze_path, ORDER_PAYMENTS, loads[1].null_ids)
    assert not verdict.passed and verdict.metadata["null_ids"].value == 2
    assert bronze_check_result(spark, bronze_path, ORDER_PAYMENTS, 0).passed


def test_a_changed_dimension_refreshes_its_facts_and_an_unchanged_one_writes_nothing(tmp_path):
    """propagate(): a customer that arrives after (or changes since) its orders fills in their enrichment;
    when every order already carries the customer's values, the MERGE is skipped (no new table version)."""
    from delta.tables import DeltaTable

    from shopflow_assets.domains.marketplace.pipeline import propagate
    from shopflow_assets.resources.spark import get_spark_session

    spark = get_spark_session()
    orders = str(tmp_path / "silver_orders")
    spark.createDataFrame(
        [("o1", "c1", None, None), ("o2", "c2", "rio", "2024-01-01 00:00:00")],
        "order_id string, customer_id string, customer_city string, _silver_updated_at string",
    ).selectExpr(
        "order_id",
        "customer_id",
        "customer_city",
        "cast(_silver_updated_at as timestamp) as _silver_updated_at",
    ).write.format("delta").save(orders)

    def version() -> int:
        return DeltaTable.forPath(spark, orders).history(1).first()["version"]

    def customers(*rows):
        return spark.createDataFrame(list(rows), "customer_id string, customer_city string")

    def cities() -> dict:
        frame = spark.read.format("delta").load(orders)
        return {row.order_id: row.customer_city for row in frame.collect()}

    propagate(spark, customers(("c1", "sao paulo"), ("c2", "rio")), orders, "customer_id", ("customer_city",))
    assert cities() == {"o1": "sao paulo", "o2": "rio"}
    refreshed = version()
    propagate(spark, customers(("c1", "sao paulo"), ("c2", "rio")), orders, "customer_id", ("customer_city",))
    assert version() == refreshed  # nothing stale: no MERGE, no commit
    propagate(spark, customers(("c2", "niteroi")), orders, "customer_id", ("customer_city",))
    assert cities() == {"o1": "sao paulo", "o2": "niteroi"} and version() == refreshed + 1


# An unbalanced quote on line 3 and a field over the csv module's limit on line 5: each is quarantined
# alone with its line, and every record after them still loads (physical lines 1..7).
BIG = "x" * 200_000
BROKEN_PAYMENTS = "\n".join(
    [
        HEADER,
        "o1,1,credit_card,3,99.90",
        'o2,1,"voucher,1,10.00',  # line 3: the quote never closes
        "o3,1,boleto,1,5.00",
        f'o4,1,"{BIG}",1,1.00',  # line 5: one field of 200,000 characters
        '"o5",1,"debit\ncard",1,2.00',  # lines 6-7: a quoted line break is still one record
        "o6,1,boleto,1,3.00",
    ]
)


def test_an_unbalanced_quote_or_a_huge_field_costs_only_its_own_record():
    from shopflow_assets.domains.marketplace.transforms import FIELD_TOO_LARGE, UNBALANCED_QUOTE

    records = _scan(BROKEN_PAYMENTS + "\n", ORDER_PAYMENTS.columns)
    assert [(r.line, r.rule) for r in records] == [
        (2, None),
        (3, UNBALANCED_QUOTE),
        (4, None),
        (5, FIELD_TOO_LARGE),
        (6, None),
        (8, None),
    ]
    assert records[1].raw == 'o2,1,"voucher,1,10.00' and records[3].raw.startswith('o4,1,"xxx')
    assert records[4].fields == ["o5", "1", "debit\ncard", "1", "2.00"]
    # a quote still open at the end of the file: its line is quarantined, the lines after it are records
    tail = _scan(
        f'{HEADER}\no1,1,"credit_card,3,99.90\no2,1,boleto,1,10.00\no3,1,boleto,1,5.00',
        ORDER_PAYMENTS.columns,
    )
    assert [(r.line, r.rule) for r in tail] == [(2, UNBALANCED_QUOTE), (3, None), (4, None)]


def test_batch_bronze_accounts_for_every_record_of_a_broken_file(tmp_path):
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake, load_batch_bronze
    from shopflow_assets.domains.marketplace.transforms import FIELD_TOO_LARGE, UNBALANCED_QUOTE
    from shopflow_assets.resources.spark import get_spark_session

    folder = tmp_path / "olist"
    folder.mkdir()
    (folder / f"{ORDER_PAYMENTS.csv_name}.csv").write_text(BROKEN_PAYMENTS + "\r\n")
    lake = MarketplaceLake(uri=lambda bucket, key, engine: str(tmp_path / "lake" / bucket / key))
    spark = get_spark_session()

    load = load_batch_bronze(spark, lake, folder, (ORDER_PAYMENTS,))["order_payments"]
    assert (load.rows, load.malformed) == (4, {UNBALANCED_QUOTE: 1, FIELD_TOO_LARGE: 1})
    bronze = spark.read.format("delta").load(lake.paths.bronze("order_payments"))
    assert sorted(r.order_id for r in bronze.select("order_id").collect()) == ["o1", "o3", "o5", "o6"]
    quarantined = (
        spark.read.format("delta")
        .load(lake.malformed_rows(ORDER_PAYMENTS))
        .orderBy("_line")
        .select("_line", "_quarantine_reason", "_raw")
        .collect()
    )
    assert [(r._line, r._quarantine_reason) for r in quarantined] == [
        (3, UNBALANCED_QUOTE),
        (5, FIELD_TOO_LARGE),
    ]
    assert quarantined[0]._raw == 'o2,1,"voucher,1,10.00' and len(quarantined[1]._raw) > 200_000
