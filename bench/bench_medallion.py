"""Wall time and peak memory of the rainforest medallion, source -> interface, for one day of orders.

    uv run python bench/bench_medallion.py [--orders 100000] [--date 2026-11-15]

Needs the services (`shopflow services up`). Generates the day into a schema of its own in the
`rainforest` database (timed apart: generating is the source, not the pipeline), then times what the
target is about, in one process with one Spark session: extraction (read-only role) -> bronze -> silver
-> gold -> the blocking checks -> publication of the two report views into a warehouse file of its own.
Peak memory = the highest summed RSS of this process and its children (the Spark JVM), sampled every
0.2 s. Target: <= 90 s. Figures are printed against the target and kept in bench/out/medallion.json
(with the load average, since the machine may be shared) by the shared bench harness.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
from pathlib import Path

from harness import Figure, PeakMemory, record

TARGET_SECONDS = 90


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the day (default 100,000)")
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 15))
    args = parser.parse_args()

    run_id = uuid.uuid4().hex[:8]
    os.environ["SHOPFLOW_DUCKDB_PATH"] = str(Path(tempfile.mkdtemp(prefix="bench-medallion-")) / "wh.duckdb")

    from psycopg import sql

    from shopflow_assets.contracts.rainforest import REPORTS, SOURCE_DATABASE
    from shopflow_assets.datagen.rainforest import generate_rainforest
    from shopflow_assets.domains.rainforest import pipeline
    from shopflow_assets.domains.rainforest.assets import key
    from shopflow_assets.domains.rainforest.checks import evaluate_gold_checks
    from shopflow_assets.domains.rainforest.publish import publish_reports
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.resources.postgres import PostgresResource
    from shopflow_assets.resources.spark import get_spark_session, stop_spark_session
    from shopflow_assets.resources.warehouse import connect_warehouse
    from shopflow_assets.settings import get_settings

    settings = get_settings()
    schema = f"bench_{run_id}"
    namespace = f"bench-{run_id}"
    owner = PostgresResource.from_settings(settings, "owner", SOURCE_DATABASE).process_config_and_initialize()
    reader = PostgresResource.from_settings(
        settings, "reader", SOURCE_DATABASE
    ).process_config_and_initialize()
    s3 = build_lake(settings.model_copy(update={"env": "docker"}))
    lake = pipeline.RainforestLake(s3.uri, namespace)
    day = args.date

    started = time.perf_counter()
    with owner.connect() as conn:
        report = generate_rainforest(
            conn, day, 1, args.orders, schema=schema, reader_role=settings.postgres_reader_user
        )
    generate_s = time.perf_counter() - started
    print(f"generated {sum(report.rows.values()):,} source rows in {generate_s:.1f} s (not timed below)")

    memory = PeakMemory()
    memory.start()
    steps: dict[str, float] = {}

    def timed(name, action):
        t0 = time.perf_counter()
        value = action()
        steps[name] = round(time.perf_counter() - t0, 2)
        print(f"  {name:<22} {steps[name]:>7.1f} s")
        return value

    try:
        t_total = time.perf_counter()
        spark = timed("spark_start", get_spark_session)
        with reader.connect() as conn:
            rows = timed(
                "source_to_bronze",
                lambda: pipeline.extract_bronze(spark, conn, lake, day, day, schema=schema),
            )
        timed("bronze_to_silver", lambda: pipeline.build_silver(spark, lake, day, day))
        gold = timed("silver_to_gold", lambda: pipeline.build_gold(spark, lake, day, day))
        checks = timed("checks", lambda: evaluate_gold_checks(spark, lake, day, day, key))
        failed = [c.check_name for c in checks if not c.passed]
        if failed:
            raise SystemExit(f"checks failed, nothing published: {failed}")

        def publish():
            reports = {
                view: pipeline.gold_days(spark, lake, report.gold, day, day).toArrow()
                for view, report in REPORTS.items()
            }
            with connect_warehouse() as con:
                return publish_reports(con, reports, day, day)

        published = timed("publish_interface", publish)
        total = time.perf_counter() - t_total
    finally:
        peak = memory.stop()
        stop_spark_session()
        with owner.connect() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        for object_key in s3.list_keys("lakehouse", f"{namespace}/"):
            s3.client.delete_object(Bucket="lakehouse", Key=object_key)

    load = os.getloadavg()
    record(
        "medallion",
        [
            Figure("source -> interface wall time (1 day)", total, "s", TARGET_SECONDS),
            *[Figure(f"step {name}", seconds, "s") for name, seconds in steps.items()],
            Figure("peak RSS (python + Spark JVM)", peak / 2**30, "GiB"),
        ],
        orders=args.orders,
        source_rows_extracted=sum(rows.values()),
        order_items=rows["order_items"],
        click_events=rows["clickstream"],
        gold_rows=gold,
        published_rows=published,
        generate_seconds=round(generate_s, 1),
        load_average_1_5_15=[round(x, 2) for x in load],
    )


if __name__ == "__main__":
    main()
