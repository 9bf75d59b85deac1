"""The ERP flow on the real PostgreSQL and MinIO: totesys -> raw objects -> star schema -> warehouse.

Each test gets its own totesys and warehouse databases (read by the real read-only role) and its own lake
prefix (support.erp.erp_stack). Nothing is mocked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pyarrow as pa
import pytest

from shopflow_assets.contracts.erp import SOURCE_TABLES
from shopflow_assets.domains.erp import runner
from shopflow_assets.resources.extract import InvalidIdentifierError
from shopflow_assets.resources.lake import LakeConflictError, LakeError
from shopflow_assets_tests.support.erp import rows

pytestmark = pytest.mark.stack


def test_first_run_loads_every_table_and_a_rerun_changes_nothing(erp):
    erp.run()
    with erp.source() as src, erp.warehouse() as wh:
        assert rows(wh, "SELECT count(*) FROM erp.fact_sales_order") == rows(
            src, "SELECT count(*) FROM sales_order"
        )
        assert rows(wh, "SELECT count(*) FROM erp.fact_payment") == rows(src, "SELECT count(*) FROM payment")
        assert rows(wh, "SELECT count(*) FROM erp.dim_counterparty") == rows(
            src, "SELECT count(*) FROM counterparty"
        )
        before = rows(wh, "SELECT count(*), sum(units_sold * unit_price) FROM erp.fact_sales_order")
    assert set(erp.watermarks()) == set(SOURCE_TABLES)
    keys = {t: erp.raw_keys(t) for t in SOURCE_TABLES}
    assert all(len(k) == 1 for k in keys.values())

    again = erp.ingest()
    assert not again.written  # nothing changed: nothing written
    assert erp.transform().batch_id is None
    assert erp.load().batches == []
    assert {t: erp.raw_keys(t) for t in SOURCE_TABLES} == keys
    with erp.warehouse() as wh:
        assert rows(wh, "SELECT count(*), sum(units_sold * unit_price) FROM erp.fact_sales_order") == before


def test_inserted_and_updated_rows_reach_the_warehouse_with_a_new_fact_history_row(erp):
    erp.run()
    with erp.source() as src:
        src.execute("UPDATE sales_order SET unit_price = 3.17, units_sold = 4242 WHERE sales_order_id = 5")
        new_id = src.execute(
            "INSERT INTO sales_order (design_id, staff_id, counterparty_id, units_sold, unit_price, currency_id, "
            "agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id) "
            "VALUES (2, 3, 4, 1500, 2.99, 1, '2027-01-05', '2027-02-05', 2) RETURNING sales_order_id"
        ).fetchone()[0]
        src.execute("UPDATE address SET city = 'Gateshead' WHERE address_id = 2")
        updated_at = rows(src, "SELECT last_updated FROM sales_order WHERE sales_order_id = 5")[0][0]
    result = erp.ingest()
    assert result.tables["sales_order"].rows == 2
    assert result.tables["address"].rows == 1
    assert result.tables["staff"].rows == 0 and "staff" not in result.written
    erp.transform()
    erp.load()
    with erp.warehouse() as wh:
        history = rows(
            wh,
            "SELECT unit_price, units_sold, source_last_updated FROM erp.fact_sales_order "
            "WHERE sales_order_id = 5 ORDER BY sales_record_id",
        )
        assert len(history) == 2  # the first version and the update
        assert history[1] == (Decimal("3.17"), 4242, updated_at)
        assert history[0][0] != Decimal("3.17")
        assert rows(
            wh,
            "SELECT units_sold, unit_price, currency_id, agreed_delivery_date, sales_staff_id "
            "FROM erp.fact_sales_order WHERE sales_order_id = %s",
            new_id,
        ) == [(1500, Decimal("2.99"), 1, dt.date(2027, 1, 5), 3)]
        assert rows(wh, "SELECT city FROM erp.dim_location WHERE location_id = 2") == [("Gateshead",)]
        # The counterparty dimension carries its legal address: every one living at address 2 moved too.
        with erp.source() as src:
            at_two = [
                r[0] for r in rows(src, "SELECT counterparty_id FROM counterparty WHERE legal_address_id = 2")
            ]
        cities = rows(
            wh,
            "SELECT DISTINCT counterparty_legal_city FROM erp.dim_counterparty WHERE counterparty_id = ANY(%s)",
            at_two,
        )
        assert cities == ([("Gateshead",)] if at_two else [])
        # Re-loading the same batch is idempotent: no duplicate versions.
        wh.execute("UPDATE erp_state.processed_batch SET loaded_at = NULL")
    erp.load()
    with erp.warehouse() as wh:
        assert rows(wh, "SELECT count(*) FROM erp.fact_sales_order WHERE sales_order_id = 5") == [(2,)]
        assert rows(
            wh,
            "SELECT count(*) FROM (SELECT sales_order_id, source_last_updated FROM erp.fact_sales_order "
            "GROUP BY 1, 2 HAVING count(*) > 1) d",
        ) == [(0,)]


def _source_fingerprint(erp) -> dict[str, str]:
    with erp.source() as src:
        return {
            table: hashlib.sha256(
                repr(rows(src, f'SELECT * FROM "{table}" ORDER BY 1')).encode()  # noqa: S608 - contract names
            ).hexdigest()
            for table in SOURCE_TABLES
        }


@pytest.mark.parametrize(
    "options",
    [
        {"tables": ["address; DROP TABLE staff; --"]},
        {"tables": ["pg_authid"]},  # a valid identifier, but not an ERP table
        {"tables": ['address" CASCADE; DELETE FROM payment; --']},
        {"changed_column": "last_updated; DELETE FROM payment"},
        {"changed_column": "last_updated) OR (1=1"},
        {"source_schema": "public; DROP SCHEMA public CASCADE"},
        {"prefix": "../erp"},
    ],
)
def test_injection_through_a_configurable_name_is_refused_and_the_databases_are_unchanged(erp, options):
    before = _source_fingerprint(erp)
    with pytest.raises((InvalidIdentifierError, runner.UnknownTableError, LakeError)):
        erp.ingest(**options)
    assert _source_fingerprint(erp) == before
    assert erp.watermarks() == {}


def test_an_injection_attempt_in_a_value_travels_as_data(erp):
    payload = "x'); DROP TABLE payment; --"
    with erp.source() as src:
        src.execute("UPDATE address SET address_line_1 = %s WHERE address_id = 1", (payload,))
    before = _source_fingerprint(erp)
    erp.run()
    assert _source_fingerprint(erp) == before
    with erp.warehouse() as wh:
        assert rows(wh, "SELECT address_line_1 FROM erp.dim_location WHERE location_id = 1") == [(payload,)]
        assert rows(wh, "SELECT count(*) > 0 FROM erp.fact_payment") == [(True,)]
    with erp.reader.connect(database=erp.source_db) as reader, pytest.raises(Exception, match="read-only"):
        reader.execute("DELETE FROM payment")


def test_schema_drift_stops_that_table_and_the_others_go_on(erp):
    erp.run()
    marks = erp.watermarks()
    with erp.source() as src:
        src.execute("ALTER TABLE design ADD COLUMN colour text")
        src.execute("UPDATE design SET design_name = 'Drifted' WHERE design_id = 1")
        src.execute("ALTER TABLE currency ALTER COLUMN currency_code TYPE varchar(10)")
        src.execute("UPDATE staff SET last_name = 'Moved' WHERE staff_id = 1")
    result = erp.ingest()
    assert set(result.failed) == {"design", "currency"}
    assert (
        "schema drift in totesys.public.design: column 'colour' (text) was added"
        in result.failed["design"].error
    )
    assert "currency_code' changed type from character varying(3) to character varying(10)" in (
        result.failed["currency"].error
    )
    assert result.written["staff"].rows == 1
    after = erp.watermarks()
    assert after["design"] == marks["design"] and after["currency"] == marks["currency"]
    assert after["staff"] > marks["staff"]


def test_raw_objects_are_never_overwritten(erp):
    erp.run()
    first = {
        key: hashlib.sha256(erp.lake.get_bytes(runner.RAW_BUCKET, key)).hexdigest()
        for table in SOURCE_TABLES
        for key in erp.raw_keys(table)
    }
    for price in ("2.01", "2.02"):
        with erp.source() as src:
            src.execute("UPDATE sales_order SET unit_price = %s WHERE sales_order_id = 1", (Decimal(price),))
        erp.run()
    keys = erp.raw_keys("sales_order")
    assert len(keys) == 3 and keys == sorted(keys)
    for key, digest in first.items():
        assert hashlib.sha256(erp.lake.get_bytes(runner.RAW_BUCKET, key)).hexdigest() == digest
    # A write under an existing key with other bytes is refused by the lake itself.
    with pytest.raises(LakeConflictError):
        erp.lake.put_if_absent(runner.RAW_BUCKET, keys[0], runner.to_parquet(pa.table({"x": [1]})))
    assert runner.read_parquet(erp.lake, runner.RAW_BUCKET, keys[-1])["unit_price"].to_pylist() == [
        Decimal("2.02")
    ]


def test_extraction_keeps_the_utc_instant_in_a_non_utc_session_with_pyarrow_ignoring_time_zones(
    erp, monkeypatch
):
    # pandera sets PYARROW_IGNORE_TIMEZONE=1 on import; a source session in another time zone must still give
    # the same instants (the extraction converts to UTC before Arrow).
    from shopflow_assets.resources.extract import ChangeWindow, extract_changes, server_now

    monkeypatch.setenv("PYARROW_IGNORE_TIMEZONE", "1")
    with erp.source() as src:
        expected = rows(src, "SELECT last_updated FROM currency ORDER BY last_updated")
    with erp.reader.connect(database=erp.source_db, autocommit=True) as reader:
        reader.execute("SET TIME ZONE 'Asia/Tokyo'")
        window = ChangeWindow(after=None, up_to=server_now(reader))
        table = extract_changes(reader, "currency", changed_column="last_updated", window=window)
    assert [(t,) for t in table["last_updated"].to_pylist()] == expected
