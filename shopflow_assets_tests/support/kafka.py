"""Reading Kafka topics back in stack tests, independently of the code under test."""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from shopflow_assets.resources.kafka import kafka_client_config
from shopflow_assets.settings import get_settings


def consume_all(topic: str, timeout: float = 60.0) -> list:
    """Every message of `topic`, from the beginning up to the high watermarks at call time."""
    settings = get_settings()
    consumer = Consumer(kafka_client_config(settings, "consumer", group_id=f"test-{topic}"))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages, deadline = [], time.monotonic() + timeout
        done = {p for p, end in ends.items() if end == 0}
        while len(done) < len(ends):
            assert time.monotonic() < deadline, f"timed out reading {topic}: {len(messages)} messages"
            for message in consumer.consume(10_000, timeout=1.0):
                assert message.error() is None, message.error()
                messages.append(message)
                if message.offset() + 1 >= ends[message.partition()]:
                    done.add(message.partition())
        return messages
    finally:
        consumer.close()
