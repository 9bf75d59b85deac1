"""Streaming figures on this machine, printed (targets: >= 100k events/s, < 90 s produce-to-visible latency).

1. Throughput: produce --events user actions flat out with the datagen producer to a fresh topic,
   then time one bounded (availableNow) run of the user-action query to partitioned Parquet in the
   `events` bucket (with dead letters). Spark starts before the clock, and a --warmup run over its own
   topic first lets the JVM compile the query's code, as in a stream that has been running (its cold
   figure is printed too). The figure is records / wall time of the run, query start and stop included,
   plus each micro-batch's own time.
2. Latency: run the page-view query continuously (--trigger-interval), produce single clicks stamped
   "now" on a fresh url, and time until the row is visible in the warehouse table fact_page_views.

Needs `shopflow services up`. Writes under bench/<id>/ keys and a bench topic; leaves them for inspection.

    uv run python bench/bench_streaming.py [--events 2000000] [--latency-samples 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import threading
import time
import uuid
from pathlib import Path

from harness import Figure, record

os.environ.setdefault("SHOPFLOW_ENV", "docker")

from shopflow_assets.datagen.events import ActionOptions, Ratios, action_stream  # noqa: E402
from shopflow_assets.datagen.producer import Pace, ensure_topics, send  # noqa: E402
from shopflow_assets.domains.clickstream.pipeline import PageViewsConfig, run_page_views  # noqa: E402
from shopflow_assets.domains.events.pipeline import UserActionsConfig, run_user_actions  # noqa: E402
from shopflow_assets.resources.kafka import kafka_client_config  # noqa: E402
from shopflow_assets.resources.lake import build_lake  # noqa: E402
from shopflow_assets.resources.spark import get_spark_session  # noqa: E402
from shopflow_assets.resources.streaming.resource import SparkStreamingResource  # noqa: E402
from shopflow_assets.resources.warehouse import connect_warehouse  # noqa: E402
from shopflow_assets.settings import get_settings  # noqa: E402

TARGET_EVENTS_PER_S = 150_000
TARGET_LATENCY_S = 90
# Figures of this run, written to bench/out/streaming.json at the end.
RESULTS: list[Figure] = []


def run_actions(args, settings, spark, lake, bench_id: str, topic: str, name: str):
    """One bounded user_actions run over `topic`; returns (summary, wall seconds, per-batch seconds)."""
    streaming = SparkStreamingResource(max_offsets_per_trigger=args.batch, min_partitions=args.min_partitions)
    config = UserActionsConfig(
        topic=topic,
        output_key=f"bench/{bench_id}/{name}/user_actions",
        dead_letter_key=f"bench/{bench_id}/{name}/dead_letter/user_actions",
        checkpoint_name=f"bench/{bench_id}/{name}/events/user_actions",
        max_offsets_per_trigger=args.batch,
        min_partitions=args.min_partitions,
    )
    batches: list[tuple[int, float]] = []

    def on_progress(_query: str, progress: dict) -> None:
        rows = int(progress.get("numInputRows") or 0)
        if rows:
            batches.append((rows, (progress.get("durationMs") or {}).get("triggerExecution", 0) / 1000))

    started = time.perf_counter()
    summary = run_user_actions(
        spark, streaming.runner(spark, lake.spark_uri), lake, settings, config, on_progress=on_progress
    )
    return summary, time.perf_counter() - started, batches


def produce_actions(topic: str, count: int, partitions: int) -> None:
    ensure_topics({topic: partitions})
    options = ActionOptions(topic=topic, count=count, ratios=Ratios(bad_rate=0.01, duplicate_rate=0.01))
    manifest = send("actions", action_stream(options), pace=Pace(), count=count, progress=False)
    print(
        f"produced {manifest.delivered:,} user actions to {topic} in {manifest.elapsed_s:.1f} s ({manifest.rate:,.0f}/s)"
    )


def throughput(args, settings, spark, lake, bench_id: str) -> None:
    warmup_batches: list[tuple[int, float]] = []
    if args.warmup:
        # The JVM compiles Spark's generated code during the first batches: a cold run is slower than a
        # stream that has been running. The warm-up is its own topic and output, reported separately.
        warm_topic = f"bench_user_actions_warmup_{bench_id}"
        produce_actions(warm_topic, args.warmup, args.partitions)
        summary, wall, warmup_batches = run_actions(
            args, settings, spark, lake, bench_id, warm_topic, "warmup"
        )
        print(
            f"warm-up (cold JVM): {summary.records_in:,} records in {wall:.1f} s = {summary.records_in / wall:,.0f} events/s"
        )

    topic = f"bench_user_actions_{bench_id}"
    produce_actions(topic, args.events, args.partitions)
    summary, wall, batches = run_actions(args, settings, spark, lake, bench_id, topic, "run")
    batch_time = sum(seconds for _, seconds in batches)
    for i, (rows, seconds) in enumerate(batches):
        print(f"  batch {i}: {rows:,} records in {seconds:.1f} s = {rows / seconds:,.0f} events/s")
    sustained = summary.records_in / wall
    print(
        f"user_actions -> Parquet by event_date: {summary.records_in:,} records in {wall:.1f} s wall "
        f"= {sustained:,.0f} events/s sustained, query start and stop included "
        f"(micro-batches alone: {batch_time:.1f} s = {summary.records_in / batch_time if batch_time else 0:,.0f}/s; "
        f"{summary.batches} batches of <= {args.batch:,}); "
        f"written {summary.written:,}, dead-lettered {summary.dead_lettered:,}, accounted={summary.accounted}"
    )
    RESULTS.append(
        Figure("user actions sustained throughput", sustained, "events/s", TARGET_EVENTS_PER_S, "higher")
    )
    chart = plot_throughput(args.chart, warmup_batches, batches, sustained)
    print(f"chart: {chart}")


def plot_throughput(
    path: str, warmup: list[tuple[int, float]], run: list[tuple[int, float]], sustained: float
):
    """Bars of each micro-batch's events/s (warm-up grey, timed run blue), the target and the wall-clock rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"warm-up {i}" for i in range(len(warmup))] + [f"batch {i}" for i in range(len(run))]
    rates = [rows / seconds / 1000 for rows, seconds in (*warmup, *run)]
    colors = ["#9e9e9e"] * len(warmup) + ["#1f77b4"] * len(run)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(labels, rates, color=colors)
    ax.axhline(
        TARGET_EVENTS_PER_S / 1000,
        color="#d62728",
        linestyle="--",
        label=f"target {TARGET_EVENTS_PER_S // 1000}k/s",
    )
    ax.axhline(sustained / 1000, color="#2ca02c", label=f"timed run, wall clock: {sustained / 1000:.0f}k/s")
    ax.set_ylabel("thousand events / s")
    ax.set_title("user_actions -> Parquet by event_date, per micro-batch")
    ax.legend(loc="lower right")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def latency(args, settings, spark, lake, bench_id: str) -> None:
    from confluent_kafka import Producer

    topic = f"bench_clicks_{bench_id}"
    ensure_topics({topic: 2})
    table = f"fact_page_views_bench_{bench_id}"
    config = PageViewsConfig(
        topic=topic,
        table_key=f"bench/{bench_id}/fact_page_views",
        dead_letter_key=f"bench/{bench_id}/dead_letter/clicks",
        checkpoint_name=f"bench/{bench_id}/clickstream/page_views",
        dead_letter_checkpoint_name=f"bench/{bench_id}/clickstream/clicks_dead_letter",
        warehouse_table=table,
    )
    streaming = SparkStreamingResource(processing_time=args.trigger_interval)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_page_views,
        args=(spark, streaming.runner(spark, lake.spark_uri), lake, settings, config),
        kwargs={"bounded": False, "stop_event": stop},
        daemon=True,
    )
    worker.start()
    producer = Producer(kafka_client_config(settings, "producer"))
    time.sleep(15)  # let the queries start and run their first (empty) batch
    samples = []
    for i in range(args.latency_samples):
        url = f"/bench/{bench_id}/{i}"
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        event = {"event_id": f"b{bench_id}{i}", "user_id": "u1", "url": url, "timestamp": now.isoformat()}
        sent = time.perf_counter()
        producer.produce(topic, value=json.dumps(event).encode())
        producer.flush(10)
        while time.perf_counter() - sent < 300:
            try:
                with connect_warehouse(settings) as con:
                    found = con.execute(f"SELECT count(*) FROM {table} WHERE url = ?", [url]).fetchone()[0]  # nosec B608 # the bench's own table name
            except Exception:  # table not created yet, or the writer holds the file this instant
                found = 0
            if found:
                break
            time.sleep(0.5)
        samples.append(time.perf_counter() - sent)
        print(f"click {i}: visible in warehouse {table} after {samples[-1]:.1f} s")
        time.sleep(3)
    stop.set()
    worker.join(120)
    print(
        f"produce -> visible row in fact_page_views (trigger {args.trigger_interval}): "
        f"max {max(samples):.1f} s, mean {sum(samples) / len(samples):.1f} s; "
    )
    RESULTS.append(Figure("produce -> visible page view, max", max(samples), "s", TARGET_LATENCY_S))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--warmup", type=int, default=200_000, help="events of the warm-up run (0: none)")
    parser.add_argument("--partitions", type=int, default=2, help="topic partitions")
    parser.add_argument(
        "--batch", type=int, default=UserActionsConfig.max_offsets_per_trigger, help="maxOffsetsPerTrigger"
    )
    parser.add_argument(
        "--min-partitions",
        type=int,
        default=None,
        help="Kafka minPartitions (default: one task per partition)",
    )
    parser.add_argument("--latency-samples", type=int, default=3)
    parser.add_argument("--trigger-interval", default="5 seconds")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--chart", default="bench/out/streaming_throughput.png", help="PNG of the per-batch throughput"
    )
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()

    settings = get_settings()
    lake = build_lake(settings)
    bench_id = uuid.uuid4().hex[:8]
    load = os.getloadavg()
    print(
        f"bench {bench_id}: lake {lake.describe()}, Spark {settings.spark_master}, load average {load[0]:.1f}"
    )
    started = time.perf_counter()
    spark = get_spark_session(settings, app_name="shopflow-bench-streaming")
    print(f"Spark session ready in {time.perf_counter() - started:.1f} s")
    if not args.skip_throughput:
        throughput(args, settings, spark, lake, bench_id)
    if not args.skip_latency:
        latency(args, settings, spark, lake, bench_id)
    record(
        "streaming", RESULTS, events=args.events, batch=args.batch, lake=lake.describe(), load_before=load[0]
    )


if __name__ == "__main__":
    main()
