"""Freshness of the served tables: the pieces every domain's freshness checks share.

Each domain declares its checks with Dagster's own factories (`dg.build_last_update_freshness_checks`,
`dg.build_time_partition_freshness_checks`; every check is named `freshness_check`) and one sensor from
`freshness_check_sensor` here. A failed evaluation is an ordinary failed asset check, so the operations
domain's `check_failure_alert_sensor` alerts it like any other.

A table fed by a source that can fall quiet (a Kafka topic, the ERP database) is not stale while the
source has nothing new: the sensor that watches the source records a "caught up" observation
(`caught_up_observations`) carrying `dagster/last_updated_timestamp`, which Dagster's last-update
checks count as an update. While records arrive, only a run that writes them keeps the table fresh.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dagster as dg

from shopflow_assets.automation import FRESHNESS_RUN_PRIORITY, sensor_status

# A streaming or change-driven table must hold its source's records within this time.
SOURCE_LAG_LIMIT = dt.timedelta(minutes=5)
# How often a watching sensor records that its tables are caught up (its ticks are every 5 to 30 s):
# often enough that a quiet source keeps the table well inside SOURCE_LAG_LIMIT, rarely enough that the
# event log does not get a row per tick.
CAUGHT_UP_EVERY_SECONDS = 60
# Dagster's metadata key for "the data is current as of" on an observation.
LAST_UPDATED_METADATA_KEY = "dagster/last_updated_timestamp"


# The name Dagster's factories give every freshness check.
FRESHNESS_CHECK_NAME = "freshness_check"


def without_freshness_checks(
    selection: dg.AssetSelection, asset_keys: Sequence[dg.AssetKey]
) -> dg.AssetSelection:
    """`selection` minus the freshness checks of `asset_keys`: a job's run is no time to judge freshness
    (a backfill of old days would report, and alert, today's verdict once per day); the sensors do."""
    return selection - dg.AssetSelection.checks(
        *(dg.AssetCheckKey(key, FRESHNESS_CHECK_NAME) for key in asset_keys)
    )


@contextmanager
def dagster_freshness_factories() -> Iterator[None]:
    """Around Dagster's freshness-check factories, which it marks "superseded" by FreshnessPolicy: a
    policy's verdict is no asset check, so it would not reach check_failure_alert_sensor nor the soak's
    report, which read asset-check evaluations. Nothing to warn a user about at every import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        yield


def caught_up_due(cursor: str | None, now: float) -> bool:
    """Whether a sensor whose cursor holds the time of its last caught-up observation should record one."""
    try:
        last = float(cursor) if cursor else 0.0
    except ValueError:
        last = 0.0  # a cursor from before freshness: record one now
    return now - last >= CAUGHT_UP_EVERY_SECONDS


def caught_up_observations(
    asset_keys: Sequence[dg.AssetKey], now: float, reason: str
) -> list[dg.AssetObservation]:
    """Observations saying each table holds everything its source has, as of `now`."""
    return [
        dg.AssetObservation(
            asset_key=asset_key,
            description=f"caught up: {reason}",
            metadata={LAST_UPDATED_METADATA_KEY: dg.MetadataValue.timestamp(now)},
        )
        for asset_key in asset_keys
    ]


def caught_up_result(
    context: dg.SensorEvaluationContext, asset_keys: Sequence[dg.AssetKey], reason: str
) -> dg.SensorResult | dg.SkipReason:
    """A sensor's answer when its source has nothing new: skip, and every minute also say the tables
    are caught up (the cursor keeps the time it last did)."""
    now = time.time()
    if not asset_keys or not caught_up_due(context.cursor, now):
        return dg.SkipReason(reason)
    return dg.SensorResult(
        skip_reason=reason,
        cursor=str(now),
        asset_events=caught_up_observations(asset_keys, now, reason),
    )


def checks_to_recheck(instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey]):
    """Failed freshness checks whose table was updated (materialized, or observed caught up) after the
    failed evaluation.

    Dagster's freshness sensor leaves a failed check to the run that next updates its table, assuming that
    run evaluates the check; the jobs here select their assets, not these checks, and a caught-up
    observation is no run at all, so without this a check that failed once would stay failed.
    """
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    summaries = instance.event_log_storage.get_asset_check_summary_records(list(check_keys))
    for check_key, summary in sorted(summaries.items(), key=lambda item: item[0].to_user_string()):
        record = summary.last_check_execution_record
        if record is None or record.status != AssetCheckExecutionRecordStatus.FAILED or record.event is None:
            continue
        updates = dg.AssetRecordsFilter(asset_key=check_key.asset_key)
        newest = [
            *instance.fetch_materializations(records_filter=updates, limit=1).records,
            *instance.fetch_observations(records_filter=updates, limit=1).records,
        ]
        if any(update.timestamp > record.event.timestamp for update in newest):
            yield check_key


# A freshness run only reads the event log: one process, not a step subprocess per check (2 cores).
CHECKS_IN_ONE_PROCESS = {"execution": {"config": {"in_process": {}}}}


def freshness_check_sensor(
    name: str, freshness_checks: Sequence[dg.AssetChecksDefinition], minimum_interval_seconds: int = 60
) -> dg.SensorDefinition:
    """Dagster's freshness-check sensor (`dg.build_sensor_for_freshness_checks`: evaluates a check when
    it has never run or could have become overdue since it passed), also re-evaluating a failed check
    whose table was updated since (`checks_to_recheck`). RUNNING when automation is on."""
    with dagster_freshness_factories():
        dagster_sensor = dg.build_sensor_for_freshness_checks(
            freshness_checks=freshness_checks,
            name=f"{name}_dagster",
            minimum_interval_seconds=minimum_interval_seconds,
        )
    check_keys = [spec.key for checks in freshness_checks for spec in checks.check_specs]

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        asset_selection=dg.AssetSelection.checks(*freshness_checks),
        default_status=sensor_status(),
        description="Evaluates the freshness checks "
        + ", ".join(sorted({key.asset_key.to_user_string() for key in check_keys}))
        + " when they could have changed; a failure is alerted by check_failure_alert_sensor.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        answer = dagster_sensor(context)
        due = list(answer.asset_check_keys or []) if isinstance(answer, dg.RunRequest) else []
        due += [key for key in checks_to_recheck(context.instance, check_keys) if key not in due]
        if not due:
            return answer if isinstance(answer, dg.SkipReason) else dg.SkipReason("no freshness check due")
        return dg.RunRequest(
            asset_check_keys=due, run_config=CHECKS_IN_ONE_PROCESS, tags=FRESHNESS_RUN_PRIORITY
        )

    return _sensor


def source_lag_freshness(
    sensor_name: str, asset_keys: Sequence[dg.AssetKey]
) -> tuple[Sequence[dg.AssetChecksDefinition], dg.SensorDefinition]:
    """Checks that `asset_keys` were updated (a run, or a caught-up observation of the sensor watching
    their source) within SOURCE_LAG_LIMIT, and the sensor that evaluates them."""
    with dagster_freshness_factories():
        checks = dg.build_last_update_freshness_checks(assets=asset_keys, lower_bound_delta=SOURCE_LAG_LIMIT)
    return checks, freshness_check_sensor(sensor_name, checks)
