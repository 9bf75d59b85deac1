"""Faults on the real services during a bounded user-action stream: Kafka restarted, MinIO stopped while
a micro-batch is in flight. The interrupted run ends (it does not hang); the next run ends with
input = loaded + dead-lettered, no duplicates, nothing lost, the checkpoint at the topic's end.

The faults hit a Kafka and a MinIO of this module's own (support/isolated_stack.py: free ports, a
temporary SHOPFLOW_HOME), never the shared stack other tests use. Still the slow tier: fault injection
(docs/testing.md). Data is small (a few thousand messages in micro-batches of 500) and each test has its
own topic and keys.
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
from shopflow_assets.resources.spark import get_spark_session
from shopflow_assets.resources.streaming.checkpoints import read_checkpoint
from shopflow_assets_tests.support import streaming as streaming_support
from shopflow_assets_tests.support.isolated_stack import isolated_stack
from shopflow_assets_tests.support.streaming import finish as _finish
from shopflow_assets_tests.support.streaming import stream_cli as _stream_cli

pytestmark = pytest.mark.slow

# the streaming tests' fixtures: a fresh topic and keys per test, on this module's `settings` (its stack)
run_id, topic = streaming_support.run_id, streaming_support.topic


@pytest.fixture(scope="module")
def stack():
    """Kafka and MinIO of this module's own; the test process's Spark reads this MinIO."""
    with isolated_stack(["kafka", "minio"], spark=True, prefix="shopflow-streamfault-") as stack:
        yield stack


@pytest.fixture(scope="module")
def settings(stack, tmp_path_factory):
    return stack.settings.model_copy(
        update={"env": "docker", "duckdb_path": tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"}
    )


@pytest.fixture(scope="module")
def spark(settings):
    return get_spark_session(settings)


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
