"""A click from the future cannot move the watermark: event times beyond now + a configurable skew are
dead-lettered as `future_timestamp`, and a run that drops more than a small share as late fails."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shopflow_assets.contracts.clickstream import REASON_FUTURE_TIMESTAMP
from shopflow_assets.domains.clickstream.pipeline import PageViewRunSummary
from shopflow_assets.domains.clickstream.transforms import parse_clicks
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


def _records(spark, stamps):
    values = [
        json.dumps({"event_id": f"e{i}", "user_id": "u", "url": "/p", "timestamp": ts, "action": "view"})
        for i, ts in enumerate(stamps)
    ]
    rows = [(v, "clicks", 0, i, dt.datetime(2024, 1, 1)) for i, v in enumerate(values)]
    return spark.createDataFrame(
        rows, "value string, topic string, partition int, offset long, kafka_timestamp timestamp"
    )


def test_clicks_beyond_now_plus_skew_are_dead_lettered(spark):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    stamps = [
        "9999-01-01T00:00:00",
        (now + dt.timedelta(minutes=1)).isoformat(),  # within the default 5 minutes: clock skew
        (now + dt.timedelta(minutes=30)).isoformat(),
        now.isoformat(),
        "2024-01-01T10:00:00",
    ]
    reasons = [r.reason for r in parse_clicks(_records(spark, stamps)).orderBy("offset").collect()]
    assert reasons == [REASON_FUTURE_TIMESTAMP, None, REASON_FUTURE_TIMESTAMP, None, None]
    wider = parse_clicks(_records(spark, stamps), max_future_skew="1 hour").orderBy("offset").collect()
    assert [r.reason for r in wider] == [REASON_FUTURE_TIMESTAMP, None, None, None, None]


def test_a_malformed_skew_is_refused(spark):
    with pytest.raises(ValueError, match="max_future_skew"):
        parse_clicks(_records(spark, ["2024-01-01T10:00:00"]), max_future_skew="5 minutes'); DROP")


def test_a_run_dropping_many_late_records_is_too_late():
    summary = PageViewRunSummary(
        records_in=100,
        counted=0,
        duplicates=0,
        dead_lettered=0,
        dropped_late=100,
        windows_upserted=0,
        batches=1,
        watermark="9998-12-31T23:58:00.000Z",
        dead_letter_records_in=100,
        accepted_by_dedup=0,
    )
    assert summary.accounted  # the books balance ...
    assert summary.too_late(0.05) and summary.as_metadata()["late_share"] == 1.0  # ... but the run fails
    summary.dropped_late, summary.counted = 2, 98
    assert not summary.too_late(0.05)
