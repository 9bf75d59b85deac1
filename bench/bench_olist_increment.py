"""Wall time of `dagster job execute -j olist_pipeline` for an increment of Olist orders, as a user runs it.

    uv run python bench/bench_olist_increment.py [--orders 10000] [--base-orders 10000]

Needs the services (`shopflow services up`). Everything runs under its own topics (`raw_*_<id>`), lake
namespace and warehouse file. Two runs of the job's CLI, each a new process with the default executor
(what a schedule, Airflow or a terminal starts): the first loads a base of `--base-orders` orders into
empty tables; then an increment of `--orders` new orders (about 6.7 messages each: the order, its items,
payments, reviews and customer) is produced and the second run, the figure, merges it into the existing
bronze, silver and gold. Target: the increment's run <= 45 s on the 2-core project machine.
Producing is timed apart (it is the source, not the pipeline).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from harness import Figure, PeakMemory, record

TARGET_SECONDS = 45
OLIST_SCALE_ORDERS = 99_441  # orders of generate_olist at scale 1
JOB_OPS = ("marketplace__olist_topic_offsets", "olist_bronze_streams", "olist_silver", "olist_dbt_models")


def produce(csv_dir: Path, suffix: str) -> int:
    from shopflow_assets.datagen.events import OlistOptions, OlistStream, Ratios
    from shopflow_assets.datagen.producer import Pace, ensure_topics, send

    options = OlistOptions(source=csv_dir, topic_suffix=suffix, ratios=Ratios(0.02, 0.05, 0.001))
    ensure_topics({options.topic(t): 2 for t in options.tables})
    sent = send(
        "olist",
        OlistStream(options).chunks(lambda: dt.datetime.now(dt.UTC).timestamp()),
        pace=Pace(),
        progress=False,
    )
    return sent.produced


def run_job(work: Path, config: dict, env: dict[str, str], label: str) -> float:
    """`dagster job execute` in a new process; its wall time (import of the code location included)."""
    config_file = work / f"{label}.json"
    config_file.write_text(json.dumps(config))
    dagster = Path(sys.executable).with_name("dagster")
    argv = [str(dagster), "job", "execute", "-m", "shopflow_assets.definitions", "-j", "olist_pipeline"]
    started = time.perf_counter()
    done = subprocess.run([*argv, "-c", str(config_file)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    (work / f"{label}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"bench_olist_increment: the {label} run failed; log in {work / f'{label}.log'}")
    print(f"  {label:<32} {seconds:7.1f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders in the timed increment")
    parser.add_argument("--base-orders", type=int, default=10_000, help="orders loaded by the first run")
    args = parser.parse_args()

    from shopflow_assets.datagen.olist import generate_olist
    from shopflow_assets.settings import export_env_files

    export_env_files()
    work = Path(tempfile.mkdtemp(prefix="bench_olist_increment_"))
    run_id = uuid.uuid4().hex[:8]
    suffix = f"bench{run_id}"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(work / "dagster_home"),
        "SHOPFLOW_DUCKDB_PATH": str(work / "warehouse.duckdb"),
    }
    Path(env["DAGSTER_HOME"]).mkdir()
    op_config = {"namespace": f"bench-{run_id}", "topic_suffix": suffix}
    config = {"ops": {name: {"config": op_config} for name in JOB_OPS}}

    base_dir, increment_dir = work / "base", work / "increment"
    generate_olist(base_dir, scale=args.base_orders / OLIST_SCALE_ORDERS, seed=11)
    # Another seed: other customers, orders and ids, so the increment is new rows, not updates.
    increment = generate_olist(increment_dir, scale=args.orders / OLIST_SCALE_ORDERS, seed=12)
    batch_files = {"olist_bronze_batch": {"config": op_config | {"csv_dir": str(base_dir)}}}

    started = time.perf_counter()
    base_messages = produce(base_dir, suffix)
    print(f"base: {base_messages:,} messages produced in {time.perf_counter() - started:.1f} s")
    base_seconds = run_job(work, {"ops": config["ops"] | batch_files}, env, "first run (base)")

    started = time.perf_counter()
    messages = produce(increment_dir, suffix)
    print(f"increment: {messages:,} messages produced in {time.perf_counter() - started:.1f} s")
    memory = PeakMemory()
    memory.start()
    seconds = run_job(work, {"ops": config["ops"] | batch_files}, env, "increment run")
    peak = memory.stop()

    record(
        "olist_increment",
        [
            Figure(
                "olist_pipeline run for the increment (dagster job execute)", seconds, "s", TARGET_SECONDS
            ),
            Figure("first run on empty tables", base_seconds, "s"),
            Figure("peak RSS of the increment run (job process tree)", peak / 2**30, "GiB"),
        ],
        increment_orders=increment.rows.get("olist_orders_dataset.csv"),
        increment_messages=messages,
        base_messages=base_messages,
        work_dir=str(work),
    )


if __name__ == "__main__":
    main()
