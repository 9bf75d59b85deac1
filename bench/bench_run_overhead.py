"""The fixed cost a user pays per run: a near-empty run through `dagster job execute`, cold and warm.

    uv run python bench/bench_run_overhead.py [--runs 3] [--orders 1]

A shop partition of one order (`ecommerce_daily_batch`: raw upload, Spark cleaning, star schema, checks,
dbt gold) is executed as a user's CI or a sensor-launched run does it: a new `dagster job execute`
process that loads the code location. Two ways, alternated run by run so a drifting machine affects both
alike:
- cold: SHOPFLOW_WARM_DRIVER=off, each Spark step starts its own JVM (the embedded default);
- warm: SHOPFLOW_WARM_DRIVER=on, each Spark step attaches to the stack's Spark Connect server
  (`shopflow services up spark-connect` must be running).
The lake is a directory and the warehouse a DuckDB file (SHOPFLOW_ENV=local), so the figure is start-up,
not S3 traffic. Also timed: importing the code location in a fresh interpreter. Target: <= 10 s for a
Spark job on the warm driver. Figures go to bench/out/run_overhead.json.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each way (default 3)")
    parser.add_argument("--orders", type=int, default=1)
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

    imports = [
        _timed([sys.executable, "-c", "import shopflow_assets.definitions"], _env(base / "import", False))
        for _ in range(5)
    ]
    cold, warm = statistics.median(timings["cold"]), statistics.median(timings["warm"])
    record(
        "run_overhead",
        [
            Figure(f"{JOB}, {args.orders} order, warm driver (median)", warm, "s", TARGET_SPARK_JOB_SECONDS),
            Figure(f"{JOB}, {args.orders} order, own JVM per step (median)", cold, "s"),
            Figure("warm / cold", warm / cold, "ratio"),
            Figure(
                "import shopflow_assets.definitions (median of 5)",
                statistics.median(imports),
                "s",
                TARGET_IMPORT_SECONDS,
            ),
        ],
        runs=timings,
        imports=imports,
        orders=args.orders,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
