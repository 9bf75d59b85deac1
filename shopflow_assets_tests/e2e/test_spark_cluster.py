"""Past one machine: the shop partition and a bounded user-action run go through a real Spark standalone
cluster (a master, two worker JVMs, a history server) started natively by `shopflow spark cluster up`.

Everything runs as a user would: CLI subprocesses whose driver gets the variables `cluster env` prints.
The cluster lives under its own SHOPFLOW_HOME on free ports, so it never meets another cluster.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from decimal import Decimal

import duckdb
import pytest

from shopflow_assets.datagen.events import ActionOptions, Ratios, action_stream
from shopflow_assets.datagen.producer import Pace, ensure_topics, send
from shopflow_assets.datagen.shop import generate_shop_day
from shopflow_assets.settings import PROJECT_ROOT, get_settings

pytestmark = pytest.mark.slow

DAY = dt.date(2025, 8, 1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cli(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "shopflow_assets.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"shopflow {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _master(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    settings = get_settings()
    if settings.aws_access_key_id is None:
        pytest.fail("no service credentials: run `uv run shopflow services up` first")
    home = tmp_path_factory.mktemp("cluster_home")
    shutil.copy(settings.home / "generated.env", home / "generated.env")
    ui_port = _free_port()
    env = {
        **os.environ,
        "SHOPFLOW_HOME": str(home),
        "SHOPFLOW_ENV": "local",
        "SPARK_STANDALONE_PORT": str(_free_port()),
        "SPARK_MASTER_WEBUI_PORT": str(ui_port),
        "SPARK_HISTORY_PORT": str(_free_port()),
        "SPARK_WORKER_CORES": "1",
        "SPARK_WORKER_MEMORY": "1g",
        "SPARK_DRIVER_MEMORY": "1g",
    }
    _cli(env, "spark", "cluster", "up", "--workers", "2", timeout=300)
    try:
        printed = _cli(env, "spark", "cluster", "env")
        driver = dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines())
        yield {"env": {**env, **driver}, "home": home, "ui_port": ui_port}
    finally:
        _cli(env, "spark", "cluster", "down", "--workers", "2", timeout=120)
    state_after = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True).stdout.split()
    assert state_after == [], "cluster processes survived `spark cluster down`"


def _apps(ui_port: int) -> list[dict]:
    state = _master(ui_port)
    return state["activeapps"] + state["completedapps"]


def test_two_workers_register_with_the_master(cluster):
    state = _master(cluster["ui_port"])
    alive = [worker for worker in state["workers"] if worker["state"] == "ALIVE"]
    assert len(alive) == 2 and state["cores"] == 2


def test_the_shop_partition_runs_on_the_cluster_and_matches_the_generator(cluster):
    env = cluster["env"]
    landing = cluster["home"] / "incoming" / "shop" / DAY.isoformat()
    manifest = generate_shop_day(DAY, landing, orders=3000, seed=5)
    before = {app["id"] for app in _apps(cluster["ui_port"])}
    _cli(env, "run", "shop", "--date", DAY.isoformat())

    new_apps = [app for app in _apps(cluster["ui_port"]) if app["id"] not in before]
    assert new_apps and all(app["cores"] == 2 for app in new_apps)  # executors on both workers
    dirty = {row.row for row in manifest.dirty_rows_of("Orders.csv")}
    with (landing / "Orders.csv").open(newline="") as handle:
        expected = sum(
            (
                Decimal(r["total_amount"])
                for n, r in enumerate(csv.DictReader(handle), start=1)
                if n not in dirty
            ),
            Decimal(0),
        )
    with duckdb.connect(str(cluster["home"] / "warehouse.duckdb"), read_only=True) as conn:
        (revenue,) = conn.execute(
            "select sum(total_amount) from fact_orders where order_date = ?", [DAY]
        ).fetchone()
    assert revenue == expected
    events = list((cluster["home"] / "services" / "spark-events").iterdir())
    assert events, "the driver wrote no event log for the history server"


def test_a_bounded_user_action_run_goes_through_the_cluster(cluster):
    topic = f"cluster_actions_{uuid.uuid4().hex[:8]}"
    count = 20_000
    ensure_topics({topic: 2})
    options = ActionOptions(
        topic=topic, seed=3, count=count, ratios=Ratios(duplicate_rate=0.0, bad_rate=0.01)
    )
    manifest = send("actions", action_stream(options), pace=Pace(), count=count, progress=False)
    assert manifest.delivered == count
    before = {app["id"] for app in _apps(cluster["ui_port"])}
    started = time.monotonic()
    out = _cli(
        {**cluster["env"], "SHOPFLOW_ENV": "docker"},
        "stream",
        "actions",
        "--once",
        "--quiet",
        "--topic",
        topic,
        "--prefix",
        f"_tests/cluster-{topic}",
    )
    summary = json.loads(out.strip().splitlines()[-1])["summary"]
    assert summary["accounted"] and summary["records_in"] == count
    assert summary["written"] + summary["dead_lettered"] == count
    assert summary["dead_lettered"] == manifest.totals().bad
    assert [app for app in _apps(cluster["ui_port"]) if app["id"] not in before]
    assert time.monotonic() - started < 600
