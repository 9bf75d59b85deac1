"""SparkSession start-up and a tiny Delta round trip, with the jars already cached.

    uv run python bench/bench_spark_start.py [--rows 10000]

Prints: cold start (first session in this fresh process: JVM launch + Delta/S3A classes), reuse
(`get_spark_session()` again), restart (stop, then a new session in the same process/JVM), a tiny
Delta write and read in a temporary local directory, and DuckDB's read of the same table.
Run it alone: it measures wall time on a shared machine, so other work skews the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from contextlib import contextmanager


@contextmanager
def timed(label: str, results: dict[str, float]):
    started = time.perf_counter()
    yield
    results[label] = time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from shopflow_assets.resources.spark import get_spark_session, stop_spark_session
    from shopflow_assets.resources.spark_jars import ensure_spark_jars
    from shopflow_assets.resources.warehouse import connect_warehouse
    from shopflow_assets.settings import Settings, get_settings

    console = Console()
    settings = get_settings()
    ensure_spark_jars(settings)  # not timed: the bench measures starts with the jars cached
    results: dict[str, float] = {}

    with (
        console.status("cold SparkSession start ..."),
        timed("cold start (fresh process, jars cached)", results),
    ):
        spark = get_spark_session(settings)
    with timed("reuse (get_spark_session again)", results):
        assert get_spark_session(settings) is spark
    with console.status("restart in the same process ..."):
        stop_spark_session()
        with timed("restart (stop + new session, same JVM)", results):
            spark = get_spark_session(settings)

    workdir = tempfile.mkdtemp(prefix="bench-spark-")
    path = os.path.join(workdir, "orders")
    frame = spark.range(args.rows).selectExpr(
        "id as order_id", "id % 97 as user_id", "cast(id * 1.5 as double) as amount"
    )
    with console.status("Delta write/read ..."):
        with timed(f"Delta write, {args.rows:,} rows (local dir)", results):
            frame.write.format("delta").save(f"file://{path}")
        with timed("Delta read + count + sum", results):
            row = (
                spark.read.format("delta")
                .load(f"file://{path}")
                .selectExpr("count(*)", "sum(amount)")
                .first()
            )
        with (
            timed("DuckDB delta_scan of the same table", results),
            connect_warehouse(Settings(_env_file=None, SHOPFLOW_HOME=workdir)) as duck,
        ):
            duck_row = duck.execute(f"select count(*), sum(amount) from delta_scan('{path}')").fetchone()  # nosec B608 # the bench's own temporary path
    assert (row[0], row[1]) == duck_row, (row, duck_row)
    stop_spark_session()
    shutil.rmtree(workdir, ignore_errors=True)

    table = Table(
        "step",
        "seconds",
        title=f"Spark start-up ({settings.spark_master}, driver {settings.spark_driver_memory})",
    )
    for label, seconds in results.items():
        table.add_row(label, f"{seconds:.2f}")
    console.print(table)
    console.print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")


if __name__ == "__main__":
    main()
