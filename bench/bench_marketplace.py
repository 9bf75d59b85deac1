"""Wall time and peak memory of the Olist lakehouse: bronze -> silver -> gold at scale 1 (~100k orders).

    uv run python bench/bench_marketplace.py [--scale 1.0]

Needs the services (`shopflow services up`). Generates the nine CSVs, sends the five topics flat out
(timed apart: producing is the source, not the pipeline), then times what the target is about:
Kafka -> bronze (bounded streams), CSV -> bronze, bronze -> silver (foreachBatch + MERGE), dbt gold.
Everything lands under its own namespace (`lakehouse/bench-<id>/...`, topics `raw_*_bench<id>`) and a
warehouse file of its own. Peak memory = the highest summed RSS of this process and its children (the
Spark JVM, dbt), sampled every 0.2 s. Target: bronze -> gold under 5 minutes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from harness import Figure, PeakMemory, record

TARGET_SECONDS = 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_marketplace_"))
    os.environ["SHOPFLOW_DUCKDB_PATH"] = str(work / "warehouse.duckdb")

    import datetime as dt

    from shopflow_assets.datagen.events import OlistOptions, OlistStream, Ratios
    from shopflow_assets.datagen.olist import generate_olist
    from shopflow_assets.datagen.producer import Pace, ensure_topics, send
    from shopflow_assets.domains.marketplace.gold import run_dbt_olist
    from shopflow_assets.domains.marketplace.pipeline import (
        MarketplaceLake,
        build_silver,
        ingest_bronze,
        load_batch_bronze,
    )
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.resources.spark import get_spark_session
    from shopflow_assets.settings import reload_settings

    settings = reload_settings()
    run_id = uuid.uuid4().hex[:8]
    csv_dir = work / "olist"
    started = time.perf_counter()
    manifest = generate_olist(csv_dir, scale=args.scale, seed=42)
    print(f"generated {manifest.rows} in {time.perf_counter() - started:.1f} s")

    options = OlistOptions(
        source=csv_dir,
        topic_suffix=f"bench{run_id}",
        update_rate=0.02,
        ratios=Ratios(duplicate_rate=0.02, late_rate=0.05, bad_rate=0.001),
    )
    ensure_topics({options.topic(t): 2 for t in options.tables})
    started = time.perf_counter()
    sent = send(
        "olist",
        OlistStream(options).chunks(lambda: dt.datetime.now(dt.UTC).timestamp()),
        pace=Pace(),
        progress=False,
    )
    print(f"produced {sent.produced} messages flat out in {time.perf_counter() - started:.1f} s")

    lake = MarketplaceLake(build_lake(settings).uri, f"bench-{run_id}")
    memory = PeakMemory()
    memory.start()
    timings: dict[str, float] = {}

    def timed(name, action):
        begin = time.perf_counter()
        result = action()
        timings[name] = time.perf_counter() - begin
        print(f"  {name:<28} {timings[name]:7.1f} s")
        return result

    total_start = time.perf_counter()
    spark = timed("spark session", get_spark_session)
    bronze = timed(
        "kafka -> bronze (5 streams)",
        lambda: ingest_bronze(spark, lake, settings.kafka_bootstrap_servers, topic_suffix=f"bench{run_id}"),
    )
    batch = timed("csv -> bronze (4 files)", lambda: load_batch_bronze(spark, lake, csv_dir))
    silver = timed("bronze -> silver (MERGE)", lambda: build_silver(spark, lake))
    timed(
        "dbt build (gold + tests)",
        lambda: run_dbt_olist("build", lake.duckdb_lakehouse_root, settings, work / "dbt_target"),
    )
    total = time.perf_counter() - total_start
    peak = memory.stop()

    print(
        f"scale {args.scale}: {manifest.rows.get('olist_orders_dataset.csv')} orders, "
        f"{sum(c.messages for c in bronze.values())} messages, "
        f"{sum(c.dead_letters for c in bronze.values())} dead letters, batch rows { ({name: load.rows for name, load in batch.items()}) }"
    )
    print("silver:", {name: counts["newest_versions"] for name, counts in silver.items()})
    record(
        "marketplace",
        [
            Figure("bronze -> silver -> gold wall time", total, "s", TARGET_SECONDS),
            Figure("peak RSS (python + Spark JVM + dbt)", peak / 2**30, "GiB"),
        ],
        scale=args.scale,
        orders=manifest.rows.get("olist_orders_dataset.csv"),
        steps_seconds=timings,
    )
    print(f"lake namespace: {lake.uri('lakehouse', lake.namespace)}; work dir {work}")


if __name__ == "__main__":
    main()
