"""Kafka: one client configuration for producers, consumers, the admin client and Spark's Kafka source.

`kafka_client_config()` is the single mapping from settings to confluent-kafka configuration; reuse
it rather than building a `bootstrap.servers` dict by hand. `end_offsets()` reads high watermarks
without joining a group or consuming, so a Dagster sensor can call it cheaply.
"""

from __future__ import annotations

from typing import Any, Literal

import dagster as dg

from shopflow_assets.devstack.health import ServiceUnavailableError, require_reachable
from shopflow_assets.settings import Settings, get_settings

KAFKA_DEFAULT_PORT = 9092
Role = Literal["producer", "consumer", "admin"]

_ROLE_DEFAULTS: dict[str, dict[str, Any]] = {
    # Idempotent, fully acknowledged writes: a retried send never duplicates a record.
    "producer": {"acks": "all", "enable.idempotence": True, "linger.ms": 5},
    # Offsets are committed by the code that has stored the batch, never automatically.
    "consumer": {"auto.offset.reset": "earliest", "enable.auto.commit": False},
    "admin": {},
}


def kafka_client_config(settings: Settings, role: Role, **overrides: Any) -> dict[str, Any]:
    """confluent-kafka configuration for `role`; keyword overrides use underscores for dots."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "client.id": f"shopflow-{role}",
        **_ROLE_DEFAULTS[role],
    }
    config.update({key.replace("_", "."): value for key, value in overrides.items()})
    return config


def spark_kafka_options(settings: Settings) -> dict[str, str]:
    """Options for `spark.read/readStream.format("kafka")` and the Kafka sink."""
    return {"kafka.bootstrap.servers": settings.kafka_bootstrap_servers}


def require_kafka(settings: Settings, timeout: float = 2.0) -> None:
    require_reachable("Kafka", settings.kafka_bootstrap_servers, KAFKA_DEFAULT_PORT, timeout=timeout)


def end_offsets(settings: Settings, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """{partition: high watermark} of `topic`, read without consuming. Unknown topic -> clear error."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    require_kafka(settings)
    consumer = Consumer(kafka_client_config(settings, "consumer", group_id="shopflow-offsets-probe"))
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            raise ServiceUnavailableError("Kafka", settings.kafka_bootstrap_servers, str(exc)) from exc
        topic_metadata = metadata.topics.get(topic)
        if topic_metadata is None or topic_metadata.error is not None or not topic_metadata.partitions:
            reason = topic_metadata.error if topic_metadata is not None else "no metadata"
            raise KafkaTopicError(f"Kafka topic {topic!r} at {settings.kafka_bootstrap_servers}: {reason}")
        return {
            partition: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)[1]
            for partition in sorted(topic_metadata.partitions)
        }
    finally:
        consumer.close()


class KafkaTopicError(RuntimeError):
    """A topic does not exist or cannot be described."""


class KafkaResource(dg.ConfigurableResource):
    """Dagster's handle on Kafka. Constructing it connects to nothing.

    `bootstrap_servers` None follows KAFKA_BOOTSTRAP_SERVERS when used; build_resources() sets it.
    """

    bootstrap_servers: str | None = None

    def settings(self) -> Settings:
        """The settings in force, with this resource's broker address."""
        settings = get_settings()
        if self.bootstrap_servers is None or self.bootstrap_servers == settings.kafka_bootstrap_servers:
            return settings
        return settings.model_copy(update={"kafka_bootstrap_servers": self.bootstrap_servers})

    @property
    def servers(self) -> str:
        return self.settings().kafka_bootstrap_servers

    def config(self, role: Role, **overrides: Any) -> dict[str, Any]:
        return kafka_client_config(self.settings(), role, **overrides)

    def require_reachable(self, timeout: float = 2.0) -> None:
        require_kafka(self.settings(), timeout)

    def producer(self, **overrides: Any) -> Any:
        from confluent_kafka import Producer

        self.require_reachable()
        return Producer(self.config("producer", **overrides))

    def consumer(self, group_id: str, **overrides: Any) -> Any:
        from confluent_kafka import Consumer

        self.require_reachable()
        return Consumer(self.config("consumer", group_id=group_id, **overrides))

    def admin(self, **overrides: Any) -> Any:
        from confluent_kafka.admin import AdminClient

        self.require_reachable()
        return AdminClient(self.config("admin", **overrides))

    def end_offsets(self, topic: str, timeout: float = 10.0) -> dict[int, int]:
        return end_offsets(self.settings(), topic, timeout)

    def spark_options(self) -> dict[str, str]:
        return spark_kafka_options(self.settings())
