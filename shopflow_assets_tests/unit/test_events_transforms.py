"""User-action parsing and the batch-keyed Parquet write that makes replays idempotent."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import Observation

from shopflow_assets.contracts.events import OUTPUT_COLUMNS, UserActionEventsSchema
from shopflow_assets.domains.events.pipeline import (
    observe_user_actions,
    outcome_counts,
    write_user_action_batch,
)
from shopflow_assets.domains.events.transforms import parse_user_actions, valid_user_actions
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit

SAMPLE_EVENT = {
    "timestamp": "2023-10-23T12:34:56Z",
    "event_name": "view",
    "user_identifiers": {"platform": "web", "id": "user_12345"},
    "product_information": {"name": "Wireless Mouse", "SKU": "SKU-1001"},
}


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


def _records(spark, values: list[str]):
    rows = [(v, "user_actions", 1, i, dt.datetime(2024, 1, 1)) for i, v in enumerate(values)]
    return spark.createDataFrame(
        rows, "value string, topic string, partition int, offset long, kafka_timestamp timestamp"
    )


def event(**changes) -> str:
    record = json.loads(json.dumps(SAMPLE_EVENT))
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = record
        for parent in parents:
            target = target[parent]
        if value is ...:
            target.pop(leaf)
        else:
            target[leaf] = value
    return json.dumps(record)


def test_the_seed_example_is_flattened_to_the_seed_output(spark):
    row = valid_user_actions(parse_user_actions(_records(spark, [json.dumps(SAMPLE_EVENT)]))).collect()[0]
    assert row.asDict() == {
        "event_datetime": dt.datetime(2023, 10, 23, 12, 34, 56),
        "event_date": dt.date(2023, 10, 23),
        "event_name": "view",
        "user_id": "user_12345",
        "platform": "web",
        "product_name": "Wireless Mouse",
        "SKU": "SKU-1001",
    }


def test_missing_optional_fields_become_null_and_bad_records_get_their_reason(spark):
    values = [
        event(user_identifiers__platform=...),
        event(product_information=...),
        event(event_name=None),
        event(extra_field=1),  # unknown keys do not make a record invalid (slow path, still valid)
        "not json at all",
        '"a string"',
        event(timestamp=...),
        event(timestamp=None),
        event(timestamp=1698064496),
        event(timestamp="23/10/2023"),
        event(user_identifiers="web:user_1"),
        event(product_information__SKU=1001),
        event(event_name=["view"]),
        "{}",
        '{"timestamp": "2023-10-23T12:34:56Z", "event_name": "vi',  # cut short
        "[1, 2]",
        event(product_information=5),
        event(user_identifiers__id=12345),
    ]
    rows = parse_user_actions(_records(spark, values)).orderBy("offset").collect()
    assert [r.reason for r in rows] == [
        None,
        None,
        None,
        None,
        "not_json",
        "not_a_json_object",
        "missing_timestamp",
        "missing_timestamp",
        "bad_timestamp",
        "bad_timestamp",
        "wrong_type:user_identifiers",
        "wrong_type:SKU",
        "wrong_type:event_name",
        "missing_timestamp",
        "not_json",
        "not_a_json_object",
        "wrong_type:product_information",
        "wrong_type:user_id",
    ]
    assert (rows[0].platform, rows[0].user_id) == (None, "user_12345")
    assert (rows[1].product_name, rows[1].SKU, rows[1].event_name) == (None, None, "view")
    assert rows[2].event_name is None


def test_output_satisfies_the_contract(spark):
    frame = valid_user_actions(
        parse_user_actions(_records(spark, [event(), event(user_identifiers__platform=...)]))
    ).toPandas()
    assert tuple(frame.columns) == OUTPUT_COLUMNS
    UserActionEventsSchema.validate(frame)


def test_a_replayed_batch_replaces_its_own_output_instead_of_adding_to_it(spark, tmp_path):
    values = [event(), event(timestamp="2023-10-24T00:00:01Z"), "garbage"]
    output, letters = f"file://{tmp_path}/out", f"file://{tmp_path}/dlq"
    for _attempt in range(2):  # the same batch id twice: a crash after the write, then the replay
        counts = _write_observed(spark, values, 7, output, letters)
    _write_observed(spark, [event()], 8, output, letters)
    assert counts == {"valid": 2, "not_json": 1}
    written = spark.read.parquet(output)
    assert written.count() == 3
    assert sorted((r.event_date.isoformat(), r.batch_id) for r in written.collect()) == [
        ("2023-10-23", 7),
        ("2023-10-23", 8),
        ("2023-10-24", 7),
    ]
    dead = spark.read.parquet(letters).collect()
    assert [(d.reason, d.topic, d.partition, d.offset, d.raw_value, d.batch_id) for d in dead] == [
        ("not_json", "user_actions", 1, 2, "garbage", 7)
    ]


def test_strings_that_look_like_other_json_types_are_judged_by_their_real_type(spark):
    """The fast parse reads leaves as text; these records take the exact slow path and must agree with it."""
    cases = [  # (record, expected reason)
        (event(user_identifiers__id="12345"), None),  # a string of digits
        (event(event_name="true"), None),  # a string spelled like a boolean
        (event(product_information__name="{not an object}"), None),  # a string starting with a brace
        (event(timestamp="2023-10-23"), None),  # a date-only ISO string: midnight UTC
        (event(user_identifiers__platform=5), "wrong_type:platform"),
        (event(event_name=True), "wrong_type:event_name"),
        (event(product_information__name={"en": "Mouse"}), "wrong_type:product_name"),
        (event(product_information__SKU=[1001]), "wrong_type:SKU"),
        (event(timestamp=2023), "bad_timestamp"),  # a number Spark would read as the year 2023
        (event(timestamp=True), "bad_timestamp"),
        (event(timestamp={"iso": "2023-10-23T12:34:56Z"}), "bad_timestamp"),
        (event().replace('"', "'"), "not_json"),  # single quotes
        (event(product_information__SKU=1001).replace("1001", "NaN"), "not_json"),
    ]
    rows = parse_user_actions(_records(spark, [value for value, _ in cases])).orderBy("offset").collect()
    assert [r.reason for r in rows] == [reason for _, reason in cases]
    assert (rows[0].user_id, rows[1].event_name, rows[2].product_name) == ("12345", "true", "{not an object}")
    assert rows[3].event_datetime == dt.datetime(2023, 10, 23)


def _write_observed(spark, values, batch_id: int, output: str, letters: str) -> dict[str, int]:
    """Write one batch as the stream does, observed as the stream is; returns its outcome counts."""
    observation = Observation(f"batch_{batch_id}")
    parsed = observe_user_actions(parse_user_actions(_records(spark, values)), observation)
    write_user_action_batch(parsed, batch_id, output, letters)
    return outcome_counts(observation.get)


def test_batch_counts_add_up_to_the_records_read(spark, tmp_path):
    values = [event(), "garbage", event(timestamp=...), event(user_identifiers__id=7), event()]
    counts = _write_observed(spark, values, 1, f"file://{tmp_path}/out", f"file://{tmp_path}/dlq")
    assert counts == {"valid": 2, "not_json": 1, "missing_timestamp": 1, "wrong_type:user_id": 1}
    assert spark.read.parquet(f"file://{tmp_path}/dlq").count() == 3


def test_user_actions_beyond_now_plus_the_clicks_skew_are_dead_lettered(spark):
    """Years up to 9999 made one partition per date per batch and overflowed pandas after 2262: a user
    action later than now + the clicks' max future skew is dead-lettered as `future_timestamp`."""
    from shopflow_assets.contracts.streaming import DEFAULT_MAX_FUTURE_SKEW, REASON_FUTURE_TIMESTAMP
    from shopflow_assets.domains.events.pipeline import UserActionsConfig

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    stamps = [
        "9999-01-01T00:00:00Z",
        "2300-06-01T00:00:00Z",
        (now + dt.timedelta(minutes=1)).isoformat() + "Z",  # clock skew: within the 5 minutes
        (now + dt.timedelta(minutes=30)).isoformat() + "Z",
        now.isoformat() + "Z",
        "9999-12-31",  # a date alone goes the slow path: the same rule
    ]
    values = [event(timestamp=ts) for ts in stamps] + [
        event(timestamp="9999-01-01T00:00:00Z", event_name="5")
    ]
    parsed = parse_user_actions(_records(spark, values)).orderBy("offset").collect()
    future = REASON_FUTURE_TIMESTAMP
    assert [r.reason for r in parsed] == [future, future, None, future, None, future, future]
    wider = parse_user_actions(_records(spark, values), max_future_skew="1 hour").orderBy("offset").collect()
    assert [r.reason for r in wider][:5] == [future, future, None, None, None]
    assert UserActionsConfig().max_future_skew == DEFAULT_MAX_FUTURE_SKEW
    with pytest.raises(ValueError, match="max_future_skew"):
        parse_user_actions(_records(spark, values), max_future_skew="5 minutes'); DROP")
