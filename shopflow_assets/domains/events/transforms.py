"""User action events (seed 002): parse, validate and flatten the nested JSON. Pure functions, no Dagster."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shopflow_assets.contracts import events as contract
from shopflow_assets.resources.streaming import first_reason, parse_json_object


def parse_user_actions(records: DataFrame) -> DataFrame:
    """Kafka records -> the seed-002 columns plus `reason` (NULL when valid) and the Kafka metadata.

    Rules, first failing one wins: not JSON; not a JSON object; no timestamp (absent or null);
    a timestamp that is not a string or not an ISO-8601 date-time; an object field
    (user_identifiers, product_information) that is not an object; a leaf that is not a string.
    A missing optional field is simply NULL. Zone-less timestamps are UTC.
    """
    # from_json into VARIANT leaves is the fast path (~2x try_parse_json + schema_of_variant of the whole
    # record, measured): each top-level field keeps its JSON type, so a number where a string belongs is
    # still caught. Only the rare record whose fields all come back null (not JSON, not an object, or `{}`)
    # is parsed a second time, with try_parse_json, to name its reason.
    fields = F.from_json(
        F.col("value"),
        contract.TOP_LEVEL_VARIANT_DDL,
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"},
    )
    parsed = records.withColumn("_j", fields)
    j = F.col("_j")
    ts, identifiers, product = j["timestamp"], j["user_identifiers"], j["product_information"]

    def kind(variant):
        return F.schema_of_variant(variant)

    def leaf(variant, name):
        return F.try_variant_get(variant, f"$.{name}", "variant")

    event_datetime = F.try_to_timestamp(F.try_variant_get(ts, "$", "string"))
    ts_kind = kind(ts)
    whole = parse_json_object(F.col("value"))
    # Spark sets _corrupt for text that is not JSON and for JSON that is not an object; `{}` parses to
    # all-null fields. Those rare records are parsed again to tell the three apart.
    suspicious = (
        j.isNull()
        | j["_corrupt"].isNotNull()
        | (ts.isNull() & j["event_name"].isNull() & identifiers.isNull() & product.isNull())
    )
    checks = [
        (suspicious & whole.isNull(), contract.REASON_NOT_JSON),
        (suspicious & ~F.schema_of_variant(whole).startswith("OBJECT"), contract.REASON_NOT_OBJECT),
        (ts.isNull() | (ts_kind == "VOID"), contract.REASON_MISSING_TIMESTAMP),
        ((ts_kind != "STRING") | event_datetime.isNull(), contract.REASON_BAD_TIMESTAMP),
        (wrong_type(kind(identifiers), "OBJECT"), "wrong_type:user_identifiers"),
        (wrong_type(kind(product), "OBJECT"), "wrong_type:product_information"),
        (wrong_type(kind(j["event_name"]), "STRING"), "wrong_type:event_name"),
        (wrong_type(kind(leaf(identifiers, "id")), "STRING"), "wrong_type:user_id"),
        (wrong_type(kind(leaf(identifiers, "platform")), "STRING"), "wrong_type:platform"),
        (wrong_type(kind(leaf(product, "name")), "STRING"), "wrong_type:product_name"),
        (wrong_type(kind(leaf(product, "SKU")), "STRING"), "wrong_type:SKU"),
    ]

    def text(variant, path="$"):
        return F.try_variant_get(variant, path, "string")

    return parsed.select(
        event_datetime.alias("event_datetime"),
        F.to_date(event_datetime).alias("event_date"),
        text(j["event_name"]).alias("event_name"),
        text(identifiers, "$.id").alias("user_id"),
        text(identifiers, "$.platform").alias("platform"),
        text(product, "$.name").alias("product_name"),
        text(product, "$.SKU").alias("SKU"),
        first_reason(checks).alias("reason"),
        "value",
        "topic",
        "partition",
        "offset",
        "kafka_timestamp",
    )


def wrong_type(kind, expected_prefix: str):
    """True when a field is present, not JSON null, and of another JSON type than expected."""
    return kind.isNotNull() & (kind != "VOID") & ~kind.startswith(expected_prefix)


def valid_user_actions(parsed: DataFrame) -> DataFrame:
    """The output rows (seed-002 columns only) of the valid records."""
    return parsed.where(F.col("reason").isNull()).select(*contract.OUTPUT_COLUMNS)
