"""User action events: parse, validate and flatten the nested JSON. Pure functions, no Dagster."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from shopflow_assets.contracts import events as contract
from shopflow_assets.contracts.streaming import (
    DEFAULT_MAX_FUTURE_SKEW,
    REASON_FUTURE_TIMESTAMP,
    REASON_OVERSIZED,
)
from shopflow_assets.resources.streaming.parse import (
    beyond_future_skew,
    evaluated_once,
    first_reason,
    json_object_checks,
    json_string,
    json_type,
    oversized,
    parse_json_object,
    plausible_timestamp,
    present_with_wrong_type,
)
from shopflow_assets.resources.streaming.source import KAFKA_META_COLUMNS

# Every leaf is a STRING: the cheapest parse. Spark renders a non-string token there as its JSON text
# (5 -> "5", true -> "true"), so a leaf whose text could be such a token goes to the exact slow path.
# The two objects are STRUCTs, so the JSON parser itself rejects a non-object there (sets _corrupt).
TYPED_DDL = (
    "timestamp STRING, event_name STRING, "
    "user_identifiers STRUCT<id: STRING, platform: STRING>, "
    "product_information STRUCT<name: STRING, SKU: STRING>, "
    "_corrupt STRING"
)
# Strict JSON: what try_parse_json (the slow path) would reject must not slip through the fast one.
JSON_OPTIONS = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": "_corrupt",
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
}


def parse_user_actions(records: DataFrame, max_future_skew: str = DEFAULT_MAX_FUTURE_SKEW) -> DataFrame:
    """Kafka records -> the output columns plus `reason` (NULL when valid) and the Kafka metadata.

    Rules, first failing one wins: not JSON; not a JSON object; no timestamp (absent or null);
    a timestamp that is not a string or not an ISO-8601 date-time, or later than now + `max_future_skew`
    (the clicks' rule: a year like 9999 would make one partition per date); an object field
    (user_identifiers, product_information) that is not an object; a leaf that is not a string.
    A missing optional field is simply NULL. Zone-less timestamps are UTC.

    Fast path: one from_json into the typed schema. Only the rare record the parser could not fit
    (not JSON, not an object, an object field that is not an object), that has none of the fields, or
    whose leaf text could be a non-string token is parsed again, as a whole VARIANT, to apply every rule
    exactly. The parse is its own projection so Spark runs it once per row, not once per rule
    (docs/streaming.md has the measurements behind this shape).
    """
    parsed = records.select("*", F.from_json(F.col("value"), TYPED_DDL, JSON_OPTIONS).alias("_j"))
    j = F.col("_j")
    ts = j["timestamp"]
    leaves = {
        "event_name": j["event_name"],
        "user_id": j["user_identifiers"]["id"],
        "platform": j["user_identifiers"]["platform"],
        "product_name": j["product_information"]["name"],
        "SKU": j["product_information"]["SKU"],
    }
    event_datetime = plausible_timestamp(ts)
    needs_whole_record = (
        j.isNull()
        | j["_corrupt"].isNotNull()
        | (
            ts.isNull()
            & j["event_name"].isNull()
            & j["user_identifiers"].isNull()
            & j["product_information"].isNull()
        )
        | F.greatest(
            could_be_non_string_timestamp(ts), *[could_be_non_string(leaf) for leaf in leaves.values()]
        )
    )
    timestamp_checks = [
        (ts.isNull(), contract.REASON_MISSING_TIMESTAMP),
        (event_datetime.isNull(), contract.REASON_BAD_TIMESTAMP),
    ]
    future = beyond_future_skew(event_datetime, max_future_skew)
    reason = (
        F.when(oversized(F.col("value"), contract.MAX_RECORD_BYTES), F.lit(REASON_OVERSIZED))
        .when(needs_whole_record, whole_record_reason(F.col("value")))
        .otherwise(first_reason(timestamp_checks))
    )
    # After every other rule, on either path: a record broken otherwise keeps that reason.
    reason = F.coalesce(reason, F.when(future, F.lit(REASON_FUTURE_TIMESTAMP)))
    return evaluated_once(
        parsed.select(
            event_datetime.alias("event_datetime"),
            F.to_date(event_datetime).alias("event_date"),
            *[leaf.alias(name) for name, leaf in leaves.items()],
            reason.alias("reason"),
            "value",
            *KAFKA_META_COLUMNS,
        )
    )


def could_be_non_string(text: Column) -> Column:
    """True when a STRING leaf's text may be a number, object, array or boolean rendered as text."""
    return F.coalesce(
        F.substring(text, 1, 1).isin(*NON_STRING_FIRST_CHARS) | text.isin("true", "false"), F.lit(False)
    )


def could_be_non_string_timestamp(text: Column) -> Column:
    """Like could_be_non_string, for a timestamp (which starts with a digit): an ISO-8601 date-time has
    'T' or ' ' as its 11th character, which no JSON number or boolean has; an object or array starts
    with '{' or '['. A date-only string is also sent to the slow path, which then accepts it."""
    first = F.substring(text, 1, 1)
    return F.coalesce(first.isin("{", "[") | ~F.substring(text, 11, 1).isin("T", " "), F.lit(False))


NON_STRING_FIRST_CHARS = ("-", "[", "{", *"0123456789")


def whole_record_reason(value: Column) -> Column:
    """Every rule, in order, on the whole record parsed as one VARIANT: slow, for the rare unfit record."""
    whole = parse_json_object(value)
    ts_kind = json_type(whole, contract.TIMESTAMP_PATH)
    raw_ts = json_string(whole, contract.TIMESTAMP_PATH)
    return first_reason(
        [
            *json_object_checks(whole),
            (ts_kind.isNull() | (ts_kind == "VOID"), contract.REASON_MISSING_TIMESTAMP),
            ((ts_kind != "STRING") | plausible_timestamp(raw_ts).isNull(), contract.REASON_BAD_TIMESTAMP),
            *[
                (present_with_wrong_type(whole, path, "OBJECT"), f"wrong_type:{name}")
                for name, path in contract.OBJECT_FIELDS
            ],
            *[
                (present_with_wrong_type(whole, path, "STRING"), f"wrong_type:{name}")
                for name, path in contract.STRING_FIELDS
            ],
        ]
    )


def valid_user_actions(parsed: DataFrame) -> DataFrame:
    """The output rows (output columns only) of the valid records."""
    return parsed.where(F.col("reason").isNull()).select(*contract.OUTPUT_COLUMNS)
