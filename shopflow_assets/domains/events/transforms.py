"""User action events (seed 002): parse, validate and flatten the nested JSON. Pure functions, no Dagster."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shopflow_assets.contracts import events as contract
from shopflow_assets.resources.streaming import (
    first_reason,
    json_string,
    json_type,
    parse_json_object,
    present_with_wrong_type,
)


def parse_user_actions(records: DataFrame) -> DataFrame:
    """Kafka records -> the seed-002 columns plus `reason` (NULL when valid) and the Kafka metadata.

    Rules, first failing one wins: not JSON; not a JSON object; no timestamp (absent or null);
    a timestamp that is not a string or not an ISO-8601 date-time; an object field
    (user_identifiers, product_information) that is not an object; a leaf that is not a string.
    A missing optional field is simply NULL. Zone-less timestamps are UTC.
    """
    # Parse once into a column (not an expression repeated in every check), and take the record's shape.
    # A well-formed event has exactly the canonical shape, which is checked with one string comparison;
    # the per-field checks only run for the rare record that differs.
    with_variant = records.withColumn("_v", parse_json_object(F.col("value")))
    shaped = with_variant.withColumn("_shape", F.schema_of_variant("_v"))
    v, shape = F.col("_v"), F.col("_shape")
    ts_kind = json_type(v, contract.TIMESTAMP_PATH)
    event_datetime = F.try_to_timestamp(json_string(v, contract.TIMESTAMP_PATH))

    slow_checks = [
        (v.isNull(), contract.REASON_NOT_JSON),
        (~shape.startswith("OBJECT"), contract.REASON_NOT_OBJECT),
        (ts_kind.isNull() | (ts_kind == "VOID"), contract.REASON_MISSING_TIMESTAMP),
        ((ts_kind != "STRING") | event_datetime.isNull(), contract.REASON_BAD_TIMESTAMP),
    ]
    for name, path in contract.OBJECT_FIELDS:
        slow_checks.append((present_with_wrong_type(v, path, "OBJECT"), f"wrong_type:{name}"))
    for name, path in contract.STRING_FIELDS:
        slow_checks.append((present_with_wrong_type(v, path, "STRING"), f"wrong_type:{name}"))
    reason = F.when(
        shape == F.lit(contract.CANONICAL_SHAPE),
        F.when(event_datetime.isNull(), F.lit(contract.REASON_BAD_TIMESTAMP)),
    ).otherwise(first_reason(slow_checks))

    return shaped.select(
        event_datetime.alias("event_datetime"),
        F.to_date(event_datetime).alias("event_date"),
        *[json_string(v, path).alias(name) for name, path in contract.STRING_FIELDS],
        reason.alias("reason"),
        "value",
        "topic",
        "partition",
        "offset",
        "kafka_timestamp",
    )


def valid_user_actions(parsed: DataFrame) -> DataFrame:
    """The output rows (seed-002 columns only) of the valid records."""
    return parsed.where(F.col("reason").isNull()).select(*contract.OUTPUT_COLUMNS)
