"""`shopflow stream page-views|actions`: the streaming queries as always-on jobs (or one bounded run with --once).

Continuous mode triggers a micro-batch every --trigger-interval until Ctrl-C / SIGTERM, which stops the
queries between batches; the checkpoint makes the next start resume exactly where this one stopped.
The Dagster assets run the same queries bounded; do not run both on one checkpoint at the same time.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import asdict, replace
from typing import Any

from shopflow_assets.cli import UsageError
from shopflow_assets.identifiers import UnsafeNameError


def register(subparsers: argparse._SubParsersAction) -> None:
    stream = subparsers.add_parser(
        "stream",
        help="run the page-view or user-action streaming queries continuously (or once with --once)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    flows = stream.add_subparsers(dest="flow", required=True)
    for flow, help_text in (
        ("page-views", "clicks_topic -> fact_page_views (Delta + warehouse), dead letters in quarantine"),
        ("actions", "user_actions -> events/user_actions Parquet by event_date, dead letters in quarantine"),
    ):
        parser = flows.add_parser(flow, help=help_text)
        parser.add_argument(
            "--once", action="store_true", help="bounded run: process what is there, then stop"
        )
        parser.add_argument(
            "--trigger-interval", default="10 seconds", help="continuous micro-batch interval"
        )
        parser.add_argument(
            "--max-offsets-per-trigger",
            type=int,
            default=None,
            help="records per batch (default: the flow's own, 500,000 page views, 1,000,000 actions)",
        )
        parser.add_argument(
            "--min-partitions", type=int, default=None, help="Spark tasks per batch (minimum)"
        )
        parser.add_argument("--topic", default=None, help="read another topic (tests, benches)")
        parser.add_argument(
            "--prefix",
            default=None,
            help="key prefix for every output and checkpoint, e.g. _tests/<id> (tests, benches)",
        )
        if flow == "page-views":
            parser.add_argument(
                "--watermark", default=None, help="how late an event may be (default 2 minutes)"
            )
            parser.add_argument("--no-warehouse", action="store_true", help="do not mirror to DuckDB")
        parser.add_argument("--quiet", action="store_true", help="no per-batch lines")
        parser.set_defaults(func=_run)


def page_views_config(args: argparse.Namespace):
    from shopflow_assets.domains.clickstream.pipeline import PageViewsConfig

    config = PageViewsConfig(min_partitions=args.min_partitions)
    if args.max_offsets_per_trigger:
        config = replace(config, max_offsets_per_trigger=args.max_offsets_per_trigger)
    config = replace(
        config, watermark=args.watermark or config.watermark, mirror_to_warehouse=not args.no_warehouse
    )
    return config.isolated(args.prefix, args.topic)


def actions_config(args: argparse.Namespace):
    from shopflow_assets.domains.events.pipeline import UserActionsConfig

    config = UserActionsConfig(min_partitions=args.min_partitions)
    if args.max_offsets_per_trigger:
        config = replace(config, max_offsets_per_trigger=args.max_offsets_per_trigger)
    return config.isolated(args.prefix, args.topic)


def _run(args: argparse.Namespace) -> int:
    from shopflow_assets.domains.clickstream.pipeline import run_page_views
    from shopflow_assets.domains.events.pipeline import run_user_actions
    from shopflow_assets.resources.kafka import require_kafka
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.resources.spark import get_spark_session
    from shopflow_assets.resources.streaming.resource import SparkStreamingResource
    from shopflow_assets.resources.streaming.runner import stop_on_signals
    from shopflow_assets.settings import get_settings

    try:
        config = page_views_config(args) if args.flow == "page-views" else actions_config(args)
    except UnsafeNameError as exc:
        raise UsageError(f"shopflow stream {args.flow} --prefix: {exc}") from None
    settings = get_settings()
    require_kafka(settings)
    lake = build_lake(settings)
    spark = get_spark_session(settings, app_name=f"shopflow-stream-{args.flow}")
    streaming = SparkStreamingResource(processing_time=args.trigger_interval)
    runner = streaming.runner(spark, lake.spark_uri)
    stop = threading.Event()
    if not args.once:
        stop_on_signals(stop)

    def on_progress(name: str, progress: dict[str, Any]) -> None:
        if args.quiet or (not progress.get("numInputRows") and not args.once):
            return
        watermark = (progress.get("eventTime") or {}).get("watermark", "")
        print(
            f"{name} batch {progress.get('batchId')}: {progress.get('numInputRows')} records, "
            f"{progress.get('processedRowsPerSecond', 0):,.0f}/s {('watermark ' + watermark) if watermark else ''}",
            flush=True,
        )

    mode = "bounded (availableNow)" if args.once else f"continuous, every {args.trigger_interval}"
    if args.flow == "page-views":
        print(f"page views from {config.topic}: {mode}; Ctrl-C stops between batches", file=sys.stderr)
        summary = run_page_views(
            spark, runner, lake, settings, config, bounded=args.once, stop_event=stop, on_progress=on_progress
        )
        result = {**summary.as_metadata(), "accounted": summary.accounted}
        if summary.too_late(config.max_late_share):
            result["accounted"] = False  # every click is counted, but this many late ones is a failure
            print(
                f"page views: {summary.dropped_late} of {summary.records_in} records dropped as late "
                f"({summary.late_share:.1%} > {config.max_late_share:.0%}); is the watermark ahead of the clock?",
                file=sys.stderr,
            )
    else:
        print(f"user actions from {config.topic}: {mode}; Ctrl-C stops between batches", file=sys.stderr)
        summary = run_user_actions(
            spark, runner, lake, settings, config, bounded=args.once, stop_event=stop, on_progress=on_progress
        )
        result = {**summary.as_metadata(), "accounted": summary.accounted, "batch_ids": summary.batch_ids}
    print(
        json.dumps({"flow": args.flow, "config": asdict(config), "summary": result}, default=str), flush=True
    )
    return 0 if result["accounted"] else 1
