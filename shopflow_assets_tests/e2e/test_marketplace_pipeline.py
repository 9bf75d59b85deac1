"""Olist end to end on the real services: generated CSVs -> producers -> Kafka -> bronze -> silver -> dbt gold.

The expectations are computed here, independently of the pipeline: the newest version of every key is
read back from the topics with a plain consumer, and the gold metrics are recomputed with pandas.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from shopflow_assets.contracts.marketplace import STREAMED
from shopflow_assets.datagen.events import OLIST_KEYS
from shopflow_assets.datagen.olist import generate_olist
from shopflow_assets.domains.marketplace.gold import run_dbt_olist
from shopflow_assets.domains.marketplace.pipeline import (
    MarketplaceLake,
    build_silver,
    ingest_bronze,
    load_batch_bronze,
)
from shopflow_assets.resources.kafka import end_offsets, kafka_client_config
from shopflow_assets.resources.lake import build_lake
from shopflow_assets.resources.spark import get_spark_session
from shopflow_assets.settings import get_settings
from shopflow_assets_tests.support import marketplace_reference as ref
from shopflow_assets_tests.support.marketplace import produce

pytestmark = pytest.mark.stack

CSV = {
    "orders": "olist_orders_dataset.csv",
    "order_items": "olist_order_items_dataset.csv",
    "customers": "olist_customers_dataset.csv",
    "products": "olist_products_dataset.csv",
    "sellers": "olist_sellers_dataset.csv",
    "order_reviews": "olist_order_reviews_dataset.csv",
    "category_translation": "product_category_name_translation.csv",
}


def read_csvs(folder: Path) -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(folder / file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        for name, file in CSV.items()
    }


def newest_from_topics(suffix: str) -> dict[str, pd.DataFrame]:
    """Every usable message of the five topics, newest (_ingestion_timestamp, offset) per key."""
    settings = get_settings()
    out = {}
    for table in STREAMED:
        topic = f"{table.topic}_{suffix}"
        ends = end_offsets(settings, topic)
        consumer = Consumer(kafka_client_config(settings, "consumer", group_id=f"e2e-{uuid.uuid4().hex}"))
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        rows, remaining = [], sum(ends.values())
        while remaining > 0:
            message = consumer.poll(10)
            assert message is not None, f"{topic}: {remaining} messages never arrived"
            if message.error():
                continue
            remaining -= 1
            try:
                value = json.loads(message.value())
            except ValueError:
                continue
            stamp = value.get("_ingestion_timestamp") if isinstance(value, dict) else None
            if not isinstance(stamp, str) or any(value.get(k) is None for k in OLIST_KEYS[table.name]):
                continue
            value = {k: ("" if v is None else str(v)) for k, v in value.items()}
            rows.append(value | {"_ts": pd.Timestamp(stamp), "_offset": message.offset()})
        consumer.close()
        frame = pd.DataFrame(rows).sort_values(["_ts", "_offset"])
        out[table.name] = frame.drop_duplicates(list(table.keys), keep="last").drop(
            columns=["_ts", "_offset"]
        )
    return out


def reference_tables(csvs: list[dict[str, pd.DataFrame]], newest: dict[str, pd.DataFrame]) -> dict:
    tables = {name: pd.concat([c[name] for c in csvs], ignore_index=True) for name in CSV}
    for name, frame in newest.items():
        tables[name] = frame
    tables["products"] = tables["products"].replace({"product_category_name": {"": None}})
    tables["order_reviews"] = tables["order_reviews"].drop_duplicates(["review_id", "order_id"], keep="last")
    # both runs ship the same translation file
    tables["category_translation"] = tables["category_translation"].drop_duplicates("product_category_name")
    return tables


def silver(spark, lake: MarketplaceLake, name: str) -> pd.DataFrame:
    return spark.read.format("delta").load(lake.paths.silver(name)).toPandas()


def warehouse_table(name: str) -> pd.DataFrame:
    # SHOPFLOW_DUCKDB_PATH is this test's own file (set by the test)
    with duckdb.connect(str(type(get_settings())().warehouse_path), read_only=True) as con:
        return con.sql(f"select * from {name}").df()


def check_silver_is_newest(spark, lake, newest):
    for table in STREAMED:
        rows = silver(spark, lake, table.name)
        keys = list(table.keys)
        assert not rows.duplicated(keys).any(), f"duplicate keys in silver_{table.name}"
        expected = newest[table.name].copy()
        got = rows.assign(**{k: rows[k].astype(str) for k in keys}).set_index(keys).sort_index()
        expected = expected.set_index(keys).sort_index()
        assert list(got.index) == list(expected.index), table.name
        compare = [c for c in table.columns if c not in keys and c not in table.types] + [
            "_ingestion_timestamp"
        ]
        for column in compare:
            if column == "_ingestion_timestamp":
                want = pd.to_datetime(expected[column], utc=True)
                have = (
                    pd.to_datetime(got[column]).dt.tz_localize("UTC")
                    if got[column].dt.tz is None
                    else got[column]
                )
                assert (want.values == have.values).all(), f"{table.name}.{column}"
            else:
                assert (got[column].fillna("").astype(str) == expected[column].fillna("")).all(), (
                    f"{table.name}.{column}"
                )


def check_gold(tables):
    daily = warehouse_table("gold_daily_sales").sort_values("order_date").reset_index(drop=True)
    want = ref.daily_sales(tables).sort_values("order_date").reset_index(drop=True)
    assert [d.date() if hasattr(d, "date") else d for d in daily["order_date"]] == list(want["order_date"])
    assert list(daily["total_orders"]) == list(want["total_orders"])
    assert daily["total_revenue"].astype(float).to_numpy() == pytest.approx(
        want["total_revenue"].to_numpy(), abs=0.005
    )
    assert list(daily["total_items"]) == list(want["total_items"])
    for name, columns in {
        "gold_delivery_performance": ["on_time_rate", "late_rate"],
    }.items():
        frame = warehouse_table(name)
        for column in columns:
            assert frame[column].astype(float).between(0, 1).all()
    rfm = warehouse_table("gold_customer_rfm").sort_values("customer_unique_id").reset_index(drop=True)
    want_rfm = ref.customer_rfm(tables).sort_values("customer_unique_id").reset_index(drop=True)
    assert list(rfm["customer_unique_id"]) == list(want_rfm["customer_unique_id"])
    assert list(rfm["recency_days"]) == list(want_rfm["recency_days"])
    assert list(rfm["rfm_segment"]) == list(want_rfm["rfm_segment"])
    assert [
        ref.rfm_segment(r, f, float(m))
        for r, f, m in zip(rfm.recency_days, rfm.frequency, rfm.monetary, strict=True)
    ] == list(rfm["rfm_segment"])


def test_olist_end_to_end_with_duplicates_late_messages_and_a_second_incremental_run(tmp_path, monkeypatch):
    run_id = uuid.uuid4().hex[:8]
    settings = get_settings()
    monkeypatch.setenv("SHOPFLOW_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    settings = type(settings)()  # the warehouse of this test only
    lake = MarketplaceLake(
        build_lake(settings, "s3" if settings.aws_access_key_id else "local").uri, f"e2e-{run_id}"
    )
    spark = get_spark_session()

    first_dir, second_dir = tmp_path / "olist1", tmp_path / "olist2"
    generate_olist(first_dir, scale=0.006, seed=101)
    manifest = produce(first_dir, run_id, update_rate=0.05)
    assert manifest.totals().duplicates > 0 and manifest.totals().late > 0 and manifest.totals().bad > 0

    counts = ingest_bronze(spark, lake, settings.kafka_bootstrap_servers, topic_suffix=run_id)
    for table in STREAMED:
        sent = manifest.topics[f"{table.topic}_{run_id}"]
        assert counts[table.name].messages == sent.sent  # every message accounted for
        assert counts[table.name].dead_letters == sent.bad
    load_batch_bronze(spark, lake, first_dir)
    results = build_silver(spark, lake)
    for result in results.values():
        assert (
            result["input"]
            == result["quarantined"] + result["newest_versions"] + result["superseded_in_batch"]
        )
    newest = newest_from_topics(run_id)
    check_silver_is_newest(spark, lake, newest)
    run_dbt_olist("build", lake.duckdb_lakehouse_root, settings, tmp_path / "dbt_target")
    first_csvs = read_csvs(first_dir)
    check_gold(reference_tables([first_csvs], newest))
    daily_before = warehouse_table("gold_daily_sales").set_index("order_date")

    # Second run: a new batch of orders, plus updated versions of a few first-run orders.
    generate_olist(second_dir, scale=0.002, seed=202)
    produce(second_dir, run_id, update_rate=0.0)
    changed = first_csvs["orders"][first_csvs["orders"]["order_status"] == "delivered"].head(3)
    producer = Producer(kafka_client_config(settings, "producer"))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for row in changed.to_dict("records"):
        row = {k: (v or None) for k, v in row.items()} | {
            "order_status": "canceled",
            "_ingestion_timestamp": stamp,
        }
        producer.produce(f"raw_orders_{run_id}", json.dumps(row).encode(), row["order_id"].encode())
    producer.flush(30)

    ingest_bronze(spark, lake, settings.kafka_bootstrap_servers, topic_suffix=run_id)
    load_batch_bronze(spark, lake, second_dir)
    build_silver(spark, lake)
    newest = newest_from_topics(run_id)
    check_silver_is_newest(spark, lake, newest)
    orders = silver(spark, lake, "orders").set_index("order_id")
    assert set(orders.loc[changed["order_id"], "order_status"]) == {"canceled"}
    run_dbt_olist("build", lake.duckdb_lakehouse_root, settings, tmp_path / "dbt_target")
    second_csvs = read_csvs(second_dir)
    check_gold(reference_tables([first_csvs, second_csvs], newest))

    # Incremental gold: days no change touched kept the rows of the first run.
    daily_after = warehouse_table("gold_daily_sales").set_index("order_date")
    touched = set(pd.to_datetime(changed["order_purchase_timestamp"]).dt.date)
    touched |= set(pd.to_datetime(second_csvs["orders"]["order_purchase_timestamp"]).dt.date)
    untouched = [d for d in daily_before.index if pd.Timestamp(d).date() not in touched]
    assert untouched
    assert (
        daily_after.loc[untouched, "_gold_updated_at"] == daily_before.loc[untouched, "_gold_updated_at"]
    ).all()
