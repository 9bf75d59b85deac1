"""Click parsing and page-view windows on small local frames (the streaming query composes the same functions)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shopflow_assets.contracts.clickstream import FactPageViewsSchema
from shopflow_assets.domains.clickstream.transforms import page_view_windows, parse_clicks, valid_clicks
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


def _records(spark, values: list[str]):
    rows = [(v, "clicks_topic", 0, i, dt.datetime(2024, 1, 1)) for i, v in enumerate(values)]
    return spark.createDataFrame(
        rows, "value string, topic string, partition int, offset long, kafka_timestamp timestamp"
    )


def click(event_id="e1", user="u1", url="/p/1", ts="2024-01-01T10:00:05", action="view_item", **extra) -> str:
    record = {"event_id": event_id, "user_id": user, "url": url, "timestamp": ts, "action": action, **extra}
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def test_each_malformed_click_gets_the_reason_that_names_its_problem(spark):
    values = [
        click(),
        "{not json",
        "[1, 2]",
        click(event_id=...),
        click(url=None),
        click(ts=...),
        click(ts="yesterday"),
        click(ts=1704103205),
        click(user=99),
        click(action=...),  # a hit without action is still a page view
        click(user=...),
        click(ts="2024-01-01T10:00:05Z"),
    ]
    reasons = [r.reason for r in parse_clicks(_records(spark, values)).orderBy("offset").collect()]
    assert reasons == [
        None,
        "not_json",
        "not_a_json_object",
        "missing:event_id",
        "missing:url",
        "missing:timestamp",
        "bad_timestamp",
        "wrong_type:timestamp",
        "wrong_type:user_id",
        None,
        "missing:user_id",
        None,
    ]


def test_valid_click_is_typed_and_keeps_utc_time(spark):
    row = valid_clicks(parse_clicks(_records(spark, [click(ts="2024-01-01T10:00:05Z")]))).collect()[0]
    assert (row.event_id, row.user_id, row.url, row.action) == ("e1", "u1", "/p/1", "view_item")
    assert row.event_time == dt.datetime(2024, 1, 1, 10, 0, 5)


def test_windows_count_views_and_unique_users_per_minute_and_url_without_duplicates(spark):
    values = [
        click("e1", "u1", "/a", "2024-01-01T10:00:01"),
        click("e2", "u2", "/a", "2024-01-01T10:00:59"),
        click("e2", "u2", "/a", "2024-01-01T10:00:59"),  # the same event delivered twice
        click("e3", "u1", "/a", "2024-01-01T10:00:30"),
        click("e4", "u1", "/a", "2024-01-01T10:01:00"),  # next window
        click("e5", "u3", "/b", "2024-01-01T10:00:10"),
        click("e6", "u3", "/b", "2024-01-01T10:00:11"),
    ]
    windows = page_view_windows(valid_clicks(parse_clicks(_records(spark, values)))).toPandas()
    got = {(r.window_start.to_pydatetime(), r.url): (r.views, r.unique_users) for r in windows.itertuples()}
    assert got == {
        (dt.datetime(2024, 1, 1, 10, 0), "/a"): (3, 2),
        (dt.datetime(2024, 1, 1, 10, 1), "/a"): (1, 1),
        (dt.datetime(2024, 1, 1, 10, 0), "/b"): (2, 1),
    }
    windows["updated_at"] = dt.datetime(2024, 1, 2)
    FactPageViewsSchema.validate(windows)  # keys unique, unique_users <= views, 1-minute windows
