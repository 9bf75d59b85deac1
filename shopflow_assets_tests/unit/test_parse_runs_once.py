"""Every stream parser's JSON parse runs once per record, also under a filter on `reason`.

Spark pushes a filter below a projection by pasting the projection's expressions into it; inside the
reason's CASE WHEN the parse is then evaluated once per rule (measured: 3x the time of the parse for the
page-view query, docs/streaming.md). The parsers end with `evaluated_once` to stop that; these tests
fail when a filter over a parser's output carries the parse again."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from shopflow_assets.contracts.marketplace import STREAMED
from shopflow_assets.domains.clickstream.transforms import parse_clicks, valid_clicks
from shopflow_assets.domains.events.transforms import parse_user_actions, valid_user_actions
from shopflow_assets.domains.marketplace.transforms import bronze_rows, parse_messages
from shopflow_assets.resources.spark import get_spark_session
from shopflow_assets.resources.streaming.parse import dead_letter_frame

pytestmark = pytest.mark.unit

# How the parse functions appear in an optimized plan: Spark's JSON-to-struct and JSON-to-variant.
PARSE_MARKERS = ("from_json", "jsontostructs", "parseJson", "parse_json")


@pytest.fixture(scope="module")
def records():
    spark = get_spark_session()
    rows = [('{"a": 1}', "topic", 0, 0, dt.datetime(2024, 1, 1))]
    return spark.createDataFrame(
        rows, "value string, topic string, partition int, offset long, kafka_timestamp timestamp"
    )


def filters_with_the_parse(frame) -> list[str]:
    """The optimized plan's Filter nodes that evaluate a JSON parse themselves."""
    plan = frame._jdf.queryExecution().optimizedPlan().toString()
    return [
        line
        for line in plan.splitlines()
        if line.lstrip(" :+-").startswith("Filter") and any(m in line for m in PARSE_MARKERS)
    ]


PARSERS = {
    "clicks": (parse_clicks, valid_clicks),
    "user_actions": (parse_user_actions, valid_user_actions),
    "olist_orders": (
        lambda records: parse_messages(records, STREAMED[0]),
        lambda parsed: bronze_rows(parsed, STREAMED[0]),
    ),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_a_filter_on_the_parsed_records_does_not_parse_them_again(records, name):
    parse, valid = PARSERS[name]
    parsed = parse(records)
    assert filters_with_the_parse(valid(parsed)) == []
    assert filters_with_the_parse(dead_letter_frame(parsed)) == []
    assert filters_with_the_parse(parsed.where(F.col("reason").isNull())) == []


def test_the_check_sees_a_filter_that_parses_again(records):
    """The check itself: the same filter without the barrier does carry the parse."""
    bare = records.select("*", F.try_parse_json("value").alias("v")).select(
        F.when(F.col("v").isNull(), F.lit("not_json")).alias("reason")
    )
    assert filters_with_the_parse(bare.where(F.col("reason").isNull()))


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_the_barrier_keeps_every_record_and_its_reason(name):
    """A Kafka tombstone (null value), an empty message, blank text and garbage each come out once, dead-lettered
    as not JSON: the one-row `inline` drops no row, and keeps the order of the columns."""
    spark = get_spark_session()
    values = [None, "", "   ", "\ufeff{", "garbage"]
    records = spark.createDataFrame(
        [(v, "topic", 0, i, dt.datetime(2024, 1, 1)) for i, v in enumerate(values)],
        "value string, topic string, partition int, offset long, kafka_timestamp timestamp",
    )
    parse, _valid = PARSERS[name]
    parsed = parse(records)
    rows = parsed.orderBy("offset").collect()
    assert [r.offset for r in rows] == list(range(len(values)))
    assert all(r.reason is not None and "json" in r.reason for r in rows)
    assert dead_letter_frame(parsed).count() == len(values)
