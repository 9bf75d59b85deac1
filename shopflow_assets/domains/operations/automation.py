"""Alert sensors over every job of the code location: a failed run, and a failed asset check.

Both hand an `Alert` to the `alerts` resource; the message names the job, the partition, the failed step
(or the asset and check) and the first line of the error, and nothing else, so no secret can ride along.
"""

from __future__ import annotations

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


def failed_check_alerts(instance: dg.DagsterInstance, after: int | None, limit: int = 200):
    """(storage id, Alert) for each failed asset-check evaluation recorded after the cursor `after`."""
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
        limit=limit,
        ascending=True,
    )
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data
        if evaluation.passed:
            yield record.storage_id, None
            continue
        run = instance.get_run_by_id(record.run_id)
        yield (
            record.storage_id,
            Alert(
                kind="check_failure",
                job=run.job_name if run else event.job_name,
                run_id=record.run_id,
                partition=(run.tags.get(PARTITION_TAG) if run else None),
                step=event.step_key,
                error=first_line(evaluation.description)
                or f"severity {evaluation.severity.value}, metadata: "
                + ", ".join(f"{key}={value.value}" for key, value in list(evaluation.metadata.items())[:5]),
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
            ),
        )


@dg.sensor(
    name="check_failure_alert_sensor",
    description="Alerts for every failed asset check, blocking or not, of any job in this code location.",
    minimum_interval_seconds=30,
    default_status=sensor_status(),
)
def check_failure_alert_sensor(context: dg.SensorEvaluationContext, alerts: AlertResource) -> dg.SkipReason:
    cursor = int(context.cursor) if context.cursor else None
    if cursor is None:
        # First evaluation: start from now, not from every check ever recorded.
        latest = context.instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION),
            limit=1,
            ascending=False,
        )
        context.update_cursor(str(latest[0].storage_id if latest else 0))
        return dg.SkipReason("started watching asset-check evaluations")
    sent = 0
    for storage_id, alert in failed_check_alerts(context.instance, cursor):
        if alert is not None:
            alerts.send(alert)
            sent += 1
        cursor = storage_id
    context.update_cursor(str(cursor))
    return dg.SkipReason(f"{sent} failed check(s) alerted" if sent else "no failed asset check")
