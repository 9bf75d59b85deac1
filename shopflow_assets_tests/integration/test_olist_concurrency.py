"""Two launches of the Olist jobs on a real Dagster instance (the project's instance config, a real daemon):
the second waits in the queue until the first ends, and the Kafka sensor skips while one is queued.

The code location holds two jobs named and tagged like olist_pipeline and olist_bronze_silver whose single
op records when it starts and ends (the real jobs need the whole stack; what is under test here is the
instance's tag limit and the sensor's guard, both of which go by job name and tag only).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from shopflow_assets.domains.marketplace.automation import (
    olist_bronze_silver,
    olist_kafka_sensor,
    olist_pipeline,
)
from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOLD_SECONDS = 6

LOCATION = """
import json, os, time
import dagster as dg

def make_job(name, tags):
    @dg.op(name=name + "_write")
    def write(context):
        log = os.environ["WRITER_LOG"]
        with open(log, "a") as f:
            f.write(json.dumps({{"job": name, "event": "start", "t": time.time()}}) + "\\n")
        time.sleep({hold})
        with open(log, "a") as f:
            f.write(json.dumps({{"job": name, "event": "end", "t": time.time()}}) + "\\n")

    @dg.job(name=name, tags=tags)
    def the_job():
        write()

    return the_job

defs = dg.Definitions(jobs=[make_job(name, tags) for name, tags in {jobs!r}.items()])
"""


def _instance_config() -> dict:
    config = yaml.safe_load((ROOT / "shopflow_assets" / "dagster_instance.yaml").read_text())
    config["run_coordinator"]["config"]["dequeue_interval_seconds"] = 1
    return config


def test_a_second_olist_launch_waits_for_the_first_and_the_sensor_skips_meanwhile(tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(_instance_config()))
    jobs = {job.name: dict(job.tags) for job in (olist_pipeline, olist_bronze_silver)}
    location = tmp_path / "olist_location.py"
    location.write_text(LOCATION.format(hold=HOLD_SECONDS, jobs=jobs))
    log = tmp_path / "writers.jsonl"
    env = {**os.environ, "DAGSTER_HOME": str(home), "WRITER_LOG": str(log)}

    for name in jobs:  # both submitted before the daemon runs: nothing but the tag limit keeps them apart
        subprocess.run(
            [BIN / "dagster", "job", "launch", "-f", location, "-j", name],
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
            cwd=tmp_path,
        )
    daemon = subprocess.Popen(
        [BIN / "dagster-daemon", "run", "-f", location],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.environ["DAGSTER_HOME"] = str(home)
    seen_one_running_one_queued = False
    sensor_skips: list[str] = []
    try:
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                runs = instance.get_runs()
                statuses = {run.job_name: run.status for run in runs}
                running = [
                    s
                    for s in statuses.values()
                    if s in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)
                ]
                assert len(running) <= 1, statuses
                if running and dg.DagsterRunStatus.QUEUED in statuses.values():
                    seen_one_running_one_queued = True
                    if not sensor_skips:
                        context = dg.build_sensor_context(
                            instance=instance,
                            resources={
                                "kafka": KafkaResource(bootstrap_servers="127.0.0.1:1"),
                                "lake": LakeResource(),
                            },
                        )
                        sensor_skips.append(olist_kafka_sensor(context).skip_message)
                if len(runs) == 2 and all(s == dg.DagsterRunStatus.SUCCESS for s in statuses.values()):
                    break
                assert not any(s == dg.DagsterRunStatus.FAILURE for s in statuses.values()), statuses
                time.sleep(0.5)
            else:
                pytest.fail(f"runs did not finish: {statuses}")
            tags = [run.tags.get("shopflow/olist-lake") for run in instance.get_runs()]
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)

    assert tags == ["writer", "writer"]
    assert seen_one_running_one_queued
    assert sensor_skips and "olist_" in sensor_skips[0]
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["start", "end", "start", "end"]
    assert {events[0]["job"], events[2]["job"]} == set(jobs) and events[0]["job"] == events[1]["job"]
    assert events[2]["t"] >= events[1]["t"]  # the second writer started only after the first had ended
