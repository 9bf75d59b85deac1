"""A lost lake under a kept PostgreSQL: the first ERP run says so in one line, `erp resync` recovers.

Each test has its own totesys and warehouse databases and lake prefix (support.erp.erp_stack) and deletes
only the objects under that prefix. The warehouse is then compared with a computation straight from the
source database, table by table.
"""

from __future__ import annotations

import dataclasses

import pytest

from shopflow_assets.contracts.erp import (
    DIMENSION_SOURCES,
    DIMENSIONS,
    FACTS,
    PROCESSED_BUCKET,
    RAW_BUCKET,
    primary_key,
)
from shopflow_assets.datagen.erp import generate_erp, reset_source
from shopflow_assets.devstack.minio_iam import purge_with_root
from shopflow_assets.domains.erp import runner
from shopflow_assets_tests.support.erp import SMALL, rows

pytestmark = pytest.mark.stack

# fact -> the amount summed, the same expression in the source table and the warehouse.
FACT_AMOUNTS = {
    "fact_sales_order": "units_sold * unit_price",
    "fact_purchase_order": "item_quantity * item_unit_price",
    "fact_payment": "payment_amount",
}


def lose_the_lake(erp) -> int:
    """Delete every raw and processed object of this test's prefix (raw-data needs MinIO's root key)."""
    removed = purge_with_root(erp.settings, RAW_BUCKET, f"{erp.prefix}/")
    for key in erp.lake.list_keys(PROCESSED_BUCKET, f"{erp.prefix}/"):
        erp.lake.client.delete_object(Bucket=PROCESSED_BUCKET, Key=key)
        removed += 1
    return removed


def resync(erp) -> runner.ResyncResult:
    with (
        erp.reader.connect(database=erp.source_db) as reader,
        erp.owner.connect(database=erp.warehouse_db) as state,
    ):
        return runner.resync(reader, state, erp.lake, prefix=erp.prefix, safety_lag_seconds=0.0)


def source_figures(erp) -> dict[str, tuple]:
    """Per warehouse table, (rows, sum) computed from totesys alone: facts sum their amount, dims their key."""
    figures = {}
    with erp.source() as src:
        for name, (_, table, _, _) in FACTS.items():
            figures[name] = rows(src, f"SELECT count(*), sum({FACT_AMOUNTS[name]}) FROM {table}")[0]  # nosec B608 # constant names
        for name, sources in DIMENSION_SOURCES.items():
            table = sources[0]
            figures[name] = rows(src, f"SELECT count(*), sum({primary_key(table)}) FROM {table}")[0]  # nosec B608 # constant names
    return figures


def warehouse_figures(erp) -> dict[str, tuple]:
    """The same figures from the warehouse: facts over the latest version of each source row."""
    figures = {}
    with erp.warehouse() as wh:
        for name, (_, _, source_id, _) in FACTS.items():
            latest = (
                f"SELECT DISTINCT ON ({source_id}) * FROM erp.{name} "
                f"ORDER BY {source_id}, source_last_updated DESC"
            )
            figures[name] = rows(wh, f"SELECT count(*), sum({FACT_AMOUNTS[name]}) FROM ({latest}) f")[0]  # nosec B608 # constant names
        for name in DIMENSION_SOURCES:
            key = DIMENSIONS[name][0]
            figures[name] = rows(wh, f"SELECT count(*), sum({key}) FROM erp.{name}")[0]  # nosec B608 # constant names
    return figures


def fact_rows(erp) -> dict[str, int]:
    with erp.warehouse() as wh:
        return {name: rows(wh, f"SELECT count(*) FROM erp.{name}")[0][0] for name in FACTS}  # nosec B608 # constant names


def test_a_lost_lake_is_named_at_the_first_run_and_resync_rebuilds_without_losing_or_doubling(erp):
    erp.run()
    with erp.source() as src:
        src.execute("UPDATE sales_order SET units_sold = 777 WHERE sales_order_id = 5")
    erp.run()
    before = fact_rows(erp)
    watermarks = erp.watermarks()
    assert lose_the_lake(erp) >= 2 * len(watermarks)  # a raw object per table and more, all gone
    # Changes made while the lake was gone: an update (a new fact version) and a new order.
    with erp.source() as src:
        src.execute("UPDATE sales_order SET unit_price = 1.23 WHERE sales_order_id = 6")
        src.execute(
            "INSERT INTO sales_order (design_id, staff_id, counterparty_id, units_sold, unit_price, currency_id, "
            "agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id) "
            "VALUES (2, 3, 4, 10, 2.50, 1, '2027-01-05', '2027-02-05', 2)"
        )

    with pytest.raises(runner.LakeStateLostError) as lost:
        erp.ingest()
    message = str(lost.value)
    assert len(message.splitlines()) == 1
    assert f"raw-data/{erp.prefix}/" in message and "`shopflow erp resync`" in message
    assert erp.watermarks() == watermarks  # the refused run moved nothing

    done = resync(erp)
    assert not done.ingest.failed and done.transform.batch_id is not None
    assert warehouse_figures(erp) == source_figures(erp)
    after = fact_rows(erp)
    # Nothing lost (the history of sales_order 5 stays), nothing doubled: exactly the two new versions.
    assert after == {**before, "fact_sales_order": before["fact_sales_order"] + 2}
    with erp.warehouse() as wh:
        assert rows(wh, "SELECT count(*) FROM erp.fact_sales_order WHERE sales_order_id = 5") == [(2,)]
        assert rows(wh, "SELECT count(*) FROM erp_state.processed_batch WHERE loaded_at IS NULL") == [(0,)]

    # The ordinary flow goes on from the resync: a later change arrives once, nothing is folded twice.
    with erp.source() as src:
        src.execute("UPDATE payment SET payment_amount = payment_amount + 1 WHERE payment_id = 1")
    erp.run()
    assert warehouse_figures(erp) == source_figures(erp)
    assert fact_rows(erp) == {**after, "fact_payment": after["fact_payment"] + 1}


def test_a_lost_processed_layer_alone_is_named_too(erp):
    erp.run()
    for key in erp.lake.list_keys(PROCESSED_BUCKET, f"{erp.prefix}/_current/"):
        erp.lake.client.delete_object(Bucket=PROCESSED_BUCKET, Key=key)
    with pytest.raises(runner.LakeStateLostError, match=rf"processed/{erp.prefix}/_current/") as lost:
        erp.ingest()
    assert len(str(lost.value).splitlines()) == 1
    resync(erp)
    erp.run()  # the check passes again
    assert warehouse_figures(erp) == source_figures(erp)


def test_resync_after_a_new_source_and_warehouse_ignores_the_objects_left_in_the_lake(erp):
    """`services reset postgres --force`: totesys and the warehouse start anew, the lake keeps old objects."""
    erp.run()
    old_orders = fact_rows(erp)["fact_sales_order"]
    with erp.source() as src:
        src.autocommit = False
        reset_source(src)
        generate_erp(src, dataclasses.replace(SMALL, sales_orders=40), seed=11)
        src.execute("DELETE FROM payment")  # empty at the resync, while the lake keeps old payments
        src.commit()
    with erp.warehouse() as wh:
        wh.execute("DROP SCHEMA erp CASCADE")
        wh.execute("DROP SCHEMA erp_state CASCADE")
    resync(erp)
    assert warehouse_figures(erp) == source_figures(erp)
    figures = source_figures(erp)
    assert fact_rows(erp) == {name: figures[name][0] for name in FACTS}
    assert (old_orders, figures["fact_sales_order"][0]) == (60, 40)  # the old orders were not folded in

    # A payment made later is the only one: the old payment objects were marked folded, not read again.
    with erp.source() as src:
        src.execute(
            "INSERT INTO payment (transaction_id, counterparty_id, payment_amount, currency_id, "
            "payment_type_id, paid, payment_date, company_ac_number, counterparty_ac_number) "
            "VALUES (1, 1, 12.34, 1, 1, true, '2027-01-05', 11111111, 22222222)"
        )
    erp.run()
    assert fact_rows(erp)["fact_payment"] == 1
    assert warehouse_figures(erp) == source_figures(erp)
