"""Page views from click events: pure DataFrame -> DataFrame functions, tested without Dagster.

Each works on a batch DataFrame as well as on a stream (watermark and within-watermark dedup are
no-ops / plain dedup on a batch), so unit tests run them on small local frames and the streaming query
composes the same functions.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shopflow_assets.contracts import clickstream as contract
from shopflow_assets.contracts.streaming import REASON_OVERSIZED
from shopflow_assets.resources.streaming import parse
from shopflow_assets.resources.streaming.source import KAFKA_META_COLUMNS

STRING_FIELDS = ("event_id", "user_id", "url", "timestamp", "action")


def parse_clicks(records: DataFrame, max_future_skew: str = contract.DEFAULT_MAX_FUTURE_SKEW) -> DataFrame:
    """Kafka records (value, topic, partition, offset, kafka_timestamp) -> typed clicks plus a `reason`.

    `reason` is NULL for a valid click, else why it goes to the dead letters: oversized, not JSON, not an object,
    a required field missing (`missing:<field>`), a field of the wrong type (`wrong_type:<field>`), or a
    timestamp that does not parse. Timestamps without a zone are UTC (the session time zone).
    """
    # Parse once into a column, not an expression repeated in every check below.
    parsed = records.withColumn("_v", parse.parse_json_object(F.col("value")))
    v = F.col("_v")
    raw_ts = parse.json_string(v, "$.timestamp")
    event_time = parse.plausible_timestamp(raw_ts)

    checks = [
        (parse.oversized(F.col("value"), contract.MAX_RECORD_BYTES), REASON_OVERSIZED),
        *parse.json_object_checks(v),
    ]
    for name in contract.REQUIRED_CLICK_FIELDS:
        field_kind = parse.json_type(v, f"$.{name}")
        checks.append((field_kind.isNull() | (field_kind == "VOID"), f"missing:{name}"))
    for name in STRING_FIELDS:
        checks.append((parse.present_with_wrong_type(v, f"$.{name}", "STRING"), f"wrong_type:{name}"))
    checks.append((event_time.isNull(), contract.REASON_BAD_TIMESTAMP))
    checks.append((parse.beyond_future_skew(event_time, max_future_skew), contract.REASON_FUTURE_TIMESTAMP))

    return parse.evaluated_once(
        parsed.select(
            parse.json_string(v, "$.event_id").alias("event_id"),
            parse.json_string(v, "$.user_id").alias("user_id"),
            parse.json_string(v, "$.url").alias("url"),
            parse.json_string(v, "$.action").alias("action"),
            event_time.alias("event_time"),
            parse.first_reason(checks).alias("reason"),
            "value",
            *KAFKA_META_COLUMNS,
        )
    )


def valid_clicks(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("reason").isNull()).select("event_id", "user_id", "url", "action", "event_time")


def page_view_windows(clicks: DataFrame, watermark: str = contract.DEFAULT_WATERMARK) -> DataFrame:
    """Valid clicks -> one row per (1-minute window, url): views and unique_users.

    The watermark (max event time seen − `watermark`) bounds how late an event may be: a later one is
    dropped by Spark and counted in the query's progress (numRowsDroppedByWatermark). Duplicates of an
    event_id are dropped before counting; the dedup state lives as long as the watermark allows an
    event to be late, which is as long as a duplicate could still change a window.
    `unique_users` is the size of the window's user set: streaming aggregations do not support
    COUNT(DISTINCT), and the set is small per page and minute.
    """
    window = F.window("event_time", contract.WINDOW_DURATION)
    watermarked = clicks.withWatermark("event_time", watermark)
    # Within-watermark dedup exists for streams only; on a batch a plain dedup is the same thing.
    if clicks.isStreaming:
        deduplicated = watermarked.dropDuplicatesWithinWatermark(["event_id"])
    else:
        deduplicated = watermarked.dropDuplicates(["event_id"])
    return (
        deduplicated.groupBy(window.alias("window"), F.col("url"))
        .agg(F.count(F.lit(1)).alias("views"), F.size(F.collect_set("user_id")).alias("unique_users"))
        .select(
            F.col("window.start").alias("window_start"),
            F.col("window.end").alias("window_end"),
            "url",
            F.col("views").cast("long").alias("views"),
            F.col("unique_users").cast("long").alias("unique_users"),
        )
    )
