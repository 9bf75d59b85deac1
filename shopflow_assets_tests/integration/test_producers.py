"""Producers against the real broker: what is consumed is exactly what the manifest says was sent.

Each test writes to topics with a unique suffix and reads them back from the beginning with
confluent-kafka, then checks counts, duplicates, late and malformed messages independently of the
producer's own bookkeeping (from the message contents, not from the manifest's lists alone).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from shopflow_assets.datagen import events
from shopflow_assets.datagen.events import ActionOptions, ClickOptions, OlistOptions, OlistStream, Ratios
from shopflow_assets.datagen.olist import generate_olist
from shopflow_assets.datagen.producer import Pace, ProduceManifest, ensure_topics, send
from shopflow_assets.resources.kafka import kafka_client_config, require_kafka
from shopflow_assets.settings import PROJECT_ROOT, get_settings
from shopflow_assets_tests.support.kafka import consume_all

pytestmark = pytest.mark.stack


TEST_TOPIC_PREFIXES = ("user_actions_", "clicks_", "raw_")


@pytest.fixture(scope="module", autouse=True)
def kafka():
    require_kafka(get_settings(), timeout=5)  # a stopped broker fails here, naming its address
    yield
    _delete_test_topics()


def _delete_test_topics() -> None:
    """Remove the uniquely suffixed topics these tests created (never the real ones)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(kafka_client_config(get_settings(), "admin"))
    ours = [
        t
        for t in admin.list_topics(timeout=10).topics
        if t.endswith(tuple(CREATED)) and t.startswith(TEST_TOPIC_PREFIXES)
    ]
    if ours:
        for future in admin.delete_topics(ours).values():
            future.result()


CREATED: list[str] = []


def _suffix() -> str:
    suffix = uuid.uuid4().hex[:10]
    CREATED.append(suffix)
    return suffix


_CLICK_FIELDS = ("event_id", "user_id", "url", "timestamp", "action")


def _json(value: bytes):
    try:
        return json.loads(value)
    except ValueError:
        return None


def test_actions_consumed_equal_produced_and_bad_messages_are_the_manifests():
    topic = f"user_actions_{_suffix()}"
    ensure_topics({topic: 3})
    options = ActionOptions(topic=topic, seed=11, count=30_000, ratios=Ratios(bad_rate=0.02))
    manifest = send("actions", events.action_stream(options), pace=Pace(), count=30_000, progress=False)
    assert manifest.produced == manifest.delivered == 30_000 and manifest.failed == 0

    messages = consume_all(topic)
    assert len(messages) == 30_000
    assert len({m.partition() for m in messages}) == 3
    found = {}
    for message in messages:
        record = _json(message.value())
        key = message.key().decode()
        if record is None:
            found[key] = "not_json"
        elif "timestamp" not in record:
            found[key] = "missing_field"
        elif not isinstance(record["timestamp"], str) or not isinstance(record["user_identifiers"], dict):
            found[key] = "wrong_type"
    assert found == {bad.key: bad.kind for bad in manifest.bad_messages}
    assert len(found) == manifest.topics[topic].bad == round(0.02 * 30_000)


def test_clicks_duplicates_and_late_events_appear_as_configured():
    topic = f"clicks_{_suffix()}"
    ensure_topics({topic: 2})
    start, density = dt.datetime(2023, 11, 20, 10), 20
    options = ClickOptions(
        topic=topic,
        seed=12,
        event_start=start,
        events_per_second=density,
        count=12_000,
        ratios=Ratios(0.02, 0.05, 0.01),
    )
    manifest = send(
        "clicks", events.click_stream(options), pace=Pace(rate=20_000), count=12_000, progress=False
    )
    messages = consume_all(topic)
    assert len(messages) == manifest.produced == 12_000

    bad = [
        m
        for m in messages
        if _json(m.value()) is None
        or set(_json(m.value())) != set(_CLICK_FIELDS)
        or not all(isinstance(v, str) for v in _json(m.value()).values())
    ]
    assert sorted(m.key().decode() for m in bad) == sorted(b.key for b in manifest.bad_messages)
    assert len(bad) == manifest.topics[topic].bad == round(0.01 * 12_000)
    messages = [m for m in messages if m not in bad]
    records = [json.loads(m.value()) for m in messages]
    per_id = Counter(r["event_id"] for r in records)
    assert sum(n - 1 for n in per_id.values()) == manifest.topics[topic].duplicates == round(0.02 * 12_000)
    # an event's id gives its place in the stream, hence its on-time event time
    late = set()
    for record in records:
        expected = start + dt.timedelta(seconds=(int(record["event_id"][3:]) - 1) // density)
        lag = (expected - dt.datetime.fromisoformat(record["timestamp"])).total_seconds()
        assert lag == 0 or 60 <= lag <= 300, record
        if lag:
            late.add(record["event_id"])
    assert late == set(manifest.late_ids) and len(late) == round(0.05 * 12_000)
    assert all(m.key().decode() == r["user_id"] for m, r in zip(messages, records, strict=True))


def test_olist_rows_reach_their_topics_with_duplicates_late_updates_and_bad(tmp_path):
    source = tmp_path / "olist"
    generate_olist(source, scale=0.005, seed=13)
    suffix = _suffix()
    options = OlistOptions(
        source=source, seed=13, topic_suffix=suffix, update_rate=0.005, ratios=Ratios(0.02, 0.05, 0.01)
    )
    stream = OlistStream(options)
    ensure_topics({options.topic(t): 2 for t in events.OLIST_TOPICS})
    manifest = send("olist", stream.chunks(time.time), pace=Pace(), progress=False)
    assert manifest.failed == 0 and manifest.delivered == manifest.produced

    tables = events.read_olist_tables(source)
    for table, rows in tables.items():
        topic = options.topic(table)
        messages = consume_all(topic)
        counts = manifest.topics[topic]
        assert len(messages) == counts.sent
        records = [(m.key().decode(), m.value(), _json(m.value())) for m in messages]
        good = [
            (k, v, r)
            for k, v, r in records
            if isinstance(r, dict)
            and isinstance(r.get("_ingestion_timestamp"), str)
            and all(c in r for c in events.OLIST_KEYS[table])
        ]
        bad_keys = sorted(k for k, v, r in records if (k, v, r) not in good)
        assert bad_keys == sorted(b.key for b in manifest.bad_messages if b.topic == topic)
        # every CSV row arrives, keyed by its primary key; updates are extra versions of orders
        keys = {events.olist_key(table, row) for row in rows}
        assert {k for k, _, _ in good} == keys
        pairs = Counter((k, v) for k, v, _ in good)
        assert sum(n - 1 for n in pairs.values()) == counts.duplicates
        updated = len(good) - counts.duplicates - len(rows)
        assert updated == counts.updates == (len(stream.updates) if table == "orders" else 0)
        newest = max(
            dt.datetime.fromisoformat(r["_ingestion_timestamp"].replace("Z", "+00:00")) for _, _, r in good
        )
        lagging = {
            (k, v)
            for k, v, r in good
            if (
                newest - dt.datetime.fromisoformat(r["_ingestion_timestamp"].replace("Z", "+00:00"))
            ).total_seconds()
            >= 59
        }
        assert len(lagging) == counts.late
        if table == "orders":
            # an updated order arrives after its first version, with the next status; the newest wins
            by_key = {}
            for message, (key, _, record) in zip(messages, records, strict=True):
                if (key, _, record) in good:
                    by_key.setdefault(key, []).append((message.offset(), record))
            for update in stream.updates:
                versions = [record for _, record in sorted(by_key[update["order_id"]], key=lambda v: v[0])]
                assert versions[-1]["order_status"] == update["order_status"] != versions[0]["order_status"]
                assert versions[-1]["_ingestion_timestamp"] >= versions[0]["_ingestion_timestamp"]
        sample = next(r for k, _, r in good)
        assert set(sample) == set(next(iter(rows))) | {"_ingestion_timestamp"}


def test_paced_runs_keep_their_pace():
    topic = f"clicks_paced_{_suffix()}"
    ensure_topics({topic: 1})
    options = ClickOptions(topic=topic, seed=14, ratios=Ratios())
    started = time.perf_counter()
    manifest = send(
        "clicks",
        events.click_stream(options),
        pace=Pace(rate=400),
        count=800,
        progress=False,
        confirm_each=True,
    )
    assert time.perf_counter() - started >= 800 / 400 - 0.01  # never faster than asked
    assert manifest.delivered == 800 and len(consume_all(topic)) == 800
    # --duration: stops on time, never more than rate x duration messages
    timed = send("clicks", events.click_stream(options), pace=Pace(rate=300), duration=1.0, progress=False)
    assert 0 < timed.produced <= 301 and timed.delivered == timed.produced and timed.elapsed_s >= 1.0
    gaps = Pace(min_gap_s=0.05, max_gap_s=0.2)
    started = time.perf_counter()
    send("clicks", events.click_stream(options), pace=gaps, count=10, progress=False)
    assert time.perf_counter() - started >= 10 * 0.05


def test_cli_ctrl_c_stops_cleanly_and_the_manifest_matches_the_topic(tmp_path):
    topic = f"clicks_cli_{_suffix()}"
    manifest_path = tmp_path / "manifest.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shopflow_assets.cli",
            "produce",
            "clicks",
            "--topic",
            topic,
            "--rate",
            "300",
            "--count",
            "1000000",
            "--no-progress",
            "--manifest",
            str(manifest_path),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(1)
        if ensure_topic_has_messages(topic):
            break
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    manifest = ProduceManifest.load(manifest_path)
    assert manifest.interrupted and 0 < manifest.produced < 1_000_000
    assert manifest.delivered == manifest.produced
    assert len(consume_all(topic)) == manifest.produced
    assert "stopped by Ctrl-C" in stderr.decode()


def ensure_topic_has_messages(topic: str) -> bool:
    consumer = Consumer(kafka_client_config(get_settings(), "consumer", group_id=f"probe-{topic}"))
    try:
        metadata = consumer.list_topics(topic, timeout=5).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return False
        try:
            return any(
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] > 0
                for p in metadata.partitions
            )
        except KafkaException:  # a topic created a moment ago may have no leader yet: ask again later
            return False
    finally:
        consumer.close()
