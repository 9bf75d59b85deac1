"""Airflow runs the DAGs `ecommerce_daily_batch` and `olist_pipeline` itself (`airflow dags test` in airflow/.venv) against the
real stack (MinIO, Spark, DuckDB, dbt) and a running Dagster webserver on a temporary DAGSTER_HOME.

Green for a good partition only when the Dagster runs it triggers succeed; red for a partition whose
Orders.csv is corrupt, with Dagster's error in the Airflow task log. The webserver's GraphQL API confirms
which Dagster runs Airflow started and how they ended. Days 2025-06-05 and 2025-06-06 belong to this test.
The Olist DAG is run red only (its broker down): a green run is the whole Olist pipeline, which
e2e/test_marketplace_dagster.py already runs through Dagster.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import time
import urllib.request

import pytest

from shopflow_assets.datagen.shop import generate_shop_day
from shopflow_assets.devstack.minio_iam import purge_with_root
from shopflow_assets.resources.lake import build_lake
from shopflow_assets.settings import PROJECT_ROOT, Settings, get_settings
from shopflow_assets_tests.support.airflow_venv import AIRFLOW_PYTHON, DAGS_DIR
from shopflow_assets_tests.support.alerts import webhook_server

pytestmark = pytest.mark.slow

GOOD_DAY = dt.date(2025, 6, 5)
BAD_DAY = dt.date(2025, 6, 6)
AIRFLOW = AIRFLOW_PYTHON.parent / "airflow"
BAD_HEADER_ERROR = "Orders.csv: header 'order_id;broken' is not the orders contract's columns"
RUNS_QUERY = """{ runsOrError { ... on Runs { results { runId jobName status tags { key value } } } } }"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _forget(lake, day: dt.date) -> None:
    """Remove the day's raw, staging and quarantine objects, so each run starts from an empty lake.

    Raw objects need MinIO's root key: the pipeline's own key may not delete from raw-data."""
    purge_with_root(get_settings(), "raw-data", f"{day:%Y/%m/%d}/")
    for bucket, prefix in (("staging", "shop/"), ("quarantine", "shop/")):
        for key in lake.list_keys(bucket, prefix):
            if f"date={day.isoformat()}/" in key:
                lake.client.delete_object(Bucket=bucket, Key=key)


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not AIRFLOW.exists():
        pytest.skip(f"Airflow is not installed in {AIRFLOW.parent.parent}: run `bash airflow/install.sh`")
    base = tmp_path_factory.mktemp("airflow_e2e")
    env = {
        **os.environ,
        "SHOPFLOW_ENV": "docker",
        "SHOPFLOW_DUCKDB_PATH": str(base / "warehouse.duckdb"),
        "SHOPFLOW_SHOP_LANDING_DIR": str(base / "incoming"),
        "DAGSTER_HOME": str(base / "dagster"),
        "AIRFLOW_HOME": str(base / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "SHOPFLOW_AIRFLOW_RETRIES": "0",
    }
    (base / "dagster").mkdir()
    settings = Settings(SHOPFLOW_ENV="docker")
    if not settings.aws_access_key_id:
        pytest.fail("no S3 credentials in settings: run `uv run shopflow services up` first")
    lake = build_lake(settings)
    for day in (GOOD_DAY, BAD_DAY):
        _forget(lake, day)
        generate_shop_day(day, base / "incoming" / day.isoformat(), orders=300, seed=day.day)
    orders = base / "incoming" / BAD_DAY.isoformat() / "Orders.csv"
    orders.write_text("order_id;broken\n" + orders.read_text().split("\n", 1)[1])

    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    port = _free_port()
    log = (base / "dagster-webserver.log").open("w")
    webserver = subprocess.Popen(
        ["uv", "run", "--frozen", "dagster-webserver", "-m", "shopflow_assets.definitions"]
        + ["-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5)
                break
            except OSError:
                assert webserver.poll() is None, (base / "dagster-webserver.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "dagster-webserver did not answer within 300 s"
                time.sleep(2)
        yield {"env": env, "port": port, "base": base}
    finally:
        webserver.terminate()
        webserver.wait(timeout=60)
        log.close()
        for day in (GOOD_DAY, BAD_DAY):
            _forget(lake, day)


def dags_test(
    stack, business_day: dt.date, dag_id: str = "ecommerce_daily_batch", **env: str
) -> tuple[int, str, dict[str, str]]:
    """`airflow dags test` for the run that processes `business_day`: (exit code, its log, task states)."""
    logical_date = business_day + dt.timedelta(days=1)  # the run of D+1 processes day D
    done = subprocess.run(
        [str(AIRFLOW), "dags", "test", dag_id, logical_date.isoformat()],
        env={**stack["env"], **env},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    output = done.stdout + done.stderr
    (run_id,) = set(re.findall(rf"DagRun Finished: dag_id={dag_id}, .*?run_id=([^,]+),", output))
    states = subprocess.run(
        [str(AIRFLOW), "tasks", "states-for-dag-run", dag_id, run_id, "-o", "json"],
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = json.loads(states.stdout[states.stdout.index("[") :])
    return done.returncode, output, {row["task_id"]: row["state"] for row in rows}


def all_dagster_runs(stack) -> list[dict]:
    return _graphql(stack["port"], RUNS_QUERY)["runsOrError"]["results"]


def dagster_runs(stack, day: dt.date) -> dict[str, str]:
    """{job name: status} of the Dagster runs for the day's partition, as the webserver reports them."""
    return {
        run["jobName"]: run["status"]
        for run in all_dagster_runs(stack)
        if {"key": "dagster/partition", "value": day.isoformat()} in run["tags"]
    }


def test_dag_is_green_when_the_dagster_runs_succeed(stack):
    code, output, states = dags_test(stack, GOOD_DAY)
    assert code == 0, output[-5000:]
    assert states == dict.fromkeys(["wait_for_raw_files", "ingest", "transform", "data_quality"], "success")
    assert dagster_runs(stack, GOOD_DAY) == {"__ASSET_JOB": "SUCCESS", "ecommerce_daily_batch": "SUCCESS"}
    count = re.search(rf"FROM fact_orders WHERE order_date = '{GOOD_DAY}' -> (\d+)", output)
    assert count and int(count.group(1)) > 250  # 300 generated, a few dirty rows quarantined


def test_dag_is_red_with_the_dagster_error_when_a_raw_file_is_corrupt(stack):
    code, output, states = dags_test(stack, BAD_DAY)
    assert code != 0
    assert states == {
        "wait_for_raw_files": "success",
        "ingest": "failed",
        "transform": "upstream_failed",
        "data_quality": "upstream_failed",
    }
    # The Dagster step failure and its first error line are in the ingest task's log.
    assert 'STEP_FAILURE - Execution of step "shop_raw_objects" failed.' in output
    assert BAD_HEADER_ERROR in output
    assert dagster_runs(stack, BAD_DAY) == {"__ASSET_JOB": "FAILURE"}


def test_olist_dag_is_red_and_notifies_when_kafka_is_down(stack):
    """The Olist DAG's freshness gate fails on an unreachable broker: the Dagster run fails, the DAG is red
    with that error in its log, and notify_failure posts the failure to the webhook (without its URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    before = {run["runId"] for run in all_dagster_runs(stack)}
    with webhook_server() as hook:
        code, output, states = dags_test(
            stack,
            dt.date(2025, 6, 5),
            "olist_pipeline",
            KAFKA_BOOTSTRAP_SERVERS=dead,
            SHOPFLOW_ALERT_WEBHOOK_URL=hook.url,
        )
    assert code != 0
    assert states["check_freshness"] == "failed"
    assert {states[t] for t in ("bronze_to_silver", "dbt_run", "dbt_test", "quality_checks")} == {
        "upstream_failed"
    }
    assert (states["notify_failure"], states["notify_success"]) == ("success", "upstream_failed")
    assert 'STEP_FAILURE - Execution of step "marketplace__olist_topic_offsets" failed.' in output
    assert dead in output and "Kafka" in output
    new = [run for run in all_dagster_runs(stack) if run["runId"] not in before]
    assert [(run["jobName"], run["status"]) for run in new] == [("__ASSET_JOB", "FAILURE")]
    (post,) = hook.posts
    assert (post["kind"], post["job"]) == ("run_failure", "olist_pipeline")
    assert hook.url not in hook.raw[0].decode() and "T0KEN-secret" not in hook.raw[0].decode()
