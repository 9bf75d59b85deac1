"""The streaming flows against the real broker, MinIO (S3A) and Spark: exact counts against the producer.

Each test produces to its own topic with the datagen producer (whose manifest and deterministic chunks
are the ground truth) and writes under its own `_tests/<id>/` keys, so runs never see each other's data.
Expected numbers are computed here, independently, from the messages that were sent.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import time
from collections import Counter, defaultdict

import pytest

from shopflow_assets.datagen.events import (
    ORIGINAL,
    ActionOptions,
    ClickOptions,
    Ratios,
    action_stream,
    click_stream,
)
from shopflow_assets.datagen.producer import Pace, send
from shopflow_assets.domains.clickstream.pipeline import PageViewsConfig, run_page_views
from shopflow_assets.resources.kafka import end_offsets, kafka_client_config
from shopflow_assets.resources.lake import build_lake
from shopflow_assets.resources.spark import get_spark_session
from shopflow_assets.resources.streaming.checkpoints import read_checkpoint
from shopflow_assets.resources.streaming.resource import SparkStreamingResource
from shopflow_assets.resources.warehouse import connect_warehouse
from shopflow_assets.settings import get_settings
from shopflow_assets_tests.support import streaming as streaming_support
from shopflow_assets_tests.support.streaming import finish as _finish
from shopflow_assets_tests.support.streaming import stream_cli as _stream_cli

pytestmark = pytest.mark.stack

# fixtures shared with test_stream_faults.py: a fresh run id (its lake keys removed after) and topic per test
run_id, topic = streaming_support.run_id, streaming_support.topic

DATAGEN_KIND_TO_REASON = {
    ("not_json", None): "not_json",
    ("missing_field", "timestamp missing"): "missing_timestamp",
    ("wrong_type", "timestamp is a number"): "bad_timestamp",
    ("wrong_type", "user_identifiers is a string"): "wrong_type:user_identifiers",
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    settings = get_settings()
    if not settings.aws_access_key_id:
        pytest.fail("no service credentials in settings: run `uv run shopflow services up` first")
    return settings.model_copy(
        update={"env": "docker", "duckdb_path": tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"}
    )


@pytest.fixture(scope="module")
def spark(settings):
    return get_spark_session(settings)


def _sent_values(chunks, count: int):
    """(value bytes, kind) of the first `count` messages of a deterministic datagen stream."""
    out = []
    for chunk in chunks:
        out.extend(zip(chunk.values, chunk.kinds.tolist(), strict=True))
        if len(out) >= count:
            break
    return out[:count]


def _expected_windows(events: list[dict]) -> dict[tuple[dt.datetime, str], tuple[int, int]]:
    """Independent page-view count: {(minute, url): (views, distinct users)}."""
    views: Counter = Counter()
    users: dict = defaultdict(set)
    for event in events:
        minute = dt.datetime.fromisoformat(event["timestamp"]).replace(second=0, microsecond=0)
        views[(minute, event["url"])] += 1
        if event.get("user_id") is not None:
            users[(minute, event["url"])].add(event["user_id"])
    return {key: (views[key], len(users[key])) for key in views}


def _delta_windows(spark, lake, key: str) -> dict:
    rows = spark.read.format("delta").load(lake.spark_uri("lakehouse", key)).collect()
    return {(r.window_start, r.url): (r.views, r.unique_users) for r in rows}


def _page_views_config(run_id: str, topic: str, **overrides) -> PageViewsConfig:
    return PageViewsConfig(
        topic=topic,
        table_key=f"_tests/{run_id}/fact_page_views",
        dead_letter_key=f"_tests/{run_id}/dead_letter/clicks",
        checkpoint_name=f"_tests/{run_id}/clickstream/page_views",
        dead_letter_checkpoint_name=f"_tests/{run_id}/clickstream/clicks_dead_letter",
        warehouse_table=f"fact_page_views_{run_id}",
        **overrides,
    )


def test_page_views_match_an_independent_count_with_late_events_and_duplicates(
    settings, spark, run_id, topic
):
    count = 3_000
    options = ClickOptions(
        topic=topic,
        seed=7,
        count=count,
        events_per_second=10,
        ratios=Ratios(duplicate_rate=0.05, bad_rate=0.02, late_rate=0.0),
    )
    manifest = send("clicks", click_stream(options), pace=Pace(), count=count, progress=False)
    assert manifest.delivered == count
    sent = _sent_values(click_stream(options), count)
    originals = [json.loads(value) for value, kind in sent if kind == ORIGINAL]
    assert len(originals) == manifest.totals().originals

    lake = build_lake(settings)
    streaming = SparkStreamingResource()
    runner = streaming.runner(spark, lake.spark_uri)
    # One micro-batch: no watermark yet, so every valid original counts and every duplicate is deduplicated.
    config = _page_views_config(run_id, topic, max_offsets_per_trigger=None)
    first = run_page_views(spark, runner, lake, settings, config)

    expected = _expected_windows(originals)
    assert _delta_windows(spark, lake, config.table_key) == expected
    assert first.records_in == count
    assert first.dead_lettered == manifest.totals().bad
    assert first.duplicates == manifest.totals().duplicates
    assert first.dropped_late == 0
    assert first.counted == len(originals)
    assert first.accounted

    with connect_warehouse(settings) as con:
        mirrored = con.execute(
            f"SELECT window_start, url, views, unique_users FROM {config.warehouse_table}"
        ).fetchall()
    assert {(r[0], r[1]): (r[2], r[3]) for r in mirrored} == expected

    # Dead letters: every bad message, with its reason, topic, partition and offset.
    letters = spark.read.parquet(lake.spark_uri("quarantine", config.dead_letter_key)).collect()
    assert len(letters) == manifest.totals().bad
    assert {letter.topic for letter in letters} == {topic}
    assert len({(letter.partition, letter.offset) for letter in letters}) == len(letters)
    assert all(letter.reason for letter in letters)

    # Second run: the watermark is now (max event time − 2 minutes).
    max_time = max(dt.datetime.fromisoformat(e["timestamp"]) for e in originals)
    watermark = max_time - dt.timedelta(minutes=2)
    url = "/product/test/late"

    def click(i: int, when: dt.datetime, user: str) -> dict:
        return {"event_id": f"late{run_id}-{i}", "user_id": user, "url": url, "timestamp": when.isoformat()}

    inside = [click(i, watermark + dt.timedelta(seconds=30), f"u{i % 3}") for i in range(5)]
    outside = [click(100 + i, watermark - dt.timedelta(seconds=90), "u9") for i in range(4)]
    # Re-sent originals from the last seconds (Spark drops an event at or before the watermark as late).
    recent = [e for e in originals if dt.datetime.fromisoformat(e["timestamp"]) > watermark][-3:]
    _produce(topic, [*inside, *outside, *recent, *inside[:2]])  # the last two: duplicates of new events

    second = run_page_views(spark, runner, lake, settings, config)
    assert second.records_in == 14
    assert second.dropped_late == len(outside)
    assert second.duplicates == len(recent) + 2
    assert second.counted == len(inside)
    assert second.accounted

    expected_after = dict(expected)
    for key, value in _expected_windows(inside).items():
        expected_after[key] = value
    assert _delta_windows(spark, lake, config.table_key) == expected_after

    # The checkpoint has committed everything: no lag left for the sensor to act on.
    committed = read_checkpoint(
        lake, streaming.checkpoint_bucket, streaming.checkpoint_key(config.checkpoint_name)
    )
    assert committed.lag(topic, end_offsets(settings, topic)) == 0


def _produce(topic: str, events: list[dict]) -> None:
    from confluent_kafka import Producer

    producer = Producer(kafka_client_config(get_settings(), "producer"))
    for event in events:
        producer.produce(topic, key=event["event_id"].encode(), value=json.dumps(event).encode())
    assert producer.flush(30) == 0


def _kill_mid_batch(process: subprocess.Popen, lake, checkpoint_key: str, timeout: float = 240.0) -> int:
    """SIGKILL the process while a batch has offsets written but no commit; returns that batch id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()[-3000:]
        offsets = {k.rsplit("/", 1)[-1] for k in lake.list_keys("lakehouse", f"{checkpoint_key}/offsets/")}
        commits = {k.rsplit("/", 1)[-1] for k in lake.list_keys("lakehouse", f"{checkpoint_key}/commits/")}
        started = sorted(int(n) for n in offsets if n.isdigit())
        done = {int(n) for n in commits if n.isdigit()}
        in_flight = [b for b in started if b not in done and b >= 1]
        if in_flight:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            return in_flight[0]
        time.sleep(0.1)
    process.kill()
    pytest.fail("no batch was seen in flight before the timeout")


def test_user_actions_exact_after_sigkill_mid_batch_and_every_bad_record_dead_lettered(
    settings, spark, run_id, topic
):
    count = 30_000
    options = ActionOptions(
        topic=topic, seed=11, count=count, ratios=Ratios(duplicate_rate=0.01, bad_rate=0.02)
    )
    manifest = send("actions", action_stream(options), pace=Pace(), count=count, progress=False)
    assert manifest.delivered == count
    lake = build_lake(settings)
    prefix = f"_tests/{run_id}"
    checkpoint_key = f"_checkpoints/{prefix}/events/user_actions"

    killed = _stream_cli("actions", topic, prefix, settings, "--max-offsets-per-trigger", "3000")
    cut_batch = _kill_mid_batch(killed, lake, checkpoint_key)
    assert cut_batch >= 1
    result = _finish(_stream_cli("actions", topic, prefix, settings, "--max-offsets-per-trigger", "3000"))
    assert result["summary"]["accounted"]
    assert cut_batch in result["summary"]["batch_ids"]  # the cut batch was replayed by the restart

    rows = spark.read.parquet(lake.spark_uri("events", f"{prefix}/user_actions"))
    bad = manifest.totals().bad
    assert rows.count() == count - bad  # nothing lost, nothing written twice
    assert set(rows.columns) >= {"event_datetime", "event_date", "event_name", "user_id", "platform", "SKU"}
    assert rows.where("event_datetime IS NULL OR event_date IS NULL").count() == 0

    letters = spark.read.parquet(lake.spark_uri("quarantine", f"{prefix}/dead_letter/user_actions")).collect()
    assert len(letters) == bad
    assert len({(letter.partition, letter.offset) for letter in letters}) == bad
    expected_reasons = Counter(
        DATAGEN_KIND_TO_REASON[(b.kind, None if b.kind == "not_json" else b.detail)]
        for b in manifest.bad_messages
    )
    assert Counter(letter.reason for letter in letters) == expected_reasons
    committed = read_checkpoint(lake, "lakehouse", checkpoint_key)
    assert committed.lag(topic, end_offsets(settings, topic)) == 0


def test_page_views_exact_after_sigkill_mid_batch(settings, spark, run_id, topic):
    count = 12_000
    options = ClickOptions(
        topic=topic,
        seed=5,
        count=count,
        events_per_second=10,
        ratios=Ratios(duplicate_rate=0.03, bad_rate=0.01),
    )
    manifest = send("clicks", click_stream(options), pace=Pace(), count=count, progress=False)
    assert manifest.delivered == count
    originals = [json.loads(v) for v, kind in _sent_values(click_stream(options), count) if kind == ORIGINAL]
    lake = build_lake(settings)
    prefix = f"_tests/{run_id}"
    checkpoint_key = f"_checkpoints/{prefix}/clickstream/page_views"

    killed = _stream_cli("page-views", topic, prefix, settings, "--max-offsets-per-trigger", "1500")
    _kill_mid_batch(killed, lake, checkpoint_key)
    _finish(_stream_cli("page-views", topic, prefix, settings, "--max-offsets-per-trigger", "1500"))

    # Every original counted once across the killed and the restarted run; duplicates never.
    assert _delta_windows(spark, lake, f"{prefix}/fact_page_views") == _expected_windows(originals)


def test_kafka_sensor_requests_a_bounded_run_only_while_the_checkpoint_is_behind_then_observes_caught_up(
    settings, spark, run_id, topic
):
    import dagster as dg

    from shopflow_assets.domains.kafka_sensors import END_OFFSETS_TAG, build_kafka_lag_sensor
    from shopflow_assets.resources.kafka import KafkaResource
    from shopflow_assets.resources.lake import LakeResource

    config = _page_views_config(run_id, topic)
    sensor = build_kafka_lag_sensor(
        name="test_clicks_sensor",
        job_name="page_views_stream",
        topic=lambda: topic,
        checkpoint_keys=lambda streaming: {
            "page_views": streaming.checkpoint_key(config.checkpoint_name),
            "dead_letter": streaming.checkpoint_key(config.dead_letter_checkpoint_name),
        },
        caught_up_assets=[dg.AssetKey(["clickstream", "fact_page_views"])],
    )
    resources = {
        "kafka": KafkaResource(),
        "lake": LakeResource(backend="s3"),
        "streaming": SparkStreamingResource(),
    }
    now = "2024-01-01T10:00:00"
    _produce(topic, [{"event_id": f"s{i}", "user_id": "u1", "url": "/s", "timestamp": now} for i in range(3)])

    with dg.instance_for_test() as instance:
        request = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == f"{topic}:" + ",".join(
            f"{p}={o}" for p, o in sorted(end_offsets(settings, topic).items())
        )
        assert request.tags["shopflow/lag"] == "3"

        assert request.tags[END_OFFSETS_TAG] == request.run_key  # finds the runs of these offsets

        lake = build_lake(settings)
        run_page_views(spark, SparkStreamingResource().runner(spark, lake.spark_uri), lake, settings, config)
        # Every record committed: the table is caught up (its freshness check counts this), once a minute.
        caught_up = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert isinstance(caught_up, dg.SensorResult) and "nothing new" in caught_up.skip_reason.skip_message
        (observation,) = caught_up.asset_events
        assert observation.asset_key == dg.AssetKey(["clickstream", "fact_page_views"])
        assert observation.metadata["dagster/last_updated_timestamp"].value == float(caught_up.cursor)
        context = dg.build_sensor_context(instance=instance, resources=resources, cursor=caught_up.cursor)
        skipped = sensor(context)
        assert isinstance(skipped, dg.SkipReason) and "nothing new" in skipped.skip_message


def test_user_action_events_asset_materializes_with_accounting_metadata_and_checks(
    settings, spark, run_id, topic
):
    import dagster as dg

    from shopflow_assets.domains.events.assets import user_action_events
    from shopflow_assets.resources import build_resources
    from shopflow_assets.resources.streaming.resource import STREAMING_RESOURCE, STREAMING_RESOURCE_KEY

    count = 4_000
    options = ActionOptions(topic=topic, seed=3, count=count, ratios=Ratios(bad_rate=0.05))
    manifest = send("actions", action_stream(options), pace=Pace(), count=count, progress=False)
    bad = manifest.totals().bad
    result = dg.materialize(
        [user_action_events],
        resources={**build_resources(settings), STREAMING_RESOURCE_KEY: STREAMING_RESOURCE},
        run_config={
            "ops": {
                "events__user_action_events": {
                    "config": {
                        "topic": topic,
                        "key_prefix": f"_tests/{run_id}",
                        "max_offsets_per_trigger": 1_500,
                    }
                }
            }
        },
    )
    assert result.success
    metadata = {
        k: v.value
        for k, v in result.asset_materializations_for_node("events__user_action_events")[0].metadata.items()
    }
    assert metadata["records_in"] == count
    assert metadata["written"] == count - bad
    assert metadata["dead_lettered"] == bad
    assert metadata["batches"] >= 3
    assert metadata["lag"] == 0
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True]
    written = spark.read.parquet(
        build_lake(settings).spark_uri("events", f"_tests/{run_id}/user_actions")
    ).count()
    assert written == count - bad
