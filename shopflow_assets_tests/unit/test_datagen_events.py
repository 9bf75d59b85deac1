"""Message streams without a broker: JSON shapes of the sources, determinism, exact ratios, and bad messages
that are exactly the ones the chunk records."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import pytest

from shopflow_assets.datagen import events
from shopflow_assets.datagen.events import (
    BAD,
    DUPLICATE,
    ORIGINAL,
    ActionOptions,
    ClickOptions,
    OlistOptions,
    OlistStream,
    Ratios,
    action_stream,
    click_stream,
    olist_send_order,
    order_updates,
    plan_kinds,
)
from shopflow_assets.datagen.olist import generate_olist

pytestmark = pytest.mark.unit


def _first_chunks(stream, n=2):
    return list(itertools.islice(stream, n))


def _parse(value: bytes):
    try:
        return json.loads(value)
    except ValueError:
        return None


def test_plan_kinds_counts_are_exact_and_duplicates_copy_earlier_originals():
    kinds, late, source = plan_kinds(10_000, Ratios(0.02, 0.05, 0.01), np.random.default_rng(1))
    assert (kinds == DUPLICATE).sum() == 200 and (kinds == BAD).sum() == 100 and late.sum() == 500
    assert (kinds[late] == ORIGINAL).all()
    dup = np.flatnonzero(kinds == DUPLICATE)
    assert (source[dup] < dup).all() and (kinds[source[dup]] == ORIGINAL).all()
    assert (source[kinds != DUPLICATE] == -1).all()


def test_click_events_have_their_fields_and_are_reproducible():
    options = ClickOptions(seed=3, event_start=dt.datetime(2023, 11, 20, 10), events_per_second=50)
    first, again = _first_chunks(click_stream(options), 1)[0], _first_chunks(click_stream(options), 1)[0]
    assert first.values == again.values and first.keys == again.keys
    records = [json.loads(v) for v, kind in zip(first.values, first.kinds, strict=True) if kind != BAD]
    assert set(records[0]) == {"event_id", "user_id", "url", "timestamp", "action"}
    assert records[0]["event_id"] == "evt1" and records[0]["timestamp"] == "2023-11-20T10:00:00"
    for record in records[:100]:
        assert record["url"].startswith("/product/") and record["url"].split("/")[-1].startswith("prd")
        assert record["user_id"].startswith("usr")
    assert all(
        json.loads(v)["user_id"].encode() == k
        for v, k, kind in zip(first.values, first.keys, first.kinds, strict=True)
        if kind != BAD
    )
    # duplicates resend an event_id already sent; the count matches the ratio exactly
    ids = [
        json.loads(v)["event_id"] for v, kind in zip(first.values, first.kinds, strict=True) if kind != BAD
    ]
    assert len(ids) - len(set(ids)) == round(0.02 * events.CHUNK_SIZE) == len(first.duplicate_ids)


def test_late_clicks_are_one_to_five_minutes_behind_their_position():
    options = ClickOptions(seed=4, event_start=dt.datetime(2024, 1, 1), events_per_second=10)
    chunk = _first_chunks(click_stream(options), 1)[0]
    start = dt.datetime(2024, 1, 1)
    late_seen = 0
    for position, (value, kind, late) in enumerate(zip(chunk.values, chunk.kinds, chunk.late, strict=True)):
        if kind != ORIGINAL:
            continue
        stamp = dt.datetime.fromisoformat(json.loads(value)["timestamp"])
        expected = start + dt.timedelta(seconds=position // 10)
        lag = (expected - stamp).total_seconds()
        if late:
            late_seen += 1
            assert 59 <= lag <= 300
        else:
            assert lag == 0
    assert late_seen == round(0.05 * events.CHUNK_SIZE) == len(chunk.late_ids)


def test_user_actions_have_optional_fields_missing_and_exact_bad_messages():
    options = ActionOptions(seed=5, ratios=Ratios(bad_rate=0.01))
    chunks = _first_chunks(action_stream(options), 2)
    keys = [k for c in chunks for k in c.keys]
    assert len(set(keys)) == len(keys) and keys[0] == b"act1"
    recorded = {(b.key, b.kind) for c in chunks for b in c.bad}
    found = set()
    partial = 0
    for chunk in chunks:
        for key, value, kind in zip(chunk.keys, chunk.values, chunk.kinds, strict=True):
            record = _parse(value)
            if kind != BAD:
                assert record is not None and isinstance(record["timestamp"], str)
                assert record["timestamp"].endswith("Z") and isinstance(record["user_identifiers"], dict)
                assert record["user_identifiers"]["id"].startswith("user_")
                partial += "platform" not in record["user_identifiers"] or "SKU" not in record.get(
                    "product_information", {}
                )
                continue
            if record is None:
                found.add((key.decode(), "not_json"))
            elif "timestamp" not in record:
                found.add((key.decode(), "missing_field"))
            else:
                assert isinstance(record["timestamp"], int) or isinstance(record["user_identifiers"], str)
                found.add((key.decode(), "wrong_type"))
    assert found == recorded and len(found) == 2 * round(0.01 * events.CHUNK_SIZE)
    assert partial == sum(int(c.partial.sum()) for c in chunks) > 0
    assert {kind for _, kind in found} == {"not_json", "missing_field", "wrong_type"}


@pytest.fixture(scope="module")
def small_olist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("olist_src")
    generate_olist(folder, scale=0.01, seed=2)
    return folder


def test_olist_send_order_puts_references_first(small_olist):
    tables = events.read_olist_tables(small_olist)
    sequence = olist_send_order(tables)
    assert len(sequence) == sum(len(rows) for rows in tables.values())
    seen = {table: set() for table in tables}
    for table, index in sequence:
        row = tables[table][index]
        if table == "orders":
            assert row["customer_id"] in seen["customers"]
        if table == "order_items":
            assert row["order_id"] in seen["orders"]
        key = {
            "customers": "customer_id",
            "orders": "order_id",
            "products": "product_id",
            "sellers": "seller_id",
        }.get(table)
        if key:
            seen[table].add(row[key])


def test_olist_stream_rows_keys_duplicates_late_and_updates(small_olist):
    options = OlistOptions(source=small_olist, seed=1, update_rate=0.01, ratios=Ratios(0.02, 0.05, 0.01))
    stream = OlistStream(options, chunk_size=500)
    now = 1_700_000_000.0
    chunks = list(stream.chunks(lambda: now))
    values = [
        (c.topics[i], c.keys[i], c.values[i], c.kinds[i], c.late[i])
        for c in chunks
        for i in range(len(c.values))
    ]
    originals = [v for v in values if v[3] == ORIGINAL]
    assert len(originals) == len(stream)
    assert stream.updates and all(
        row["order_status"] != "delivered" or row["order_delivered_customer_date"] for row in stream.updates
    )
    per_topic = {}
    for topic, key, value, _, late in originals:
        record = json.loads(value)
        per_topic[topic] = per_topic.get(topic, 0) + 1
        stamp = dt.datetime.fromisoformat(record["_ingestion_timestamp"].replace("Z", "+00:00")).timestamp()
        lag = now - stamp
        assert (60 <= lag <= 300) if late else lag == 0
        expected_key = (
            f"{record['order_id']}-{record['order_item_id']}" if topic == "raw_order_items" else None
        )
        if expected_key:
            assert key.decode() == expected_key and isinstance(record["order_item_id"], int)
    assert per_topic["raw_orders"] == stream.rows_per_table["orders"] + len(stream.updates)
    assert per_topic["raw_order_items"] == stream.rows_per_table["order_items"]
    duplicates = [v for v in values if v[3] == DUPLICATE]
    assert all((d[0], d[1], d[2]) in {(o[0], o[1], o[2]) for o in originals} for d in duplicates)
    bad = [v for v in values if v[3] == BAD]
    recorded = sorted((b.topic, b.key) for c in chunks for b in c.bad)
    assert sorted((b[0], b[1].decode()) for b in bad) == recorded
    primary = {"raw_orders": "order_id", "raw_order_items": "order_id", "raw_customers": "customer_id"}
    primary |= {"raw_products": "product_id", "raw_sellers": "seller_id"}
    kinds = {(b.topic, b.key): b.kind for c in chunks for b in c.bad}
    for topic, key, value, _, _ in bad:
        record = _parse(value)
        kind = kinds[(topic, key.decode())]
        if kind == "not_json":
            assert record is None
        elif kind == "missing_field":
            assert primary[topic] not in record
        else:
            assert isinstance(record["_ingestion_timestamp"], int)


def test_order_updates_move_the_status_on():
    orders = [
        {
            "order_id": "a",
            "order_status": "shipped",
            "order_delivered_customer_date": "",
            "order_estimated_delivery_date": "2018-01-10 00:00:00",
            "order_delivered_carrier_date": "x",
            "order_approved_at": "y",
            "order_purchase_timestamp": "z",
        },
        {
            "order_id": "b",
            "order_status": "delivered",
            "order_delivered_customer_date": "d",
            "order_estimated_delivery_date": "e",
            "order_delivered_carrier_date": "x",
            "order_approved_at": "y",
            "order_purchase_timestamp": "z",
        },
    ]
    updated = order_updates(orders, share=1.0)
    assert updated == [
        {**orders[0], "order_status": "delivered", "order_delivered_customer_date": "2018-01-10 00:00:00"}
    ]
