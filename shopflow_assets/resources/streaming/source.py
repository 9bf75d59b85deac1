"""Reading a Kafka topic as a stream: `kafka_stream`, and the records' Kafka metadata columns."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the code location loads this module (through flow.py) without pyspark
    from pyspark.sql import DataFrame, SparkSession

# Kafka metadata every dead letter keeps (besides its reason and the raw value).
KAFKA_META_COLUMNS = ("topic", "partition", "offset", "kafka_timestamp")


# --- Kafka source ---------------------------------------------------------------------------------


def kafka_stream(
    spark: SparkSession,
    bootstrap_servers: str,
    topic: str,
    *,
    max_offsets_per_trigger: int | None = None,
    min_partitions: int | None = None,
    extra_options: dict[str, str] | None = None,
) -> DataFrame:
    """A topic as a stream of (value string, topic, partition, offset, kafka_timestamp), from the earliest offset.

    `startingOffsets=earliest` only applies to a new checkpoint; afterwards the checkpoint decides.
    `max_offsets_per_trigger` caps a micro-batch (a bounded run then takes several batches, each committed);
    `min_partitions` splits a topic partition's range over several tasks so both cores parse.
    """
    from shopflow_assets.identifiers import safe_topic

    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap_servers)
        .option("subscribe", safe_topic(topic, "topic"))
        .option("startingOffsets", "earliest")
        # Offsets deleted by retention before we read them must fail the query, not vanish silently.
        .option("failOnDataLoss", "true")
    )
    if max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
    if min_partitions:
        reader = reader.option("minPartitions", str(min_partitions))
    for key, value in (extra_options or {}).items():
        reader = reader.option(key, value)
    return kafka_records(reader.load())


def kafka_records(kafka_df: DataFrame) -> DataFrame:
    """The Kafka source's columns as ShopFlow names them (value decoded as UTF-8)."""
    from pyspark.sql import functions as F

    return kafka_df.select(
        F.col("value").cast("string").alias("value"),
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    )
