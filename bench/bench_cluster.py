"""Sizing table: shop partition time and user-action events/s against Spark cores and executors.

Runs what a user runs (`shopflow run shop`, `shopflow stream actions --once`, as subprocesses) in each
layout: local[1], local[2], and a native standalone cluster of 1 and 2 single-core workers
(`shopflow spark cluster up`). Needs `shopflow services up` (Kafka and MinIO for the stream).
Usage: uv run python bench/bench_cluster.py [--orders 200000] [--events 500000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from harness import Figure, record

from shopflow_assets.datagen.events import ActionOptions, action_stream
from shopflow_assets.datagen.producer import Pace, ensure_topics, send
from shopflow_assets.datagen.shop import generate_shop_day
from shopflow_assets.settings import PROJECT_ROOT, get_settings

DAY = dt.date(2025, 9, 1)
LAYOUTS = (("local[1]", 0), ("local[2]", 0), ("cluster 1x1", 1), ("cluster 2x1", 2))


def cli(env: dict[str, str], *args: str) -> tuple[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "shopflow_assets.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"shopflow {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=500_000)
    args = parser.parse_args()
    settings = get_settings()
    figures: list[Figure] = []
    rows: dict[str, dict[str, float]] = {}
    for layout, workers in LAYOUTS:
        home = Path(tempfile.mkdtemp(prefix="shopflow-bench-cluster-"))
        shutil.copy(settings.home / "generated.env", home / "generated.env")
        env = {**os.environ, "SHOPFLOW_HOME": str(home)}
        try:
            if workers:
                env |= {"SPARK_WORKER_CORES": "1", "SPARK_WORKER_MEMORY": "2g"}
                cli(env, "spark", "cluster", "up", "--workers", str(workers))
                printed, _ = cli(env, "spark", "cluster", "env")
                env |= dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines())
            else:
                env["SPARK_MASTER"] = layout
            generate_shop_day(DAY, home / "incoming" / "shop" / DAY.isoformat(), orders=args.orders, seed=1)
            _, shop_seconds = cli({**env, "SHOPFLOW_ENV": "local"}, "run", "shop", "--date", DAY.isoformat())
            topic = f"bench_cluster_{uuid.uuid4().hex[:8]}"
            ensure_topics({topic: 2})
            send(
                "actions",
                action_stream(ActionOptions(topic=topic, count=args.events)),
                pace=Pace(),
                count=args.events,
                progress=False,
            )
            out, stream_seconds = cli(
                {**env, "SHOPFLOW_ENV": "docker"},
                "stream",
                "actions",
                "--once",
                "--quiet",
                "--topic",
                topic,
                "--prefix",
                f"_bench/{topic}",
            )
            records = json.loads(out.strip().splitlines()[-1])["summary"]["records_in"]
        finally:
            if workers:
                cli(env, "spark", "cluster", "down", "--workers", str(workers))
            shutil.rmtree(home, ignore_errors=True)
        rows[layout] = {
            "shop_partition_s": shop_seconds,
            "user_actions_events_per_s": records / stream_seconds,
        }
        figures += [
            Figure(f"{layout}: shop partition ({args.orders:,} orders), whole CLI run", shop_seconds, "s"),
            Figure(
                f"{layout}: user actions ({args.events:,}), whole CLI run",
                records / stream_seconds,
                "events/s",
                better="higher",
            ),
        ]
        print(
            f"{layout:<12} shop {shop_seconds:6.1f} s   actions {records / stream_seconds:9,.0f} events/s",
            flush=True,
        )
    record("cluster", figures, orders=args.orders, events=args.events, table=rows)


if __name__ == "__main__":
    main()
