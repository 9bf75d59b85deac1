"""The Kafka lag sensor shared by the streaming domains, and the run request every Kafka sensor makes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from shopflow_assets.automation import sensor_status
from shopflow_assets.domains.freshness import caught_up_result
from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.streaming.checkpoints import CommittedOffsets, read_checkpoint
from shopflow_assets.resources.streaming.resource import SparkStreamingResource


def lag_decision(
    topic: str, end_offsets: dict[int, int], committed: dict[str, CommittedOffsets]
) -> tuple[int, dict[str, int]]:
    """(largest lag over the checkpoints, lag per checkpoint): records in the topic not yet committed."""
    lags = {name: offsets.lag(topic, end_offsets) for name, offsets in committed.items()}
    return (max(lags.values()) if lags else 0), lags


END_OFFSETS_TAG = "shopflow/end_offsets"
# A failed run is retried by Dagster's run retries (the instance's `run_retries`), not by the sensor.
RUN_RETRIES = {"dagster/max_retries": "2"}


def run_request_for_offsets(
    offsets: str, *, run_config: dict[str, Any] | None = None, tags: dict[str, str] | None = None
) -> dg.RunRequest:
    """The run a Kafka sensor requests for new data identified by `offsets` (the topics' end offsets).

    The run key is `offsets`: one run per new data point; the offsets are also a tag, to find its runs.
    """
    return dg.RunRequest(
        run_key=offsets, run_config=run_config or {}, tags={**(tags or {}), END_OFFSETS_TAG: offsets}
    )


def build_kafka_lag_sensor(
    *,
    name: str,
    job_name: str,
    topic: Callable[[], str],
    checkpoint_keys: Callable[[SparkStreamingResource], dict[str, str]],
    run_config: Callable[[], dict[str, Any]] | None = None,
    minimum_interval_seconds: int = 30,
    caught_up_assets: Sequence[dg.AssetKey] = (),
) -> dg.SensorDefinition:
    """A sensor that requests a bounded run of `job_name` when the topic has records a checkpoint has not
    committed. It reads only the topic's end offsets (metadata, no consumer poll) and the checkpoints'
    `commits/` and `offsets/` logs in the lake; it skips while a run of the job is queued or running, as
    two queries on one checkpoint would fail. Run keys: `run_request_for_offsets`. When every checkpoint
    has committed the whole topic, it observes `caught_up_assets` as current (their freshness checks).
    """

    @dg.sensor(
        name=name,
        job_name=job_name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=sensor_status(),
    )
    def _sensor(
        context: dg.SensorEvaluationContext,
        kafka: KafkaResource,
        lake: LakeResource,
        streaming: SparkStreamingResource,
    ):
        the_topic = topic()
        try:
            end = kafka.end_offsets(the_topic, timeout=5.0)
        except Exception as exc:  # broker down or topic missing: nothing to run, say why
            return dg.SkipReason(f"cannot read end offsets of {the_topic}: {exc}")
        the_lake = lake.get_lake()
        committed = {
            label: read_checkpoint(the_lake, streaming.checkpoint_bucket, key)
            for label, key in checkpoint_keys(streaming).items()
        }
        lag, lags = lag_decision(the_topic, end, committed)
        if lag == 0:
            return caught_up_result(
                context, caught_up_assets, f"{the_topic}: nothing new (end offsets {end})"
            )
        active = context.instance.get_runs(
            filters=dg.RunsFilter(
                job_name=job_name,
                statuses=[
                    dg.DagsterRunStatus.QUEUED,
                    dg.DagsterRunStatus.NOT_STARTED,
                    dg.DagsterRunStatus.STARTING,
                    dg.DagsterRunStatus.STARTED,
                ],
            ),
            limit=1,
        )
        if active:
            return dg.SkipReason(
                f"{the_topic}: lag {lag}, but run {active[0].run_id} of {job_name} is active"
            )
        offsets = f"{the_topic}:" + ",".join(f"{p}={o}" for p, o in sorted(end.items()))
        return run_request_for_offsets(
            offsets,
            run_config=run_config() if run_config else {},
            tags={"shopflow/topic": the_topic, "shopflow/lag": str(lag)},
        )

    return _sensor
