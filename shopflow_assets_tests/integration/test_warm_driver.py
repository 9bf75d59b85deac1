"""The stack's warm driver: runs attach to its Spark Connect server instead of starting a JVM.

Against the Connect server of `shopflow services up` (the `spark-connect` service): a shop partition
materialized with `dagster asset materialize` on the S3 lake lands the generator's revenue; two runs at
once get separate server sessions; a run whose server is down fails at its first Spark step in one line,
and the run-failure alert carries that line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import textwrap
import uuid
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from shopflow_assets.devstack.spark_connect import remote_url
from shopflow_assets.settings import PROJECT_ROOT, get_settings, reload_settings
from shopflow_assets_tests.support.alerts import (
    alert_resource,
    evaluate_failure_sensor,
    smtp_server,
    webhook_server,
)
from shopflow_assets_tests.support.cleanup import delete_topics, lake_namespace_prefixes, remove_from_lake

pytestmark = pytest.mark.stack

BIN = Path(sys.executable).parent
ATTACHED = "Spark: attached to the Connect server"


@pytest.fixture(scope="module")
def server() -> str:
    settings = reload_settings()
    from shopflow_assets import devstack

    devstack.require_healthy("spark-connect", settings)
    return remote_url(settings)


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SHOPFLOW_WARM_DRIVER": "on",
        "SHOPFLOW_SHOP_LANDING_DIR": str(home / "incoming"),
        "SHOPFLOW_DUCKDB_PATH": str(home / "warehouse.duckdb"),
        "DAGSTER_HOME": str(home / "dagster"),
        **extra,
    }
    env.pop("SPARK_REMOTE", None)
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    return env


def _generate(env: dict[str, str], day: str, scale: str = "0.02") -> dict:
    subprocess.run(
        [BIN / "shopflow", "generate", "shop", "--date", day, "--scale", scale],
        env=env,
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    return json.loads((Path(env["SHOPFLOW_SHOP_LANDING_DIR"]) / day / "manifest.json").read_text())


def _materialize(env: dict[str, str], day: str) -> subprocess.Popen:
    return subprocess.Popen(
        [BIN / "dagster", "asset", "materialize", "-m", "shopflow_assets.definitions"]
        + ["--select", "group:shop", "--partition", day],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _assert_landed(env: dict[str, str], day: str, manifest: dict, output: str) -> None:
    assert "RUN_SUCCESS" in output, output[-4000:]
    assert ATTACHED in output, "the run started its own Spark instead of attaching"
    with duckdb.connect(env["SHOPFLOW_DUCKDB_PATH"], read_only=True) as warehouse:
        orders, revenue = warehouse.sql(
            "select count(*), sum(total_amount) from fact_orders where order_date = ?", params=[day]
        ).fetchone()
        (gold,) = warehouse.sql(
            "select revenue from shop_daily_revenue where order_date = ?", params=[day]
        ).fetchone()
    assert orders == manifest["files"]["Orders.csv"]["clean_rows"]
    assert revenue == Decimal(str(manifest["expected_revenue"]))
    assert Decimal(str(gold)) == Decimal(str(manifest["expected_revenue"]))


def _forget_raw_day(day: str) -> None:
    """The raw layer is immutable to the pipeline: only the root key removes a test's raw day."""
    from shopflow_assets.devstack.minio_iam import purge_with_root

    purge_with_root(get_settings(), "raw-data", f"{dt.date.fromisoformat(day):%Y/%m/%d}/")


def test_a_shop_partition_on_the_s3_lake_runs_on_the_warm_driver(server, tmp_path):
    # A day no other test writes, so the immutable raw layer never holds it already.
    day = (dt.date(2025, 9, 1) + dt.timedelta(days=random.randrange(90))).isoformat()  # nosec B311
    env = _env(tmp_path, SHOPFLOW_ENV="docker")
    manifest = _generate(env, day)
    _forget_raw_day(day)
    try:
        run = _materialize(env, day)
        output, _ = run.communicate(timeout=900)
        assert run.returncode == 0, output[-4000:]
        _assert_landed(env, day, manifest, output)
    finally:
        _forget_raw_day(day)


def test_two_runs_at_once_share_the_server_in_separate_sessions(server, tmp_path):
    days = ("2025-04-01", "2025-04-02")
    envs = [_env(tmp_path / day, SHOPFLOW_ENV="local", SHOPFLOW_HOME=str(tmp_path / day)) for day in days]
    manifests = [_generate(env, day) for env, day in zip(envs, days, strict=True)]
    runs = [_materialize(env, day) for env, day in zip(envs, days, strict=True)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    for run, env, day, manifest, output in zip(runs, envs, days, manifests, outputs, strict=True):
        assert run.returncode == 0, output[-4000:]
        _assert_landed(env, day, manifest, output)


SESSION_CLIENT = textwrap.dedent(
    """
    import json, sys, time
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
    mine = int(sys.argv[2])
    spark.range(mine).createOrReplaceTempView("shared_name")
    spark.conf.set("spark.sql.shuffle.partitions", str(mine))
    time.sleep(3)  # both clients hold their view and setting at the same time
    seen = spark.sql("select count(*) as n from shared_name").first().n
    print(json.dumps({"rows": seen, "partitions": spark.conf.get("spark.sql.shuffle.partitions"),
                      "session": spark.client._session_id}))
    """
)


def test_sessions_on_the_server_do_not_see_each_others_views_or_settings(server):
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", SESSION_CLIENT, server, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (3, 7)
    ]
    results = []
    for client in clients:
        out, err = client.communicate(timeout=180)
        assert client.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [(r["rows"], r["partitions"]) for r in results] == [(3, "3"), (7, "7")]
    assert results[0]["session"] != results[1]["session"]


def test_a_run_whose_server_is_down_fails_at_its_first_spark_step_and_is_alerted(tmp_path, monkeypatch):
    from shopflow_assets.domains.shop import definitions as shop
    from shopflow_assets.resources import build_resources

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free again once closed: nothing listens there
    monkeypatch.setenv("SHOPFLOW_ENV", "local")
    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("SHOPFLOW_WARM_DRIVER", "on")
    monkeypatch.setenv("SPARK_CONNECT_PORT", str(port))
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    settings = reload_settings()
    day = "2025-04-03"
    from shopflow_assets.datagen.shop import generate_shop_day

    generate_shop_day(dt.date.fromisoformat(day), settings.shop_landing_root / day, orders=50)
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions.merge(shop.defs, dg.Definitions(resources=build_resources(settings)))
    result = defs.resolve_job_def("ecommerce_daily_batch").execute_in_process(
        instance=instance, partition_key=day, raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "shop_cleaned_tables"  # the first step that needs Spark; raw upload succeeded
    error = failure.event_specific_data.error
    while error.cause is not None:  # Dagster wraps the op's own error
        error = error.cause
    message = error.message.strip()
    assert "\n" not in message  # one line
    assert f"sc://127.0.0.1:{port}" in message and "shopflow services up spark-connect" in message

    run = instance.get_run_by_id(result.run_id)
    with smtp_server() as mailbox, webhook_server() as hook:
        evaluate_failure_sensor(instance, run, alert_resource(mailbox, hook))
    assert len(hook.posts) == 1 and len(mailbox.messages) == 1
    assert "shopflow services up spark-connect" in hook.posts[0]["error"]


# --- the streams on the warm driver: their batch functions run beside the server ------------------


@pytest.fixture
def stream_run(server):
    """A topic and lake prefix of this test's own, removed afterwards; the CLI runs attached to `server`."""
    from shopflow_assets.datagen.producer import ensure_topics

    settings = reload_settings().model_copy(update={"env": "docker"})
    run_id = uuid.uuid4().hex[:10]
    topic = f"shopflow_test_warm_{run_id}"
    ensure_topics({topic: 2})
    yield {"settings": settings, "topic": topic, "prefix": f"_tests/{run_id}", "server": server}
    remove_from_lake(settings, lake_namespace_prefixes(f"_tests/{run_id}", "events", "quarantine"))
    delete_topics(settings, [topic])


def _stream_on_warm_driver(flow: str, run: dict, tmp_path: Path, *extra: str) -> dict:
    env = {
        **os.environ,
        "SHOPFLOW_ENV": "docker",
        "SPARK_REMOTE": run["server"],
        "SHOPFLOW_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
    }
    command = [sys.executable, "-m", "shopflow_assets.cli", "stream", flow, "--once", "--quiet"]
    command += ["--topic", run["topic"], "--prefix", run["prefix"], *extra]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])["summary"]


def test_user_actions_on_the_warm_driver_account_for_every_record(stream_run, tmp_path):
    from shopflow_assets.datagen.events import ActionOptions, Ratios, action_stream
    from shopflow_assets.datagen.producer import Pace, send
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.resources.spark import get_spark_session

    count = 20_000
    options = ActionOptions(
        topic=stream_run["topic"], seed=13, count=count, ratios=Ratios(duplicate_rate=0.01, bad_rate=0.03)
    )
    manifest = send("actions", action_stream(options), pace=Pace(), count=count, progress=False)
    bad = manifest.totals().bad
    assert manifest.delivered == count and bad > 0

    summary = _stream_on_warm_driver("actions", stream_run, tmp_path, "--max-offsets-per-trigger", "6000")
    assert summary["accounted"] and summary["batches"] >= 4  # several batches, each counted beside the server
    assert (summary["records_in"], summary["written"], summary["dead_lettered"]) == (count, count - bad, bad)
    assert sum(summary["dead_letter_reasons"].values()) == bad

    settings, prefix = stream_run["settings"], stream_run["prefix"]
    lake = build_lake(settings)
    spark = get_spark_session(settings)  # the test reads with its own in-process session
    assert spark.read.parquet(lake.spark_uri("events", f"{prefix}/user_actions")).count() == count - bad
    letters = spark.read.parquet(lake.spark_uri("quarantine", f"{prefix}/dead_letter/user_actions"))
    assert letters.count() == bad


def test_page_views_on_the_warm_driver_count_each_original_once(stream_run, tmp_path):
    from shopflow_assets.datagen.events import ClickOptions, Ratios, click_stream
    from shopflow_assets.datagen.producer import Pace, send
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.resources.spark import get_spark_session

    count = 4_000
    options = ClickOptions(
        topic=stream_run["topic"],
        seed=17,
        count=count,
        events_per_second=10,
        ratios=Ratios(duplicate_rate=0.05, bad_rate=0.02, late_rate=0.0),
    )
    manifest = send("clicks", click_stream(options), pace=Pace(), count=count, progress=False)
    totals = manifest.totals()
    assert manifest.delivered == count and totals.bad > 0 and totals.duplicates > 0

    # One batch: no watermark yet, so every valid original counts once and every duplicate is dropped.
    summary = _stream_on_warm_driver("page-views", stream_run, tmp_path)
    assert summary["accounted"]
    assert summary["written"] == totals.originals
    assert (summary["dead_lettered"], summary["duplicates"], summary["dropped_late"]) == (
        totals.bad,
        totals.duplicates,
        0,
    )
    assert summary["windows_upserted"] > 0

    settings, prefix = stream_run["settings"], stream_run["prefix"]
    lake = build_lake(settings)
    spark = get_spark_session(settings)
    table = spark.read.format("delta").load(lake.spark_uri("lakehouse", f"{prefix}/fact_page_views"))
    assert table.agg({"views": "sum"}).first()[0] == totals.originals
    assert table.count() == summary["windows_upserted"]
