"""Where one warm user-action micro-batch spends its time, stage by stage (docs/streaming.md, "Where the time goes").

Produces --events user actions (1% bad, 1% duplicates) to a fresh topic, then, in one warm Spark session,
times the stages of `write_user_action_batch` on that batch read as a bounded Kafka batch: each stage is
run --repeat times after one full warm-up batch, and the table gives the median and the fastest run. A
stage's own cost is its row minus the row it builds on; filling the cache is what the whole batch (8)
costs beyond the parse (3) and the two writes from the cache (6, 7). Spark's generated code, the Kafka fetch, the
cache and the Parquet write through S3A to MinIO are the same as in the streaming query; what the query
adds (offset planning, the commit log) is the difference to bench_streaming's per-batch time.

Needs `shopflow services up`. Writes under bench/<id>/ keys and a bench topic; leaves them for inspection.

    uv run python bench/profile_user_actions.py [--events 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable

from bench_streaming import produce_actions
from harness import Figure, record

os.environ.setdefault("SHOPFLOW_ENV", "docker")

from pyspark.sql import functions as F  # noqa: E402

from shopflow_assets.contracts import events as contract  # noqa: E402
from shopflow_assets.domains.events.pipeline import cache_batch, write_user_action_batch  # noqa: E402
from shopflow_assets.domains.events.transforms import (  # noqa: E402
    JSON_OPTIONS,
    TYPED_DDL,
    parse_user_actions,
    valid_user_actions,
)
from shopflow_assets.resources.lake import build_lake  # noqa: E402
from shopflow_assets.resources.spark import get_spark_session  # noqa: E402
from shopflow_assets.resources.streaming.parse import (  # noqa: E402
    dead_letter_frame,
    write_batch_partitioned_parquet,
)
from shopflow_assets.resources.streaming.source import kafka_records  # noqa: E402
from shopflow_assets.settings import get_settings  # noqa: E402


def timed(repeat: int, work: Callable[[int], object]) -> tuple[float, float]:
    """(median, fastest) seconds of `repeat` runs of work(i)."""
    seconds = []
    for i in range(repeat):
        started = time.perf_counter()
        work(i)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=2, help="topic partitions")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    settings = get_settings()
    lake = build_lake(settings)
    bench_id = uuid.uuid4().hex[:8]
    topic = f"bench_profile_actions_{bench_id}"
    produce_actions(topic, args.events, args.partitions)

    started = time.perf_counter()
    spark = get_spark_session(settings, app_name="bench-profile-user-actions")
    print(f"spark session: {time.perf_counter() - started:.1f} s")
    records = kafka_records(
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    local_dir = tempfile.mkdtemp(prefix="shopflow-profile-")
    key = f"bench/{bench_id}/profile"

    def minio(name: str, i: int) -> str:
        return lake.spark_uri("events", f"{key}/{name}/{i}")

    def noop(frame) -> None:
        frame.write.format("noop").mode("overwrite").save()

    def with_batch(frame, i: int):
        return frame.withColumn(contract.BATCH_COLUMN, F.lit(i).cast("long"))

    def whole_batch(i: int) -> None:
        write_user_action_batch(
            parse_user_actions(records), i, minio("batch", i), lake.spark_uri("quarantine", f"{key}/dl/{i}")
        )

    # Warm-up: one whole batch compiles the generated code this process will run.
    warm = time.perf_counter()
    whole_batch(1000)
    print(f"warm-up batch (cold JIT): {time.perf_counter() - warm:.1f} s")

    from_json_only = records.select("*", F.from_json(F.col("value"), TYPED_DDL, JSON_OPTIONS).alias("_j"))
    stages: list[tuple[str, Callable[[int], object]]] = [
        ("1 Kafka fetch (records -> noop)", lambda i: noop(records)),
        ("2 fetch + from_json only (-> noop)", lambda i: noop(from_json_only)),
        ("3 fetch + whole parse (-> noop)", lambda i: noop(parse_user_actions(records))),
    ]
    cache = cache_batch(parse_user_actions(records))  # filled after the stages above: they must not find it
    stages_on_cache: list[tuple[str, Callable[[int], object]]] = [
        ("4 cache -> valid rows -> noop", lambda i: noop(valid_user_actions(cache))),
        (
            "5 cache -> Parquet by event_date, local disk",
            lambda i: write_batch_partitioned_parquet(
                with_batch(valid_user_actions(cache), i),
                f"file://{local_dir}/{i}",
                contract.PARTITION_COLUMNS,
            ),
        ),
        (
            "6 cache -> Parquet by event_date, MinIO",
            lambda i: write_batch_partitioned_parquet(
                with_batch(valid_user_actions(cache), i), minio("valid", i), contract.PARTITION_COLUMNS
            ),
        ),
        (
            "7 cache -> dead letters, MinIO",
            lambda i: write_batch_partitioned_parquet(
                dead_letter_frame(cache, i).coalesce(1), minio("letters", i), [contract.BATCH_COLUMN]
            ),
        ),
    ]
    figures: list[Figure] = []
    print(f"\n{'stage':<64} {'median':>8} {'fastest':>8}  ({args.events:,} events, {args.repeat} runs)")
    for group in (stages, stages_on_cache, [("8 whole batch as the query runs it", whole_batch)]):
        if group is stages_on_cache:
            cache.count()
        for name, work in group:
            median, fastest = timed(args.repeat, work)
            rate = args.events / median
            print(f"{name:<64} {median:>7.2f}s {fastest:>7.2f}s  {rate:>10,.0f} events/s")
            figures.append(Figure(name, median, "s"))
        if group is stages_on_cache:
            # write_user_action_batch persists the same plan: it must not find this cache filled.
            cache.unpersist()
    shutil.rmtree(local_dir, ignore_errors=True)
    record(
        "user_actions_profile", figures, events=args.events, partitions=args.partitions, repeat=args.repeat
    )


if __name__ == "__main__":
    main()
