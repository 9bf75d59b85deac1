"""`shopflow lake restore bronze_orders` on the real services (issue 24 item 5): refused without the flag;
with `--allow-streamed-source` the restore goes through, silver_orders is rebuilt from the restored bronze
by the next silver run (no streaming failure), equal to it, and the flow carries on with new messages.

Orders only, on its own topic and lake namespace, through the pipeline's own bronze and silver functions.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from confluent_kafka import Producer

from shopflow_assets.cli import main
from shopflow_assets.contracts.marketplace import ORDERS
from shopflow_assets.datagen.producer import ensure_topics
from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake, build_silver, ingest_bronze
from shopflow_assets.resources.delta_tables import DeltaTables
from shopflow_assets.resources.kafka import kafka_client_config
from shopflow_assets.resources.lake import build_lake
from shopflow_assets.resources.spark import get_spark_session
from shopflow_assets.settings import get_settings
from shopflow_assets_tests.support.cleanup import delete_topics, lake_namespace_prefixes, remove_from_lake

pytestmark = pytest.mark.stack


def order(order_id: str, status: str, stamp: dt.datetime, customer_id: str | None = "c1") -> dict:
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "order_status": status,
        "order_purchase_timestamp": "2026-01-05 10:00:00",
        "order_approved_at": None,
        "order_delivered_carrier_date": None,
        "order_delivered_customer_date": None,
        "order_estimated_delivery_date": "2026-01-20 00:00:00",
        "_ingestion_timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def send(topic: str, rows: list[dict]) -> None:
    producer = Producer(kafka_client_config(get_settings(), "producer"))
    for row in rows:
        producer.produce(topic, json.dumps(row).encode(), row["order_id"].encode())
    assert producer.flush(30) == 0


def lake_cli(monkeypatch, *args: str) -> int:
    """`shopflow lake ...` in this process, on the S3 lake the pipeline functions write."""
    with monkeypatch.context() as scoped:
        scoped.setenv("SHOPFLOW_ENV", "docker")
        get_settings.cache_clear()
        try:
            return main(["lake", *args])
        finally:
            get_settings.cache_clear()


def silver_rows(spark, lake: MarketplaceLake) -> dict[str, str]:
    rows = spark.read.format("delta").load(lake.paths.silver("orders")).collect()
    by_key = {row["order_id"]: row["order_status"] for row in rows}
    assert len(by_key) == len(rows), "duplicate order ids in silver_orders"
    return by_key


def bronze_newest_valid(spark, lake: MarketplaceLake) -> dict[str, str]:
    """What silver must hold: per order id the newest bronze row, rows without a customer left out."""
    newest: dict[str, tuple[str, str | None, str]] = {}
    for row in spark.read.format("delta").load(lake.paths.bronze("orders")).collect():
        stamp = row["_ingestion_timestamp"]
        if row["order_id"] not in newest or stamp > newest[row["order_id"]][0]:
            newest[row["order_id"]] = (stamp, row["customer_id"], row["order_status"])
    return {key: status for key, (_, customer, status) in newest.items() if customer}


def remove_namespace(namespace: str, topic: str) -> None:
    """This test's tables, quarantine and checkpoints, and its topic."""
    remove_from_lake(get_settings(), lake_namespace_prefixes(namespace))
    delete_topics(get_settings(), [topic])


@pytest.fixture
def run_id():
    run_id = uuid.uuid4().hex[:8]
    yield run_id
    remove_namespace(f"restore-{run_id}", f"{ORDERS.topic}_{run_id}")


def test_a_forced_restore_of_bronze_orders_rebuilds_silver_equal_to_bronze(run_id, monkeypatch, capsys):
    settings = get_settings()
    namespace = f"restore-{run_id}"
    lake = MarketplaceLake(build_lake(settings, "s3").uri, namespace)
    tables = DeltaTables(settings.model_copy(update={"env": "docker"}), namespace)
    spark = get_spark_session()
    topic = f"{ORDERS.topic}_{run_id}"
    ensure_topics({topic: 1})
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)

    def run_bronze_and_silver() -> None:
        ingest_bronze(spark, lake, settings.kafka_bootstrap_servers, (ORDERS,), topic_suffix=run_id)
        build_silver(spark, lake, (ORDERS,))

    # A good load: four orders and one without a customer (quarantined by silver).
    send(topic, [order(f"o{i}", "delivered", t0) for i in range(1, 5)] + [order("bad", "created", t0, None)])
    run_bronze_and_silver()
    good_version = tables.open("bronze_orders").version()
    assert silver_rows(spark, lake) == {f"o{i}": "delivered" for i in range(1, 5)}

    # The load to undo: two new orders and a newer version of o1.
    later = t0 + dt.timedelta(seconds=30)
    send(
        topic, [order("o5", "shipped", later), order("o6", "shipped", later), order("o1", "canceled", later)]
    )
    run_bronze_and_silver()
    assert silver_rows(spark, lake)["o1"] == "canceled" and len(silver_rows(spark, lake)) == 6
    bad_version = tables.open("bronze_orders").version()

    # (a) Refused, saying what to do, nothing committed.
    restore = ["restore", "bronze_orders", "--namespace", namespace, "--to", str(good_version)]
    assert lake_cli(monkeypatch, *restore) == 2
    refusal = capsys.readouterr().err
    assert refusal.count("\n") == 1
    assert f"shopflow lake restore silver_orders --namespace {namespace} --to VERSION" in refusal
    assert "--allow-streamed-source" in refusal
    assert tables.open("bronze_orders").version() == bad_version

    # (b) The documented way: the flag restores and removes what silver_orders' stream wrote ...
    assert lake_cli(monkeypatch, *restore, "--allow-streamed-source") == 0
    out = capsys.readouterr().out
    assert f"restored to version {good_version} as new version {bad_version + 1}" in out
    assert "silver_orders is rebuilt from the restored bronze_orders by the next olist_pipeline run" in out
    for removed in (
        f"s3://lakehouse/{namespace}/silver/orders",
        f"s3://quarantine/{namespace}/marketplace/silver_orders",
        f"s3://lakehouse/_checkpoints/{namespace}/marketplace/silver_orders",
    ):
        assert removed in out
    # ... the bronze stream's paths are those of the pipeline (the removed ones are silver's own)
    assert lake.paths.silver("orders").endswith(f"lakehouse/{namespace}/silver/orders")
    assert lake.paths.quarantine("orders").endswith(f"quarantine/{namespace}/marketplace/silver_orders")

    # ... and the next silver run rebuilds silver from the restored bronze: no failure, equal to it.
    build_silver(spark, lake, (ORDERS,))
    expected = {f"o{i}": "delivered" for i in range(1, 5)}
    assert bronze_newest_valid(spark, lake) == expected
    assert silver_rows(spark, lake) == expected
    quarantined = spark.read.format("delta").load(lake.paths.quarantine("orders")).collect()
    assert [row["order_id"] for row in quarantined] == ["bad"]

    # The flow carries on: a new message reaches bronze and silver incrementally.
    send(topic, [order("o7", "invoiced", t0 + dt.timedelta(seconds=60))])
    run_bronze_and_silver()
    assert silver_rows(spark, lake) == expected | {"o7": "invoiced"}
    assert silver_rows(spark, lake) == bronze_newest_valid(spark, lake)
