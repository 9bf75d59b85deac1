"""Alert sensors over every job of the code location: a failed run, and a failed asset check.

Both hand an `Alert` to the `alerts` resource; the message names the job, the partition, the failed step
(or the asset and check) and the first line of the error, and nothing else, so no secret can ride along.
"""

from __future__ import annotations

import json
import time
from typing import Any

import dagster as dg

from shopflow_assets.automation import sensor_status
from shopflow_assets.resources.alerts import Alert, AlertResource, first_line

PARTITION_TAG = "dagster/partition"


def root_cause(error: Any) -> Any:
    """The user's own exception under Dagster's "Error occurred while executing op" wrappers."""
    while error.cause is not None:
        error = error.cause
    return error


def failure_alert(context: dg.RunFailureSensorContext) -> Alert:
    """The alert for a failed run: its first failed step and that step's error, else the run's error."""
    run = context.dagster_run
    step, error = None, first_line(context.failure_event.message)
    for event in context.get_step_failure_events():
        step = event.step_key
        failure = event.step_failure_data
        if failure and failure.error:
            error = first_line(root_cause(failure.error).message) or error
        break
    return Alert(
        kind="run_failure",
        job=run.job_name,
        run_id=run.run_id,
        partition=run.tags.get(PARTITION_TAG),
        step=step,
        error=error,
    )


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    description="Alerts (log, webhook, e-mail) for every failed run of every job in this code location.",
    minimum_interval_seconds=30,
    default_status=sensor_status(),
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, alerts: AlertResource) -> None:
    alert = failure_alert(context)
    channels = alerts.send(alert)
    context.log.info(f"alerted {alert.title} via {', '.join(channels)}")


# Failed evaluations fetched per check and tick; a check that fails more often than this within one
# tick (30 s) is alerted for its newest failures only.
CHECK_HISTORY = 50
# Alerted record ids the cursor remembers; older ones are forgotten and `since` moves past them.
REMEMBERED = 500


def _check_alert(instance: dg.DagsterInstance, record: Any) -> Alert:
    event = record.event.dagster_event
    evaluation = record.evaluation
    run = instance.get_run_by_id(record.run_id) if record.run_id else None
    return Alert(
        kind="check_failure",
        job=run.job_name if run else event.job_name,
        run_id=record.run_id,
        partition=record.partition or (run.tags.get(PARTITION_TAG) if run else None),
        step=event.step_key,
        error=first_line(evaluation.description)
        or f"severity {evaluation.severity.value}, metadata: "
        + ", ".join(f"{key}={value.value}" for key, value in list(evaluation.metadata.items())[:5]),
        asset=evaluation.asset_key.to_user_string(),
        check=evaluation.check_name,
    )


def failed_check_alerts(instance: dg.DagsterInstance, check_keys, since: float, alerted: set[int]):
    """(record id, evaluation time, Alert) for each failed evaluation of `check_keys` newer than `since`.

    Reads the asset-check execution index (`get_asset_check_execution_history`), which every event-log
    storage keeps in one table: `get_event_records` with an integer cursor raises on the run-sharded
    SQLite storage of a default `dagster dev` instance, so the sensor never alerted there.
    """
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    storage = instance.event_log_storage
    found = []
    for key in check_keys:
        records = storage.get_asset_check_execution_history(
            key, limit=CHECK_HISTORY, status={AssetCheckExecutionRecordStatus.FAILED}
        )
        for record in records:
            if record.id in alerted or record.event is None or record.event.timestamp <= since:
                continue
            found.append((record.id, record.event.timestamp, _check_alert(instance, record)))
    return sorted(found, key=lambda item: item[1])


def _read_cursor(cursor: str | None) -> tuple[float, dict[int, float]] | None:
    try:
        state = json.loads(cursor) if cursor else None
        return float(state["since"]), {int(i): float(t) for i, t in state["alerted"]}
    except (TypeError, ValueError, KeyError):
        return None  # none yet, or the storage-id cursor of an older version: start from now


@dg.sensor(
    name="check_failure_alert_sensor",
    description="Alerts for every failed asset check, blocking or not, of any job in this code location.",
    minimum_interval_seconds=30,
    default_status=sensor_status(),
)
def check_failure_alert_sensor(context: dg.SensorEvaluationContext, alerts: AlertResource) -> dg.SkipReason:
    state = _read_cursor(context.cursor)
    if state is None:
        # First evaluation: start from now, not from every check ever recorded.
        context.update_cursor(json.dumps({"since": time.time(), "alerted": []}))
        return dg.SkipReason("started watching asset-check evaluations")
    since, alerted = state
    repository = context.repository_def
    check_keys = repository.asset_graph.asset_check_keys if repository is not None else ()
    sent = 0
    for record_id, evaluated_at, alert in failed_check_alerts(
        context.instance, check_keys, since, set(alerted)
    ):
        alerts.send(alert)
        alerted[record_id] = evaluated_at
        sent += 1
    if sent:
        newest = sorted(alerted.items(), key=lambda item: item[1])
        if len(newest) > REMEMBERED:
            forgotten, newest = newest[:-REMEMBERED], newest[-REMEMBERED:]
            since = max(since, forgotten[-1][1])
        context.update_cursor(json.dumps({"since": since, "alerted": [[i, t] for i, t in newest]}))
    return dg.SkipReason(f"{sent} failed check(s) alerted" if sent else "no failed asset check")
