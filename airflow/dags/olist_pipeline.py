"""Airflow DAG `olist_pipeline`: a thin wrapper around the Dagster assets of the Olist lakehouse.

check_freshness -> bronze_to_silver -> dbt_run -> dbt_test -> quality_checks -> notify_success /
notify_failure, every day at 06:00 UTC, 2 retries. Each task runs a command in the ShopFlow project (its
own uv environment), so Airflow never imports Spark, dbt or Dagster and both orchestrators run the very
same code:

- check_freshness:  materialize marketplace/olist_topic_offsets (fails when a raw_* topic is empty);
- bronze_to_silver: materialize the bronze and silver assets (bounded streams, MERGE, blocking checks);
- dbt_run:          materialize the olist dbt assets (`dbt build`: models, then their tests as checks);
- dbt_test:         `dbt test --select tag:olist` again, as its own visible step;
- quality_checks:   the gold checks (Pandera ranges, freshness, gold = silver totals), exit 1 on failure;
- notify_*:         log + webhook/e-mail when configured (SHOPFLOW_ALERT_WEBHOOK_URL, SHOPFLOW_ALERT_EMAIL_TO).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG
from airflow.timetables.trigger import CronTriggerTimetable

PROJECT_DIR = os.environ.get("SHOPFLOW_PROJECT_DIR", str(Path(__file__).resolve().parents[2]))
DAGSTER_MODULE = "shopflow_assets.definitions"
# 2 retries 5 minutes apart in production; the DAG tests set 0 so that a red run is red at once.
RETRIES = int(os.environ.get("SHOPFLOW_AIRFLOW_RETRIES", "2"))
TABLES_STREAMED = ("orders", "order_items", "customers", "products", "sellers")
TABLES_BATCH = ("order_payments", "order_reviews", "geolocation", "category_translation")
TABLES_SILVER = (
    "customers",
    "products",
    "sellers",
    "orders",
    "order_items",
    "order_payments",
    "order_reviews",
)
BRONZE_SILVER = ",".join(
    [f"marketplace/bronze_{t}" for t in (*TABLES_STREAMED, *TABLES_BATCH)]
    + [f"marketplace/silver_{t}" for t in TABLES_SILVER]
)
DBT_MODELS = ",".join(
    f"marketplace/{m}"
    for m in (
        "stg_olist__orders",
        "stg_olist__order_items",
        "stg_olist__customers",
        "stg_olist__products",
        "stg_olist__sellers",
        "stg_olist__order_reviews",
        "int_olist__order_reviews",
        "int_olist__order_items_enriched",
        "int_olist__item_key_history",
        "gold_daily_sales",
        "gold_seller_performance",
        "gold_customer_rfm",
        "gold_product_analytics",
        "gold_delivery_performance",
    )
)

# Commands run from DAGSTER_HOME, not the checkout: the dagster CLI loads `.env` from its working
# directory OVER the environment, which would silently replace what Airflow (or compose) sets.
_PREFIX = (
    f'export DAGSTER_HOME="${{DAGSTER_HOME:-${{SHOPFLOW_HOME:-{PROJECT_DIR}/.shopflow}}/dagster}}" '
    '&& mkdir -p "$DAGSTER_HOME" && cd "$DAGSTER_HOME" && '
)


def project_command(command: str) -> str:
    return _PREFIX + f'uv run --frozen --project "{PROJECT_DIR}" ' + command


def materialize(selection: str) -> str:
    return project_command(f"dagster asset materialize -m {DAGSTER_MODULE} --select '{selection}'")


# A run id can be chosen by whoever triggers the run: quoted for bash, never pasted as shell text.
NOTIFY = "shopflow alert --job olist_pipeline --run-id {{ run_id | shell_quote }} --status "

with DAG(
    dag_id="olist_pipeline",
    description="Olist lakehouse: Kafka -> bronze -> silver MERGE -> dbt gold, through the Dagster assets",
    schedule=CronTriggerTimetable("0 6 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 2, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": RETRIES, "retry_delay": pendulum.duration(minutes=5)},
    tags=["shopflow", "olist", "marketplace", "dagster"],
    user_defined_filters={"shell_quote": shlex.quote},
) as dag:
    check_freshness = BashOperator(
        task_id="check_freshness", bash_command=materialize("marketplace/olist_topic_offsets")
    )
    bronze_to_silver = BashOperator(task_id="bronze_to_silver", bash_command=materialize(BRONZE_SILVER))
    dbt_run = BashOperator(task_id="dbt_run", bash_command=materialize(DBT_MODELS))
    dbt_test = BashOperator(
        task_id="dbt_test",
        bash_command=project_command("shopflow olist dbt test"),
    )
    quality_checks = BashOperator(
        task_id="quality_checks",
        bash_command=project_command("shopflow olist quality"),
    )
    notify_success = BashOperator(
        task_id="notify_success", bash_command=project_command(NOTIFY + "success"), trigger_rule="all_success"
    )
    notify_failure = BashOperator(
        task_id="notify_failure", bash_command=project_command(NOTIFY + "failure"), trigger_rule="one_failed"
    )

    (
        check_freshness
        >> bronze_to_silver
        >> dbt_run
        >> dbt_test
        >> quality_checks
        >> [notify_success, notify_failure]
    )
