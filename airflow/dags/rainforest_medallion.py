"""Airflow DAG `rainforest_medallion`: a thin wrapper around the Dagster job of the same name.

wait_for_source -> medallion -> reports_published, every day at 03:00 UTC (after the shop batch at
02:00), for the day that just ended. Each task runs a command in the ShopFlow project (its own uv
environment), so Airflow never imports Spark or Dagster and both orchestrators run the very same assets:

- wait_for_source:   `shopflow rainforest landed` until the app database holds orders of the day;
- medallion:         `dagster job execute rainforest_medallion` for the day's partition (bronze, silver,
                     gold, the blocking checks, then the interface views; a failed check fails this task
                     and the views keep the content published before);
- reports_published: `shopflow rainforest published`: both report views hold rows for the day.
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

PROJECT_DIR = os.environ.get("SHOPFLOW_PROJECT_DIR", str(Path(__file__).resolve().parents[2]))
DAGSTER_MODULE = "shopflow_assets.definitions"
JOB_NAME = "rainforest_medallion"

# The run at 03:00 on day D processes day D-1 (the partition that just ended).
BUSINESS_DAY = "{{ macros.ds_add(ds, -1) }}"

_PREFIX = (
    f'cd "{PROJECT_DIR}" && export DAGSTER_HOME="${{DAGSTER_HOME:-${{SHOPFLOW_HOME:-{PROJECT_DIR}/.shopflow}}/dagster}}" '
    '&& mkdir -p "$DAGSTER_HOME" && '
)


def project_command(command: str) -> str:
    return _PREFIX + "uv run --frozen " + command


with DAG(
    dag_id="rainforest_medallion",
    description="Rainforest medallion reports: triggers and checks the Dagster job rainforest_medallion",
    schedule=CronTriggerTimetable("0 3 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 2, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    tags=["shopflow", "rainforest", "dagster"],
) as dag:
    wait_for_source = BashSensor(
        task_id="wait_for_source",
        bash_command=project_command(f"shopflow rainforest landed --date {BUSINESS_DAY}"),
        poke_interval=300,
        timeout=6 * 60 * 60,
        mode="reschedule",
    )
    medallion = BashOperator(
        task_id="medallion",
        bash_command=project_command(
            f"dagster job execute -m {DAGSTER_MODULE} -j {JOB_NAME} "
            f"--tags '{json.dumps({'dagster/partition': '__DAY__'})}'".replace("__DAY__", BUSINESS_DAY)
        ),
    )
    reports_published = BashOperator(
        task_id="reports_published",
        bash_command=project_command(f"shopflow rainforest published --date {BUSINESS_DAY}"),
    )

    wait_for_source >> medallion >> reports_published
