"""Whether the automation a user expects (SHOPFLOW_AUTOMATION, see settings) starts RUNNING.

Decorators read these when a domain module is imported, so one setting decides for the whole code
location. Schedules and sensors not listed in AUTOMATED stay switched off until a user turns them on.
"""

import dagster as dg

from shopflow_assets.settings import get_settings

# Every schedule and sensor that starts RUNNING when automation is on (README lists them too).
AUTOMATED = (
    "ecommerce_daily_batch_schedule",
    "shop_raw_data_sensor",
    "clicks_topic_sensor",
    "user_actions_sensor",
    "olist_kafka_sensor",
    "erp_change_sensor",
    "erp_transform_sensor",
    "erp_load_sweep",
    "shop_freshness_sensor",
    "page_views_freshness_sensor",
    "user_actions_freshness_sensor",
    "olist_gold_freshness_sensor",
    "erp_freshness_sensor",
    "rainforest_freshness_sensor",
    "run_failure_alert_sensor",
    "check_failure_alert_sensor",
)


# The run queue's order (QueuedRunCoordinator dequeues the highest `dagster/priority` first). A soak with
# the three batch jobs launched together kept freshness runs (1-2 s each) and the page-view runs queued
# for 5-10 min behind them, which makes tables look stale that are not, or makes them stale.
FRESHNESS_RUN_PRIORITY = {"dagster/priority": "10"}  # evaluating a check takes a second
SOURCE_LAG_RUN_PRIORITY = {"dagster/priority": "5"}  # streams and ERP changes: promised within minutes


def sensor_status() -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if get_settings().automation_on else dg.DefaultSensorStatus.STOPPED


def schedule_status() -> dg.DefaultScheduleStatus:
    return (
        dg.DefaultScheduleStatus.RUNNING if get_settings().automation_on else dg.DefaultScheduleStatus.STOPPED
    )
