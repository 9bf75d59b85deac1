"""Jobs, the 06:00 schedule, the Kafka sensor and the notifications of the Olist pipeline.

olist_pipeline: freshness (olist_topic_offsets) -> bronze -> silver -> dbt build (run, then tests as
blocking checks) -> gold checks -> a success notice (sensor below; failures go to the alert sensors of the
operations domain).

Retries, one mechanism per level: a step is retried by its op retry policy (assets.RETRY); a failed run by
Dagster's run retries (the RUN_RETRIES tag, honoured when the instance enables `run_retries`).
"""

import hashlib
import json

import dagster as dg

from shopflow_assets.automation import sensor_status
from shopflow_assets.contracts.marketplace import SILVER_ORDER, STREAMED
from shopflow_assets.domains.freshness import (
    dagster_freshness_factories,
    freshness_check_sensor,
    without_freshness_checks,
)
from shopflow_assets.domains.kafka_sensors import RUN_RETRIES, run_request_for_offsets
from shopflow_assets.domains.marketplace import PREFIX, bronze_key, key, silver_key
from shopflow_assets.domains.marketplace.checks import MAX_GOLD_AGE
from shopflow_assets.resources.alerts import Alert, AlertResource
from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.streaming.checkpoints import (
    CHECKPOINT_BUCKET,
    CHECKPOINT_PREFIX,
    read_committed_offsets,
)

# Both Olist jobs write the same Delta tables and streaming checkpoints: the instance limits runs carrying
# this tag to one at a time (tag_concurrency_limits in docker/dagster.yaml and shopflow_assets/dagster_instance.yaml),
# so a second launch waits in the queue instead of writing alongside the first.
LAKE_WRITER_TAG = {"shopflow/olist-lake": "writer"}
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

# The gold marts, rebuilt within MAX_GOLD_AGE (the 06:00 run plus slack): the rule of `evaluate_gold_freshness`,
# which reads `_gold_updated_at` in the warehouse for Airflow and `shopflow olist quality`, here on Dagster's
# materialization records so a sensor evaluates it between runs and a failure is alerted.
OLIST_GOLD_KEYS = [
    key(name)
    for name in (
        "gold_daily_sales",
        "gold_customer_rfm",
        "gold_delivery_performance",
        "gold_product_analytics",
        "gold_seller_performance",
    )
]

olist_pipeline = dg.define_asset_job(
    "olist_pipeline",
    selection=without_freshness_checks(dg.AssetSelection.groups(PREFIX), OLIST_GOLD_KEYS),
    description="Olist lakehouse: freshness -> bronze -> silver -> dbt gold (+ tests) -> gold checks.",
    # One process per run: its three Spark steps share one JVM and the code location is imported once,
    # instead of a process (and a Spark start) per step (docs/marketplace.md, "Run cost").
    executor_def=dg.in_process_executor,
    tags=RUN_RETRIES | LAKE_WRITER_TAG,
)

olist_bronze_silver = dg.define_asset_job(
    "olist_bronze_silver",
    # silver is one multi-asset: all its tables (payments/reviews re-merge their bronze, a no-op when unchanged)
    selection=dg.AssetSelection.assets(*[bronze_key(t) for t in STREAMED])
    | dg.AssetSelection.assets(*[silver_key(t) for t in SILVER_ORDER]),
    description="Bounded Kafka -> bronze -> silver run, launched by the Kafka sensor as data arrives.",
    executor_def=dg.in_process_executor,
    tags=RUN_RETRIES | LAKE_WRITER_TAG,
)

olist_daily_schedule = dg.ScheduleDefinition(
    name="olist_pipeline_daily",
    job=olist_pipeline,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
)


def active_lake_writer(instance: dg.DagsterInstance) -> dg.RunRecord | None:
    """A queued or running run of either Olist job (they carry the writer tag): it takes the waiting messages."""
    records = instance.get_run_records(dg.RunsFilter(statuses=_ACTIVE, tags=LAKE_WRITER_TAG), limit=1)
    return records[0] if records else None


def unprocessed_messages(
    end: dict[str, dict[int, int]], committed: dict[str, dict[int, int]]
) -> dict[str, int]:
    """Per topic: messages in Kafka past what the bronze checkpoint has committed."""
    return {
        topic: sum(
            max(0, last - committed.get(topic, {}).get(partition, 0)) for partition, last in parts.items()
        )
        for topic, parts in end.items()
    }


def committed_offsets(lake: LakeResource, table_name: str, namespace: str = "") -> dict[str, dict[int, int]]:
    """What the bronze stream of a table has committed, read from its checkpoint in the lake."""
    # at tick time: pipeline.py imports Spark and Delta, which loading the code location does not need
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake

    store = lake.get_lake()
    name = MarketplaceLake(store.uri, namespace).checkpoint_name(f"bronze_{table_name}")
    prefix = f"{CHECKPOINT_PREFIX}/{name}"

    def list_names(sub: str) -> list[str]:
        return [k.rsplit("/", 1)[-1] for k in store.list_keys(CHECKPOINT_BUCKET, f"{prefix}/{sub}/")]

    def read_text(relative: str) -> str:
        return store.get_bytes(CHECKPOINT_BUCKET, f"{prefix}/{relative}").decode()

    return read_committed_offsets(list_names, read_text).offsets


def bronze_end_offsets(kafka: KafkaResource, topic_suffix: str = "") -> dict[str, dict[int, int]]:
    """End offsets of every raw_* topic (broker metadata, no consumer poll)."""
    suffix = f"_{topic_suffix}" if topic_suffix else ""
    return {t.topic + suffix: kafka.end_offsets(t.topic + suffix) for t in STREAMED}


def bronze_lag(
    kafka: KafkaResource,
    lake: LakeResource,
    namespace: str = "",
    topic_suffix: str = "",
    end: dict[str, dict[int, int]] | None = None,
) -> dict[str, int]:
    """Messages per raw_* topic that the bronze streams have not committed yet (`end`: offsets already read)."""
    end = end if end is not None else bronze_end_offsets(kafka, topic_suffix)
    committed: dict[str, dict[int, int]] = {}
    for table in STREAMED:
        committed.update(committed_offsets(lake, table.name, namespace))
    return unprocessed_messages(end, committed)


@dg.sensor(job=olist_bronze_silver, minimum_interval_seconds=60, default_status=sensor_status())
def olist_kafka_sensor(context: dg.SensorEvaluationContext, kafka: KafkaResource, lake: LakeResource):
    """Launches a bounded bronze/silver run when the raw_* topics hold messages bronze has not committed.

    Reads offsets only (topic end offsets, checkpoint files): it never consumes, so it cannot stall the daemon.
    A failed run is retried by Dagster's run retries (the job's RUN_RETRIES tag). While a run of either Olist
    job is queued or running it skips: that run takes the messages, and a second one would write the same
    tables and checkpoints.
    """
    active = active_lake_writer(context.instance)
    if active is not None:
        run = active.dagster_run
        return dg.SkipReason(
            f"run {run.run_id} of {run.job_name} is {run.status.value.lower()}; it takes the waiting messages"
        )
    end = bronze_end_offsets(kafka)
    lag = bronze_lag(kafka, lake, end=end)
    if sum(lag.values()) == 0:
        return dg.SkipReason(f"bronze is up to date with {sorted(lag)}")
    digest = hashlib.sha256(json.dumps(end, sort_keys=True).encode()).hexdigest()[:16]
    unprocessed = sum(lag.values())
    return run_request_for_offsets(f"olist-{digest}", tags={"olist/unprocessed": str(unprocessed)})


# Failures of these jobs are alerted by the operations domain's run_failure_alert_sensor, like every job's.
@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[olist_pipeline], name="olist_success_notification"
)
def olist_success_notification(context: dg.RunStatusSensorContext, alerts: AlertResource):
    run = context.dagster_run
    alerts.send(Alert(kind="run_success", job=run.job_name, run_id=run.run_id))


# --- freshness -------------------------------------------------------------------------------------------

with dagster_freshness_factories():
    olist_gold_freshness_checks = dg.build_last_update_freshness_checks(
        assets=OLIST_GOLD_KEYS, lower_bound_delta=MAX_GOLD_AGE
    )
olist_gold_freshness_sensor = freshness_check_sensor(
    "olist_gold_freshness_sensor", olist_gold_freshness_checks
)
