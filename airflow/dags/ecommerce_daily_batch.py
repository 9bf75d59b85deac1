"""Airflow DAG `ecommerce_daily_batch`: a thin wrapper around the Dagster job of the same name.

S3 sensor -> ingest -> transform -> data quality, every day at 02:00 UTC, for the day that just ended.
Each task runs a command in the ShopFlow project (its own uv environment), so Airflow never imports
Spark, dbt or Dagster and both orchestrators run the very same assets:

- wait_for_raw_files: `shopflow shop landed` until the day's three CSVs are in the landing dir or raw-data;
- ingest:             `dagster asset materialize` of the raw objects for the day's partition;
- transform:          `dagster job execute ecommerce_daily_batch` for the partition (Spark cleaning, star
                      schema, blocking checks, dbt gold; the raw upload is a no-op by then);
- data_quality:       `shopflow shop quality`: SELECT COUNT(*) FROM fact_orders for the day must be > 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.sensors.bash import BashSensor
from airflow.sdk import DAG
from airflow.timetables.trigger import CronTriggerTimetable

# The ShopFlow checkout (this file is <project>/airflow/dags/...), overridable for other layouts.
PROJECT_DIR = os.environ.get("SHOPFLOW_PROJECT_DIR", str(Path(__file__).resolve().parents[2]))
DAGSTER_MODULE = "shopflow_assets.definitions"
# 2 retries 5 minutes apart in production; the DAG tests set 0 so that a red run is red at once.
RETRIES = int(os.environ.get("SHOPFLOW_AIRFLOW_RETRIES", "2"))
JOB_NAME = "ecommerce_daily_batch"
RAW_ASSETS = "shop/raw_users,shop/raw_products,shop/raw_orders"

# The run at 02:00 on day D processes business day D-1 (the partition that just ended).
BUSINESS_DAY = "{{ macros.ds_add(ds, -1) }}"

# Runs inside the project's environment; DAGSTER_HOME defaults to the one `shopflow demo` uses, so runs
# started from Airflow show in the Dagster UI next to the others.
# Commands run from DAGSTER_HOME, not the checkout: the dagster CLI loads `.env` from its working
# directory OVER the environment, which would silently replace what Airflow (or compose) sets.
_PREFIX = (
    f'export DAGSTER_HOME="${{DAGSTER_HOME:-${{SHOPFLOW_HOME:-{PROJECT_DIR}/.shopflow}}/dagster}}" '
    '&& mkdir -p "$DAGSTER_HOME" && cd "$DAGSTER_HOME" && '
)


def project_command(command: str) -> str:
    return _PREFIX + f'uv run --frozen --project "{PROJECT_DIR}" ' + command


with DAG(
    dag_id="ecommerce_daily_batch",
    description="Shop daily batch: triggers and checks the Dagster job ecommerce_daily_batch",
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 2, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": RETRIES, "retry_delay": pendulum.duration(minutes=5)},
    tags=["shopflow", "shop", "dagster"],
) as dag:
    wait_for_raw_files = BashSensor(
        task_id="wait_for_raw_files",
        bash_command=project_command(f"shopflow shop landed --date {BUSINESS_DAY}"),
        poke_interval=60,
        timeout=6 * 60 * 60,
        mode="reschedule",
    )
    ingest = BashOperator(
        task_id="ingest",
        bash_command=project_command(
            f"dagster asset materialize -m {DAGSTER_MODULE} --select '{RAW_ASSETS}' --partition {BUSINESS_DAY}"
        ),
    )
    transform = BashOperator(
        task_id="transform",
        bash_command=project_command(
            f"dagster job execute -m {DAGSTER_MODULE} -j {JOB_NAME} "
            f"--tags '{json.dumps({'dagster/partition': '__DAY__'})}'".replace("__DAY__", BUSINESS_DAY)
        ),
    )
    data_quality = BashOperator(
        task_id="data_quality",
        bash_command=project_command(f"shopflow shop quality --date {BUSINESS_DAY}"),
    )

    wait_for_raw_files >> ingest >> transform >> data_quality
