"""Operations: the alert sensors that watch every other domain's jobs and checks."""

import dagster as dg

from shopflow_assets.domains.operations.automation import check_failure_alert_sensor, run_failure_alert_sensor

defs = dg.Definitions(sensors=[run_failure_alert_sensor, check_failure_alert_sensor])
