"""Silver rules of the marketplace on small local Delta tables: validation reasons, newest wins, MERGE, enrichment."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from shopflow_assets.contracts.marketplace import (
    CATEGORY_TRANSLATION,
    CUSTOMERS,
    ORDER_ITEMS,
    ORDER_PAYMENTS,
    ORDERS,
    PRODUCTS,
    SELLERS,
)
from shopflow_assets.domains.marketplace.pipeline import SilverPaths, silver_batch_writer, upsert_silver_batch
from shopflow_assets.domains.marketplace.transforms import (
    REASON,
    newest_per_key,
    split_valid,
    typed_with_reasons,
)
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


@pytest.fixture
def paths(tmp_path) -> SilverPaths:
    return SilverPaths(
        bronze_root=str(tmp_path / "bronze"),
        silver_root=str(tmp_path / "silver"),
        quarantine_root=str(tmp_path / "quarantine"),
    )


def bronze(spark, table, rows):
    """Bronze-shaped rows: every source column a string, plus the Kafka offset."""
    columns = [*table.columns, "_ingestion_timestamp"]
    data = [tuple(row.get(c) for c in columns) + (row.get("_kafka_offset", i),) for i, row in enumerate(rows)]
    schema = ", ".join(f"`{c}` string" for c in columns) + ", _kafka_offset long"
    return spark.createDataFrame(data, schema)


def order(order_id, status="delivered", ts="2024-01-15T10:00:00Z", **extra):
    row = {
        "order_id": order_id,
        "customer_id": f"c-{order_id}",
        "order_status": status,
        "order_purchase_timestamp": "2017-10-02 10:56:33",
        "order_estimated_delivery_date": "2017-10-20 00:00:00",
        "_ingestion_timestamp": ts,
    }
    return row | extra


def customer(customer_id, state="SP", zip_prefix="01001", city="sao paulo", ts="2024-01-15T10:00:00Z"):
    return {
        "customer_id": customer_id,
        "customer_unique_id": "u1",
        "customer_zip_code_prefix": zip_prefix,
        "customer_city": city,
        "customer_state": state,
        "_ingestion_timestamp": ts,
    }


def silver_rows(spark, paths, name, key):
    df = spark.read.format("delta").load(paths.silver(name))
    return {row[key]: row.asDict() for row in df.collect()}


def test_each_broken_rule_is_named_in_the_reason(spark):
    rows = [
        {
            "order_id": "i1",
            "order_item_id": "1",
            "product_id": "p",
            "seller_id": "s",
            "price": "10.5",
            "freight_value": "2",
            "_ingestion_timestamp": "2024-01-01T00:00:00Z",
        },
        {
            "order_id": "i2",
            "order_item_id": "1",
            "product_id": "p",
            "seller_id": "s",
            "price": "-1",
            "freight_value": "abc",
            "_ingestion_timestamp": "2024-01-01T00:00:00Z",
        },
        {
            "order_id": "",
            "order_item_id": "1",
            "product_id": "p",
            "seller_id": "s",
            "price": "1",
            "freight_value": "1",
            "_ingestion_timestamp": "not a time",
        },
    ]
    typed = typed_with_reasons(bronze(spark, ORDER_ITEMS, rows), ORDER_ITEMS)
    reasons = {r["order_id"]: r[REASON] for r in typed.collect()}
    assert reasons["i1"] is None
    assert reasons["i2"] == "unparseable_freight_value; negative_price"
    assert reasons[None] == "missing_ingestion_timestamp; missing_key_order_id"
    valid = typed.filter(F.col(REASON).isNull()).first()
    assert str(valid["price"]) == "10.50" and valid["order_item_id"] == 1


def test_unknown_status_and_missing_purchase_time_are_invalid(spark):
    rows = [order("a"), order("b", status="lost"), order("c", order_purchase_timestamp="")]
    valid, quarantined = split_valid(typed_with_reasons(bronze(spark, ORDERS, rows), ORDERS))
    assert [r["order_id"] for r in valid.collect()] == ["a"]
    assert {r["order_id"]: r[REASON] for r in quarantined.collect()} == {
        "b": "invalid_status",
        "c": "missing_order_purchase_timestamp",
    }


def test_newest_ingestion_timestamp_wins_whatever_the_arrival_order(spark):
    rows = [
        order("a", status="shipped", ts="2024-01-15T10:05:00Z", _kafka_offset=0),
        order("a", status="delivered", ts="2024-01-15T10:09:00Z", _kafka_offset=1),
        order("a", status="processing", ts="2024-01-15T10:01:00Z", _kafka_offset=2),  # late message
        order("b", status="shipped", _kafka_offset=3),
        order("b", status="delivered", _kafka_offset=4),  # same timestamp: the later offset wins
    ]
    valid, _ = split_valid(typed_with_reasons(bronze(spark, ORDERS, rows), ORDERS))
    newest = {r["order_id"]: r["order_status"] for r in newest_per_key(valid, ORDERS.keys).collect()}
    assert newest == {"a": "delivered", "b": "delivered"}


def test_merge_inserts_updates_with_newer_and_ignores_older_messages(spark, paths):
    first = [order("a", "shipped", "2024-01-15T10:00:00Z"), order("b", "delivered"), order("x", "bogus")]
    counts = upsert_silver_batch(spark, ORDERS, bronze(spark, ORDERS, first), 0, paths)
    assert counts == {"input": 3, "quarantined": 1, "newest_versions": 2, "superseded_in_batch": 0}

    second = [
        order("a", "delivered", "2024-01-15T10:03:00Z"),  # newer: updates
        order("b", "canceled", "2024-01-15T09:55:00Z"),  # late and older than silver: ignored
        order("c", "created"),  # new key: inserted
        order("c", "created"),  # duplicate message
    ]
    counts = upsert_silver_batch(spark, ORDERS, bronze(spark, ORDERS, second), 1, paths)
    assert counts == {"input": 4, "quarantined": 0, "newest_versions": 3, "superseded_in_batch": 1}

    silver = silver_rows(spark, paths, "orders", "order_id")
    assert {k: v["order_status"] for k, v in silver.items()} == {
        "a": "delivered",
        "b": "delivered",
        "c": "created",
    }
    assert all(v["_silver_updated_at"] is not None for v in silver.values())

    # Replaying a batch (a retried micro-batch) changes neither silver nor the quarantine.
    upsert_silver_batch(spark, ORDERS, bronze(spark, ORDERS, first), 0, paths)
    replayed = silver_rows(spark, paths, "orders", "order_id")
    assert {k: v["order_status"] for k, v in replayed.items()} == {
        k: v["order_status"] for k, v in silver.items()
    }
    quarantine = spark.read.format("delta").load(paths.quarantine("orders")).collect()
    assert [(r["order_id"], r[REASON]) for r in quarantine] == [("x", "invalid_status")]


def test_enrichment_whatever_arrives_first(spark, paths):
    # The order arrives before its customer; the customer batch fills the order's customer columns.
    upsert_silver_batch(spark, ORDERS, bronze(spark, ORDERS, [order("o1", customer_id="c1")]), 0, paths)
    assert silver_rows(spark, paths, "orders", "order_id")["o1"]["customer_state"] is None
    customers = [
        customer("c1"),
        customer("c2", state="RJ", zip_prefix="20000", city="rio de janeiro", ts="2024-01-15T11:00:00Z"),
    ]
    upsert_silver_batch(spark, CUSTOMERS, bronze(spark, CUSTOMERS, customers), 0, paths)
    enriched = silver_rows(spark, paths, "orders", "order_id")["o1"]
    assert (
        enriched["customer_unique_id"],
        enriched["customer_state"],
        enriched["customer_zip_code_prefix"],
    ) == (
        "u1",
        "SP",
        "01001",
    )
    # Products get their English category from the translation; items get product and seller info.
    spark.createDataFrame(
        [("beleza_saude", "health_beauty")],
        "product_category_name string, product_category_name_english string",
    ).write.format("delta").save(paths.bronze(CATEGORY_TRANSLATION.name))
    products = [
        {
            "product_id": "p1",
            "product_category_name": "beleza_saude",
            "product_weight_g": "225.0",
            "_ingestion_timestamp": "2024-01-15T10:00:00Z",
        },
        {"product_id": "p2", "product_category_name": "pcs", "_ingestion_timestamp": "2024-01-15T10:00:00Z"},
    ]
    upsert_silver_batch(spark, PRODUCTS, bronze(spark, PRODUCTS, products), 0, paths)
    sellers = [
        {
            "seller_id": "s1",
            "seller_city": "campinas",
            "seller_state": "SP",
            "_ingestion_timestamp": "2024-01-15T10:00:00Z",
        }
    ]
    upsert_silver_batch(spark, SELLERS, bronze(spark, SELLERS, sellers), 0, paths)
    items = [
        {
            "order_id": "o1",
            "order_item_id": str(n),
            "product_id": f"p{n}",
            "seller_id": "s1",
            "price": "10",
            "freight_value": "1.25",
            "_ingestion_timestamp": "2024-01-15T10:00:00Z",
        }
        for n in (1, 2)
    ]
    upsert_silver_batch(spark, ORDER_ITEMS, bronze(spark, ORDER_ITEMS, items), 0, paths)
    rows = spark.read.format("delta").load(paths.silver("order_items")).orderBy("order_item_id").collect()
    assert [
        (r["product_category_name_english"], r["product_category_name"], r["seller_state"]) for r in rows
    ] == [
        ("health_beauty", "beleza_saude", "SP"),
        (None, "pcs", "SP"),
    ]
    # A seller that moves later updates the items it sold.
    moved = [sellers[0] | {"seller_state": "RJ", "_ingestion_timestamp": "2024-01-15T12:00:00Z"}]
    upsert_silver_batch(spark, SELLERS, bronze(spark, SELLERS, moved), 1, paths)
    rows = spark.read.format("delta").load(paths.silver("order_items")).collect()
    assert {r["seller_state"] for r in rows} == {"RJ"}


def test_silver_checks_of_a_table_whose_bronze_was_never_loaded_pass_and_say_why(spark, tmp_path):
    """The streams' sensor can run olist_bronze_silver before the first olist_pipeline has loaded the CSV
    tables' bronze (seen in a soak: the step failed with PATH_NOT_FOUND on silver/order_payments)."""
    from shopflow_assets.domains.marketplace.checks import silver_check_results

    missing = str(tmp_path / "silver" / "order_payments")
    results = silver_check_results(spark, missing, ORDER_PAYMENTS)
    assert sorted(r.check_name for r in results) == ["amounts_in_range", "unique_keys"]
    assert all(r.passed and r.metadata["rows"].value == 0 for r in results)
    assert all("no silver table yet" in r.description and missing in r.description for r in results)


def test_a_silver_writer_shipped_to_a_python_worker_still_enriches_and_propagates(spark, paths):
    """On the warm driver the silver foreachBatch function is cloudpickled to a Python worker of the Connect
    server. Pickled by value, it took copies of the contracts with it, and the pipeline's `table is ORDERS`
    failed there: orders were merged without their customer columns, and a customer batch propagated as if
    it were sellers (UNRESOLVED_COLUMN seller_id once order_items existed). The soak found it."""
    from pyspark import cloudpickle

    def shipped(table):
        writer = silver_batch_writer(table, paths, "shipped-run")  # the run's token in the commit marks
        return cloudpickle.loads(cloudpickle.dumps(writer))

    item = {
        "order_id": "o1",
        "order_item_id": "1",
        "product_id": "p1",
        "seller_id": "s1",
        "price": "10",
        "freight_value": "1",
        "_ingestion_timestamp": "2024-01-15T10:00:00Z",
    }
    seller = {"seller_id": "s1", "seller_state": "SP", "_ingestion_timestamp": "2024-01-15T10:00:00Z"}
    shipped(CUSTOMERS)(typed_with_reasons(bronze(spark, CUSTOMERS, [customer("c1")]), CUSTOMERS), 0)
    shipped(ORDERS)(typed_with_reasons(bronze(spark, ORDERS, [order("o1", customer_id="c1")]), ORDERS), 0)
    assert silver_rows(spark, paths, "orders", "order_id")["o1"]["customer_state"] == "SP"  # enriched

    # A fact that arrived before its dimensions, then a changed customer and a late seller: both propagate.
    shipped(ORDER_ITEMS)(typed_with_reasons(bronze(spark, ORDER_ITEMS, [item]), ORDER_ITEMS), 0)
    moved = customer("c1", state="RJ", ts="2024-01-16T10:00:00Z")
    shipped(CUSTOMERS)(typed_with_reasons(bronze(spark, CUSTOMERS, [moved]), CUSTOMERS), 1)
    shipped(SELLERS)(typed_with_reasons(bronze(spark, SELLERS, [seller]), SELLERS), 0)
    assert silver_rows(spark, paths, "orders", "order_id")["o1"]["customer_state"] == "RJ"
    assert silver_rows(spark, paths, "order_items", "order_id")["o1"]["seller_state"] == "SP"
