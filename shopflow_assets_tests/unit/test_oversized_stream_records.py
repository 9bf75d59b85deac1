"""A record longer than its stream's MAX_RECORD_BYTES is dead-lettered as `oversized_record`, whatever it
holds, in every stream (clicks, user actions, Olist messages); a record just under the limit is judged by
its content as usual."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shopflow_assets.contracts import clickstream, events, marketplace
from shopflow_assets.contracts.streaming import REASON_OVERSIZED
from shopflow_assets.domains.clickstream.transforms import parse_clicks
from shopflow_assets.domains.events.transforms import parse_user_actions
from shopflow_assets.domains.marketplace.transforms import parse_messages
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


def _records(spark, values: list[str]):
    rows = [(v, "topic", 0, i, dt.datetime(2024, 1, 1)) for i, v in enumerate(values)]
    return spark.createDataFrame(
        rows, "value string, topic string, partition int, offset long, kafka_timestamp timestamp"
    )


def _padded(record: dict, total_bytes: int) -> str:
    """`record` as JSON with a `padding` field that makes it exactly `total_bytes` long (UTF-8)."""
    empty = json.dumps({**record, "padding": ""})
    return json.dumps({**record, "padding": "x" * (total_bytes - len(empty.encode()))})


def _reasons(parsed) -> list[str | None]:
    return [row.reason for row in parsed.orderBy("offset").collect()]


def test_an_oversized_click_is_dead_lettered_before_parsing(spark):
    click = {
        "event_id": "e1",
        "user_id": "u1",
        "url": "/p",
        "timestamp": "2024-01-01T10:00:00",
        "action": "v",
    }
    limit = clickstream.MAX_RECORD_BYTES
    values = [_padded(click, limit), _padded(click, limit + 1), "{" + "x" * limit]  # last: not JSON either
    assert [len(v.encode()) for v in values[:2]] == [limit, limit + 1]
    assert _reasons(parse_clicks(_records(spark, values))) == [None, REASON_OVERSIZED, REASON_OVERSIZED]


def test_an_oversized_user_action_is_dead_lettered_and_counted_as_a_known_reason(spark):
    action = {
        "timestamp": "2024-01-01T10:00:00",
        "event_name": "view",
        "user_identifiers": {"platform": "web", "id": "u1"},
        "product_information": {"name": "Mug", "SKU": "M-1"},
    }
    limit = events.MAX_RECORD_BYTES
    multibyte = json.dumps({**action, "padding": "é" * (limit // 2)}, ensure_ascii=False)  # 2 bytes each
    values = [_padded(action, limit), _padded(action, limit + 1), multibyte]
    assert len(multibyte) < limit < len(multibyte.encode())
    reasons = _reasons(parse_user_actions(_records(spark, values)))
    assert reasons == [None, REASON_OVERSIZED, REASON_OVERSIZED]
    assert REASON_OVERSIZED in events.DEAD_LETTER_REASONS  # the run's accounting knows the reason


def test_an_oversized_olist_message_is_dead_lettered(spark):
    table = marketplace.ORDERS
    row = {column: "1" for column in table.columns} | {marketplace.INGESTION_TS: "2024-01-01T10:00:00"}
    limit = marketplace.MAX_RECORD_BYTES
    values = [_padded(row, limit), _padded(row, limit + 1)]
    assert _reasons(parse_messages(_records(spark, values), table)) == [None, REASON_OVERSIZED]
