"""Airflow DAG `erp_warehouse`: a thin wrapper around the ERP flow's commands (the same code Dagster runs).

ingest -> transform -> load, every minute, one run at a time. Each task runs `shopflow erp <stage>` in the
ShopFlow project (its own uv environment), so Airflow never imports Dagster or the database drivers:

- ingest:    totesys changes since each table's watermark -> new immutable objects in raw-data/erp/;
             exits 1 (the task fails, Airflow alerts) when a table's schema drifted;
- transform: raw objects not processed yet -> the star schema in processed/erp/;
- load:      pending processed batches -> the PostgreSQL warehouse, one transaction per batch.

Run either this DAG or the Dagster sensors, not both: the stages are safe to overlap (each takes a lock),
but two schedulers double the work.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG
from airflow.timetables.trigger import CronTriggerTimetable

PROJECT_DIR = os.environ.get("SHOPFLOW_PROJECT_DIR", str(Path(__file__).resolve().parents[2]))


def shopflow(command: str) -> str:
    return f'cd "{PROJECT_DIR}" && uv run --frozen shopflow {command}'


with DAG(
    dag_id="erp_warehouse",
    description="Back-office ERP: totesys -> raw objects -> star schema -> PostgreSQL warehouse",
    schedule=CronTriggerTimetable("* * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 2, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": pendulum.duration(seconds=20)},
    tags=["shopflow", "erp", "totesys", "warehouse"],
) as dag:
    ingest = BashOperator(task_id="ingest", bash_command=shopflow("erp ingest"))
    transform = BashOperator(task_id="transform", bash_command=shopflow("erp transform"))
    load = BashOperator(task_id="load", bash_command=shopflow("erp load"))

    ingest >> transform >> load
