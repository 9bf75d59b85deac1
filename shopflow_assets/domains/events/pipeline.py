"""The user-action streaming query: user_actions -> Parquet by event_date in `events`, dead letters in `quarantine`.

One stateless query with a foreachBatch that parses each micro-batch once (persisted), writes the valid
rows to `events/user_actions/event_date=<d>/batch_id=<n>/` and the invalid ones to
`quarantine/dead_letter/user_actions/batch_id=<n>/`, both with dynamic partition overwrite: a batch
replayed after a crash replaces its own partitions instead of adding to them (exactly-once output for any
reader, including plain Parquet readers that do not know about Spark's commit logs).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shopflow_assets.contracts import events as contract
from shopflow_assets.domains.events.transforms import parse_user_actions, valid_user_actions
from shopflow_assets.resources.lake import Lake
from shopflow_assets.resources.streaming import (
    QueryReport,
    StreamingRunner,
    dead_letter_frame,
    kafka_stream,
    write_batch_partitioned_parquet,
)
from shopflow_assets.settings import Settings

USER_ACTIONS_QUERY = "user_actions"


@dataclass
class UserActionsConfig:
    topic: str = contract.USER_ACTIONS_TOPIC
    output_key: str = contract.USER_ACTION_EVENTS_LOCATION[1]  # in the events bucket
    dead_letter_key: str = contract.USER_ACTIONS_DEAD_LETTER_LOCATION[1]  # in the quarantine bucket
    checkpoint_name: str = contract.USER_ACTIONS_CHECKPOINT
    max_offsets_per_trigger: int | None = 500_000
    min_partitions: int | None = 4

    def isolated(self, prefix: str | None, topic: str | None = None) -> UserActionsConfig:
        """The same flow under `prefix` (outputs and checkpoint) and/or another topic (tests, benches)."""
        from dataclasses import replace

        p = prefix.strip("/") if prefix else ""
        under = (lambda key: f"{p}/{key}") if p else (lambda key: key)
        return replace(
            self,
            topic=topic or self.topic,
            output_key=under(self.output_key),
            dead_letter_key=under(self.dead_letter_key),
            checkpoint_name=under(self.checkpoint_name),
        )


@dataclass
class UserActionStats:
    written: dict[int, int] = field(default_factory=dict)
    dead_lettered: dict[int, int] = field(default_factory=dict)
    reasons: dict[int, dict[str, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class UserActionRunSummary:
    records_in: int
    written: int
    dead_lettered: int
    batches: int
    reasons: dict[str, int]
    batch_ids: list[int]
    records_per_second: float

    @property
    def accounted(self) -> bool:
        return self.records_in == self.written + self.dead_lettered

    def as_metadata(self) -> dict[str, Any]:
        return {
            "records_in": self.records_in,
            "written": self.written,
            "dead_lettered": self.dead_lettered,
            "dropped_late": 0,  # no window, no watermark: every valid event is written
            "batches": self.batches,
            "records_per_second": round(self.records_per_second, 1),
            "dead_letter_reasons": dict(sorted(self.reasons.items())),
        }


def write_user_action_batch(
    parsed: DataFrame, batch_id: int, output_path: str, dead_letter_path: str
) -> dict[str, int]:
    """Write one parsed micro-batch; returns {reason or "valid": count}."""
    parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = {
            (row["reason"] or "valid"): int(row["count"])
            for row in parsed.groupBy("reason").count().collect()
        }
        valid = counts.get("valid", 0)
        if valid:
            rows = valid_user_actions(parsed).withColumn(contract.BATCH_COLUMN, F.lit(batch_id).cast("long"))
            write_batch_partitioned_parquet(rows, output_path, contract.PARTITION_COLUMNS)
        if sum(counts.values()) - valid:
            write_batch_partitioned_parquet(
                dead_letter_frame(parsed, batch_id), dead_letter_path, [contract.BATCH_COLUMN]
            )
        return counts
    finally:
        parsed.unpersist()


def start_user_action_query(
    spark: SparkSession,
    runner: StreamingRunner,
    lake: Lake,
    settings: Settings,
    config: UserActionsConfig,
    stats: UserActionStats,
    *,
    bounded: bool,
) -> dict[str, Any]:
    output_path = lake.spark_uri("events", config.output_key)
    dead_letter_path = lake.spark_uri("quarantine", config.dead_letter_key)

    def handle(batch: DataFrame, batch_id: int) -> None:
        counts = write_user_action_batch(parse_user_actions(batch), batch_id, output_path, dead_letter_path)
        with stats.lock:
            stats.written[batch_id] = counts.get("valid", 0)
            stats.dead_lettered[batch_id] = sum(v for k, v in counts.items() if k != "valid")
            stats.reasons[batch_id] = {k: v for k, v in counts.items() if k != "valid"}

    records = kafka_stream(
        spark,
        settings.kafka_bootstrap_servers,
        config.topic,
        max_offsets_per_trigger=config.max_offsets_per_trigger,
        min_partitions=config.min_partitions,
    )
    query = runner.start(records.writeStream.foreachBatch(handle), config.checkpoint_name, bounded=bounded)
    return {USER_ACTIONS_QUERY: query}


def summarize(reports: dict[str, QueryReport], stats: UserActionStats) -> UserActionRunSummary:
    report = reports[USER_ACTIONS_QUERY]
    with stats.lock:
        reasons: dict[str, int] = {}
        for per_batch in stats.reasons.values():
            for reason, count in per_batch.items():
                reasons[reason] = reasons.get(reason, 0) + count
        return UserActionRunSummary(
            records_in=report.records_in,
            written=sum(stats.written.values()),
            dead_lettered=sum(stats.dead_lettered.values()),
            batches=report.batches,
            reasons=reasons,
            batch_ids=sorted(stats.written),
            records_per_second=report.records_per_second,
        )


def run_user_actions(
    spark: SparkSession,
    runner: StreamingRunner,
    lake: Lake,
    settings: Settings,
    config: UserActionsConfig,
    *,
    bounded: bool = True,
    stop_event: threading.Event | None = None,
    on_progress=None,
) -> UserActionRunSummary:
    stats = UserActionStats()
    queries = start_user_action_query(spark, runner, lake, settings, config, stats, bounded=bounded)
    reports = runner.wait(queries, stop_event=stop_event, on_progress=on_progress)
    return summarize(reports, stats)
