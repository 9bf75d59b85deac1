"""Faults on the real services during a bounded user-action stream: Kafka restarted, MinIO stopped while
a micro-batch is in flight. The interrupted run ends (it does not hang); the next run ends with
input = loaded + dead-lettered, no duplicates, nothing lost, the checkpoint at the topic's end.

Data is small (a few thousand messages in micro-batches of 500) and each test has its own topic and keys.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from shopflow_assets import devstack
from shopflow_assets.datagen.events import ActionOptions, Ratios, action_stream
from shopflow_assets.datagen.producer import Pace, send
from shopflow_assets.resources.kafka import end_offsets
from shopflow_assets.resources.lake import build_lake
from shopflow_assets.resources.streaming.checkpoints import read_checkpoint
from shopflow_assets_tests.integration import test_streaming as streaming_tests

# the streaming tests' fixtures: settings with the service credentials, one Spark, a fresh topic and keys
settings, spark, run_id, topic = (
    streaming_tests.settings,
    streaming_tests.spark,
    streaming_tests.run_id,
    streaming_tests.topic,
)
_finish, _stream_cli = streaming_tests._finish, streaming_tests._stream_cli

pytestmark = pytest.mark.slow

COUNT = 4_000
BATCH = "500"
# An interrupted run must end by itself within this (its retries give up), never hang.
INTERRUPTED_RUN_LIMIT = 420.0


def _wait_for_batch_in_flight(process: subprocess.Popen, lake, checkpoint_key: str, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()[-3000:]
        keys = lake.list_keys("lakehouse", f"{checkpoint_key}/")
        started = {int(k.rsplit("/", 1)[-1]) for k in keys if "/offsets/" in k and k[-1].isdigit()}
        done = {int(k.rsplit("/", 1)[-1]) for k in keys if "/commits/" in k and k[-1].isdigit()}
        if any(b not in done and b >= 1 for b in started):
            return
        time.sleep(0.1)
    process.kill()
    pytest.fail("no micro-batch was seen in flight before the timeout")


def _interrupt_and_recover(settings, spark, run_id, topic, fault) -> None:
    options = ActionOptions(
        topic=topic, seed=23, count=COUNT, ratios=Ratios(duplicate_rate=0.0, bad_rate=0.02)
    )
    manifest = send("actions", action_stream(options), pace=Pace(), count=COUNT, progress=False)
    assert manifest.delivered == COUNT
    lake = build_lake(settings)
    prefix = f"_tests/{run_id}"
    checkpoint_key = f"_checkpoints/{prefix}/events/user_actions"

    interrupted = _stream_cli("actions", topic, prefix, settings, "--max-offsets-per-trigger", BATCH)
    _wait_for_batch_in_flight(interrupted, lake, checkpoint_key)
    started = time.monotonic()
    try:
        fault()
    except BaseException:
        interrupted.kill()
        raise
    try:
        interrupted.communicate(timeout=INTERRUPTED_RUN_LIMIT)
    except subprocess.TimeoutExpired:
        interrupted.kill()
        pytest.fail(f"the interrupted run did not end within {INTERRUPTED_RUN_LIMIT:.0f}s")
    interrupted_seconds = time.monotonic() - started

    result = _finish(_stream_cli("actions", topic, prefix, settings, "--max-offsets-per-trigger", BATCH))
    assert result["summary"]["accounted"]

    bad = manifest.totals().bad
    rows = spark.read.parquet(lake.spark_uri("events", f"{prefix}/user_actions"))
    assert (
        rows.count() == COUNT - bad
    )  # nothing lost, nothing written twice (a replayed batch would add rows)
    letters = spark.read.parquet(lake.spark_uri("quarantine", f"{prefix}/dead_letter/user_actions"))
    assert letters.count() == bad and letters.select("partition", "offset").distinct().count() == bad
    assert rows.count() + letters.count() == COUNT  # input = loaded + dead-lettered
    committed = read_checkpoint(lake, "lakehouse", checkpoint_key)
    assert committed.lag(topic, end_offsets(settings, topic)) == 0
    print(f"interrupted run: exit {interrupted.returncode} after {interrupted_seconds:.0f}s")


def test_kafka_restarted_during_a_stream_run(settings, spark, run_id, topic):
    def restart_kafka():
        devstack.down(["kafka"], settings, devstack.quiet_reporter())
        devstack.up(["kafka"], settings, devstack.quiet_reporter())

    _interrupt_and_recover(settings, spark, run_id, topic, restart_kafka)


def test_minio_stopped_during_a_user_action_micro_batch(settings, spark, run_id, topic):
    def stop_minio_for_a_while():
        devstack.down(["minio"], settings, devstack.quiet_reporter())
        try:
            time.sleep(10)  # the batch's S3 writes fail meanwhile
        finally:
            devstack.up(["minio"], settings, devstack.quiet_reporter())

    _interrupt_and_recover(settings, spark, run_id, topic, stop_minio_for_a_while)
