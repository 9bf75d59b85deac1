"""Records too large for Kafka on the real broker: the producer names them (topic, key) and skips and
counts them, or fails with one clear error; a record the broker refuses is a counted, named failure."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest
from confluent_kafka.admin import AdminClient

from shopflow_assets.datagen.events import ORIGINAL, MessageChunk
from shopflow_assets.datagen.producer import OversizedMessageError, Pace, ensure_topics, send
from shopflow_assets.resources.kafka import kafka_client_config, require_kafka
from shopflow_assets.settings import get_settings
from shopflow_assets_tests.support.kafka import consume_all

pytestmark = pytest.mark.stack


@pytest.fixture
def topic():
    require_kafka(get_settings(), timeout=5)
    name = f"clicks_oversized_{uuid.uuid4().hex[:10]}"
    ensure_topics({name: 1})
    yield name
    admin = AdminClient(kafka_client_config(get_settings(), "admin"))
    for future in admin.delete_topics([name]).values():
        future.result()


def _chunk(topic: str, sizes: list[int]) -> MessageChunk:
    return MessageChunk(
        topics=[topic] * len(sizes),
        keys=[f"k{i}".encode() for i in range(len(sizes))],
        values=[os.urandom(size) for size in sizes],  # random bytes: compression cannot shrink them
        kinds=np.full(len(sizes), ORIGINAL, dtype=np.int8),
        late=np.zeros(len(sizes), dtype=bool),
    )


@pytest.mark.parametrize("pace", [Pace(), Pace(rate=1000.0)], ids=["flat-out", "paced"])
def test_a_record_over_the_producer_limit_is_skipped_counted_and_named(topic, pace):
    manifest = send(
        "oversized",
        iter([_chunk(topic, [100, 200_000, 300])]),
        pace=pace,
        progress=False,
        config_overrides={"message.max.bytes": 100_000},
    )
    assert manifest.oversized == 1
    assert manifest.oversized_records == [
        {"topic": topic, "key": "k1", "bytes": 200_000, "reason": "producer"}
    ]
    assert manifest.produced == 2 and manifest.delivered == 2 and manifest.failed == 0
    assert sorted(m.key() for m in consume_all(topic)) == [b"k0", b"k2"]


def test_policy_fail_stops_with_topic_key_and_size(topic):
    with pytest.raises(OversizedMessageError) as error:
        send(
            "oversized",
            iter([_chunk(topic, [100, 200_000])]),
            pace=Pace(),
            progress=False,
            config_overrides={"message.max.bytes": 100_000},
            oversized="fail",
        )
    assert f"topic {topic!r}, key 'k1', 200,000 bytes" in str(error.value)


def test_a_record_the_broker_refuses_is_a_named_failed_delivery(topic):
    # the client allows 3 MB, the broker keeps its default limit (about 1 MB)
    manifest = send(
        "oversized",
        iter([_chunk(topic, [100, 2_000_000, 300])]),
        pace=Pace(),
        progress=False,
        config_overrides={"message.max.bytes": 3_000_000},
    )
    assert manifest.failed == 1 and manifest.delivered == 2
    assert manifest.delivery_errors == {"MSG_SIZE_TOO_LARGE": 1}
    assert manifest.oversized_records == [
        {"topic": topic, "key": "k1", "bytes": 2_000_000, "reason": "broker"}
    ]
