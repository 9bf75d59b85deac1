"""Two writers on one Delta table: the Olist jobs share a concurrency tag limited to one run, and the Kafka
sensor skips while a run of either job is queued or running."""

import socket
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from shopflow_assets.domains.marketplace.automation import (
    LAKE_WRITER_TAG,
    active_lake_writer,
    olist_bronze_silver,
    olist_kafka_sensor,
    olist_pipeline,
)
from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_CONFIGS = (ROOT / "docker" / "dagster.yaml", ROOT / "shopflow_assets" / "dagster_instance.yaml")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _add_run(instance: dg.DagsterInstance, job_name: str, status: dg.DagsterRunStatus, tags: dict) -> str:
    run = dg.DagsterRun(job_name=job_name, run_id=str(uuid.uuid4()), tags=tags)
    instance.add_run(run)
    # The status moves by run events, as the run worker records it. (A queued run needs a code location
    # origin: the guard on queued runs is proven on a real instance in integration/test_olist_concurrency.py.)
    event_type = {
        dg.DagsterRunStatus.STARTING: dg.DagsterEventType.RUN_STARTING,
        dg.DagsterRunStatus.STARTED: dg.DagsterEventType.RUN_START,
        dg.DagsterRunStatus.SUCCESS: dg.DagsterEventType.RUN_SUCCESS,
        dg.DagsterRunStatus.FAILURE: dg.DagsterEventType.RUN_FAILURE,
    }[status]
    instance.report_dagster_event(dg.DagsterEvent(event_type.value, job_name=job_name), run.run_id)
    assert instance.get_run_by_id(run.run_id).status == status
    return run.run_id


def test_both_olist_jobs_carry_the_writer_tag_and_every_instance_limits_it_to_one_run():
    ((key, value),) = LAKE_WRITER_TAG.items()
    assert olist_pipeline.tags[key] == value and olist_bronze_silver.tags[key] == value
    for path in INSTANCE_CONFIGS:
        coordinator = yaml.safe_load(path.read_text())["run_coordinator"]
        assert coordinator["class"] == "QueuedRunCoordinator", path
        assert {"key": key, "limit": 1} in coordinator["config"]["tag_concurrency_limits"], path


def test_the_sensor_skips_while_either_olist_job_is_running():
    # Kafka on a closed port: the skip must come before any broker or lake call.
    port = _closed_port()
    resources = {
        "kafka": KafkaResource(bootstrap_servers=f"127.0.0.1:{port}"),
        "lake": LakeResource(),
    }
    cases = [
        ("olist_pipeline", dg.DagsterRunStatus.STARTED, "started"),
        ("olist_bronze_silver", dg.DagsterRunStatus.STARTING, "starting"),
    ]
    for job, status, word in cases:
        with dg.DagsterInstance.ephemeral() as instance:
            run_id = _add_run(instance, job, status, dict(LAKE_WRITER_TAG))
            result = olist_kafka_sensor(dg.build_sensor_context(instance=instance, resources=resources))
            assert isinstance(result, dg.SkipReason)
            assert (
                run_id in result.skip_message and job in result.skip_message and word in result.skip_message
            )


def test_finished_olist_runs_and_other_jobs_do_not_hold_the_guard():
    with dg.DagsterInstance.ephemeral() as instance:
        _add_run(instance, "olist_pipeline", dg.DagsterRunStatus.SUCCESS, dict(LAKE_WRITER_TAG))
        _add_run(instance, "olist_bronze_silver", dg.DagsterRunStatus.FAILURE, dict(LAKE_WRITER_TAG))
        _add_run(instance, "erp_pipeline", dg.DagsterRunStatus.STARTED, {})
        assert active_lake_writer(instance) is None
        running = _add_run(
            instance, "olist_bronze_silver", dg.DagsterRunStatus.STARTING, dict(LAKE_WRITER_TAG)
        )
        assert active_lake_writer(instance).dagster_run.run_id == running
