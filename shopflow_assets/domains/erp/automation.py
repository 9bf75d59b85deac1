"""When the ERP stages run.

- erp_change_sensor (every 5 s): asks the source, through the read-only role, for the newest last_updated
  of every table and, when some are past their watermark, requests an `erp_pipeline` run of exactly those
  tables' raw assets plus the star schema and the warehouse. Inside the run the transform depends on the
  raw assets it selected, so Dagster starts it only when the ingestion wrote something (an ingestion that
  found nothing materializes nothing and the transform and load steps are skipped). One process per
  change: every run is a new process importing the code location, which is most of a change's way to the
  warehouse on a small machine. While the source is idle, nothing runs; once a minute the sensor then
  observes the warehouse facts as caught up (their freshness checks, below), if the newest ERP run
  succeeded (a failed one may have left a change out of the warehouse).
- erp_transform_sensor: an asset sensor on the raw objects for ingestions run on their own (`erp_ingest`
  by hand, from the UI): a new raw object starts `erp_transform` (transform, then load).
- erp_load_sweep (every 10 minutes): loads any batch a failed load left behind.
- erp_freshness_sensor: the warehouse facts' freshness checks (a source change in the warehouse within
  5 minutes; the last update is the newest load or the change sensor's caught-up observation).

All jobs run in process (one process per run, not per step).
"""

import datetime as dt
import hashlib
import json

import dagster as dg

from shopflow_assets.automation import SOURCE_LAG_RUN_PRIORITY, schedule_status, sensor_status
from shopflow_assets.contracts.erp import CHANGED_COLUMN, FACTS, SOURCE_DATABASE, SOURCE_TABLES, STATE_SCHEMA
from shopflow_assets.devstack.health import ServiceUnavailableError
from shopflow_assets.domains.erp.assets import PROCESSED_KEYS, RAW_KEYS, WAREHOUSE_KEYS
from shopflow_assets.domains.freshness import caught_up_result, source_lag_freshness, without_freshness_checks
from shopflow_assets.resources.postgres import PostgresError, PostgresResource
from shopflow_assets.settings import WAREHOUSE_DATABASE

# The tables served to users, whose freshness is checked (end of module).
WAREHOUSE_FACT_KEYS = [WAREHOUSE_KEYS[name] for name in FACTS]

erp_ingest_job = dg.define_asset_job(
    "erp_ingest",
    selection=dg.AssetSelection.assets(*RAW_KEYS.values()),
    executor_def=dg.in_process_executor,
    description="totesys changes since each table's watermark -> new immutable raw objects.",
)
erp_pipeline_job = dg.define_asset_job(
    "erp_pipeline",
    selection=without_freshness_checks(
        dg.AssetSelection.assets(*RAW_KEYS.values(), *PROCESSED_KEYS.values(), *WAREHOUSE_KEYS.values()),
        WAREHOUSE_FACT_KEYS,
    ),
    executor_def=dg.in_process_executor,
    tags=SOURCE_LAG_RUN_PRIORITY,
    description="Changed tables -> raw objects -> star schema -> warehouse, in one run (the change sensor's).",
)
# Runs that already transform what they ingest; the transform sensor leaves their raw objects alone.
CHAINED_TAG = "erp/chained"
erp_transform_job = dg.define_asset_job(
    "erp_transform",
    selection=without_freshness_checks(
        dg.AssetSelection.assets(*PROCESSED_KEYS.values(), *WAREHOUSE_KEYS.values()), WAREHOUSE_FACT_KEYS
    ),
    executor_def=dg.in_process_executor,
    tags=SOURCE_LAG_RUN_PRIORITY,
    description="New raw objects -> the star schema in the processed bucket -> the PostgreSQL warehouse.",
)
erp_load_job = dg.define_asset_job(
    "erp_load",
    selection=without_freshness_checks(
        dg.AssetSelection.assets(*WAREHOUSE_KEYS.values()), WAREHOUSE_FACT_KEYS
    ),
    executor_def=dg.in_process_executor,
    description="Pending processed batches -> the PostgreSQL warehouse (schema erp); the 10-minute sweep.",
)


_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def job_busy(instance: dg.DagsterInstance, job_name: str) -> bool:
    """A run of the job is queued or running: the next one would only find its leftovers."""
    return bool(instance.get_run_records(dg.RunsFilter(job_name=job_name, statuses=_ACTIVE), limit=1))


# The jobs that write the warehouse; the newest of their runs says whether it holds every ingested change.
WAREHOUSE_JOBS = ("erp_pipeline", "erp_transform", "erp_load")


def newest_erp_run_succeeded(instance: dg.DagsterInstance) -> bool:
    """The newest of the finished runs that write the warehouse succeeded (or none ran yet)."""
    finished = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
    newest = [
        record
        for job_name in WAREHOUSE_JOBS
        for record in instance.get_run_records(dg.RunsFilter(job_name=job_name, statuses=finished), limit=1)
    ]
    if not newest:
        return True
    # storage_id: the order the runs were created in (create_timestamp may tie within a second).
    return max(newest, key=lambda r: r.storage_id).dagster_run.status == dg.DagsterRunStatus.SUCCESS


def pending_changes(reader, state) -> dict[str, str]:
    """Tables whose newest last_updated is past their watermark -> "<newest>><watermark>" (ISO)."""
    from psycopg import sql  # at tick time: the code location loads without psycopg

    try:
        watermarks = dict(
            state.execute(f"SELECT source_table, last_updated FROM {STATE_SCHEMA}.watermark").fetchall()  # nosec B608 # constant schema/table names; values are bound
        )
    except Exception:  # the state table does not exist before the first ingestion
        state.rollback()
        watermarks = {}
    newest = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, max({}) FROM {}").format(
            sql.Literal(t), sql.Identifier(CHANGED_COLUMN), sql.Identifier(t)
        )
        for t in SOURCE_TABLES
    )
    with reader.transaction():
        rows = reader.execute(newest).fetchall()
    # The watermark is part of the value: a run that stopped short of a change (the safety lag) leaves a
    # different fingerprint, so the next tick asks again instead of waiting for the minute to turn.
    return {
        table: f"{latest.isoformat()}>{watermarks[table].isoformat() if table in watermarks else '-'}"
        for table, latest in rows
        if latest is not None and (table not in watermarks or latest > watermarks[table])
    }


@dg.sensor(
    name="erp_change_sensor",
    job=erp_pipeline_job,
    minimum_interval_seconds=5,
    default_status=sensor_status(),
)
def erp_change_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, postgres_reader: PostgresResource
):
    if job_busy(context.instance, erp_pipeline_job.name):
        return dg.SkipReason("an erp_pipeline run is queued or running; it or the next one takes the changes")
    import psycopg

    try:
        with (
            postgres_reader.connect(database=SOURCE_DATABASE) as reader,
            postgres.connect(database=WAREHOUSE_DATABASE) as state,
        ):
            pending = pending_changes(reader, state)
    except (ServiceUnavailableError, PostgresError, psycopg.errors.UndefinedTable) as exc:
        # Not an ERP failure: no PostgreSQL (the embedded demo) or no totesys tables yet.
        return dg.SkipReason(f"ERP source not available: {str(exc).splitlines()[0]}")
    if not pending:
        idle = "no totesys table changed since its watermark"
        if not newest_erp_run_succeeded(context.instance):
            return dg.SkipReason(f"{idle}; the newest ERP run did not succeed")
        return caught_up_result(context, WAREHOUSE_FACT_KEYS, idle)
    # Same changes -> same key within a minute: one run per new change, and a retry a minute after a
    # failed run (e.g. the lake was down) instead of one every tick.
    minute = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M")
    fingerprint = hashlib.sha256(json.dumps(pending, sort_keys=True).encode()).hexdigest()[:16]
    return dg.RunRequest(
        run_key=f"{fingerprint}-{minute}",
        asset_selection=[RAW_KEYS[t] for t in sorted(pending)]
        + list(PROCESSED_KEYS.values())
        + list(WAREHOUSE_KEYS.values()),
        tags={"erp/tables": ",".join(sorted(pending)), CHAINED_TAG: "true"},
    )


def _chained(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is not None and run.tags.get(CHAINED_TAG) == "true"


def _on_new_materializations(name: str, monitored: list[dg.AssetKey], job) -> dg.MultiAssetSensorDefinition:
    @dg.multi_asset_sensor(
        name=name,
        monitored_assets=monitored,
        job=job,
        minimum_interval_seconds=5,
        default_status=sensor_status(),
    )
    def sensor(context: dg.MultiAssetSensorEvaluationContext):
        if job_busy(context.instance, job.name):
            return dg.SkipReason(f"a {job.name} run is queued or running")  # cursors stay: next tick
        records = {k: r for k, r in context.latest_materialization_records_by_key().items() if r is not None}
        context.advance_all_cursors()
        records = {k: r for k, r in records.items() if not _chained(context.instance, r.run_id)}
        if not records:
            return dg.SkipReason("nothing new upstream that its own run did not already transform")
        newest = max(r.storage_id for r in records.values())
        return dg.RunRequest(run_key=f"{name}-{newest}")

    return sensor


erp_transform_sensor = _on_new_materializations(
    "erp_transform_sensor", list(RAW_KEYS.values()), erp_transform_job
)

erp_load_schedule = dg.ScheduleDefinition(
    name="erp_load_sweep",
    job=erp_load_job,
    cron_schedule="*/10 * * * *",
    execution_timezone="UTC",
    default_status=schedule_status(),
)


# --- freshness -------------------------------------------------------------------------------------------


erp_freshness_checks, erp_freshness_sensor = source_lag_freshness("erp_freshness_sensor", WAREHOUSE_FACT_KEYS)
