"""The fixed cost a user pays per run: a near-empty run through `dagster job execute`, cold and warm.

    uv run python bench/bench_run_overhead.py [--runs 3] [--orders 100]

A shop partition of 100 orders (`ecommerce_daily_batch`: raw upload, Spark cleaning, star schema, checks,
dbt gold) is executed as a user's CI or a sensor-launched run does it: a new `dagster job execute`
process that loads the code location. Two ways, alternated run by run so a drifting machine affects both
alike:
- cold: SHOPFLOW_WARM_DRIVER=off, each Spark step starts its own JVM (the embedded default);
- warm: SHOPFLOW_WARM_DRIVER=on, each Spark step attaches to the stack's Spark Connect server
  (`shopflow services up spark-connect` must be running).
The shop's lake is a directory and the warehouse a DuckDB file (SHOPFLOW_ENV=local), so that figure is
start-up, not S3 traffic. Then the same for a sensor-sized page-view run (`page_views_stream`, 20 clicks
on a topic of the bench's own, each run under its own key prefix) on the stack (Kafka, MinIO). Also
timed: importing the code location in a fresh interpreter. Target: <= 10 s for a Spark job on the warm
driver. Figures go to bench/out/run_overhead.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Figure, record

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_SPARK_JOB_SECONDS = 10
TARGET_IMPORT_SECONDS = 3
JOB = "ecommerce_daily_batch"


def _env(home: Path, warm: bool) -> dict[str, str]:
    env = {
        **os.environ,
        "SHOPFLOW_HOME": str(home),
        "SHOPFLOW_ENV": "local",
        "SHOPFLOW_WARM_DRIVER": "on" if warm else "off",
        "DAGSTER_HOME": str(home / "dagster"),
    }
    env.pop("SPARK_REMOTE", None)
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    return env


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bench_run_overhead: {' '.join(argv[:4])} failed:\n{result.stderr[-3000:]}")
    return seconds


def _page_view_runs(base: Path, runs: int) -> dict[str, list[float]]:
    """`dagster job execute -j page_views_stream` over 20 clicks, cold and warm alternated, on the stack."""
    import uuid

    import yaml

    from shopflow_assets.datagen.producer import ensure_topics
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.settings import get_settings

    bench_id = uuid.uuid4().hex[:8]
    topic = f"shopflow_bench_overhead_{bench_id}"
    ensure_topics({topic: 1})
    _produce_clicks(topic, 20)
    timings: dict[str, list[float]] = {"cold": [], "warm": []}
    argv = [
        str(BIN / "dagster"),
        "job",
        "execute",
        "-m",
        "shopflow_assets.definitions",
        "-j",
        "page_views_stream",
    ]
    try:
        for index in range(runs * 2):
            way = ("cold", "warm")[index % 2]
            home = base / f"clicks-{way}-{index}"
            env = _env(home, warm=way == "warm") | {
                "SHOPFLOW_ENV": "docker",
                "SHOPFLOW_HOME": os.environ.get("SHOPFLOW_HOME", str(PROJECT_ROOT / ".shopflow")),
                "SHOPFLOW_DUCKDB_PATH": str(home / "warehouse.duckdb"),
            }
            config = home / "run.yaml"
            op_config = {"topic": topic, "key_prefix": f"_bench/{bench_id}/{index}"}
            config.write_text(
                yaml.safe_dump({"ops": {"clickstream__fact_page_views": {"config": op_config}}})
            )
            seconds = _timed([*argv, "-c", str(config)], env)
            timings[way].append(seconds)
            print(f"  page_views_stream run {index} {way:<4} {seconds:6.1f} s", flush=True)
    finally:
        lake = build_lake(get_settings().model_copy(update={"env": "docker"}))
        for bucket in ("lakehouse", "quarantine"):
            for prefix in (f"_bench/{bench_id}/", f"_checkpoints/_bench/{bench_id}/"):
                for key in lake.list_keys(bucket, prefix):
                    lake.client.delete_object(Bucket=bucket, Key=key)
    return timings


def _produce_clicks(topic: str, count: int) -> None:
    import datetime as dt_
    import json as json_

    from confluent_kafka import Producer

    from shopflow_assets.resources.kafka import kafka_client_config
    from shopflow_assets.settings import get_settings

    producer = Producer(kafka_client_config(get_settings(), "producer"))
    now = dt_.datetime.now(dt_.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    for i in range(count):
        event = {"event_id": f"bench-{i}", "user_id": f"u{i % 5}", "url": f"/p/{i % 3}", "timestamp": now}
        producer.produce(topic, value=json_.dumps(event).encode())
    producer.flush(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each way (default 3)")
    # A handful of orders: one order alone can be a dirty row, and a day that quarantines most of its rows
    # fails its blocking check, as it should.
    parser.add_argument("--orders", type=int, default=100)
    args = parser.parse_args()

    from shopflow_assets.datagen.shop import generate_shop_day
    from shopflow_assets.devstack.spark_connect import remote_url
    from shopflow_assets.resources.spark import require_connect_server
    from shopflow_assets.settings import get_settings

    require_connect_server(remote_url(get_settings()))
    base = Path(tempfile.mkdtemp(prefix="shopflow-overhead-"))
    timings: dict[str, list[float]] = {"cold": [], "warm": []}
    first_day = dt.date(2025, 2, 1)
    for index in range(args.runs * 2):
        way = ("cold", "warm")[index % 2]
        day = first_day + dt.timedelta(days=index)
        home = base / f"{way}-{index}"
        env = _env(home, warm=way == "warm")
        generate_shop_day(day, home / "incoming" / "shop" / day.isoformat(), orders=args.orders)
        tags = json.dumps({"dagster/partition": day.isoformat()})
        argv = [str(BIN / "dagster"), "job", "execute", "-m", "shopflow_assets.definitions", "-j", JOB]
        seconds = _timed([*argv, "--tags", tags], env)
        timings[way].append(seconds)
        print(f"  {JOB} {day} {way:<4} {seconds:6.1f} s", flush=True)

    clicks = _page_view_runs(base, args.runs)
    imports = [
        _timed([sys.executable, "-c", "import shopflow_assets.definitions"], _env(base / "import", False))
        for _ in range(5)
    ]
    cold, warm = statistics.median(timings["cold"]), statistics.median(timings["warm"])
    clicks_cold, clicks_warm = statistics.median(clicks["cold"]), statistics.median(clicks["warm"])
    record(
        "run_overhead",
        [
            Figure(
                "page_views_stream, 20 clicks, warm driver (median)",
                clicks_warm,
                "s",
                TARGET_SPARK_JOB_SECONDS,
            ),
            Figure("page_views_stream, 20 clicks, own JVM per step (median)", clicks_cold, "s"),
            Figure(f"{JOB}, {args.orders} orders, warm driver (median)", warm, "s", TARGET_SPARK_JOB_SECONDS),
            Figure(f"{JOB}, {args.orders} orders, own JVM per step (median)", cold, "s"),
            Figure("warm / cold", warm / cold, "ratio"),
            Figure(
                "import shopflow_assets.definitions (median of 5)",
                statistics.median(imports),
                "s",
                TARGET_IMPORT_SECONDS,
            ),
        ],
        runs=timings,
        page_view_runs=clicks,
        imports=imports,
        orders=args.orders,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
