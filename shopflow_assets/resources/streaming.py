"""Run Spark Structured Streaming queries bounded (`availableNow`) or continuously, checkpointed in the lake.

Why one module: the page-view and user-action flows, the Dagster assets, the `shopflow stream` command,
the Kafka sensors and the tests all need the same four things, done the same way:

- reading a Kafka topic as a stream (`kafka_stream`),
- starting a query with its checkpoint under `lakehouse/_checkpoints/<name>` and the right trigger
  (`StreamingRunner.start`): bounded = `trigger(availableNow=True)`: process what is in the topic now,
  commit, stop; continuous = `trigger(processingTime=...)` until stopped,
- waiting for queries and summing their progress into run metadata (`StreamingRunner.wait`),
- reading what a checkpoint has committed, without Spark and without a Kafka consumer
  (`read_committed_offsets`), which the sensors compare with the topic's end offsets.

Restarts neither lose nor double-count because Spark writes `offsets/<batch>` before a micro-batch and
`commits/<batch>` after it: a query killed mid-batch replays exactly that batch (same offsets, same state)
and the sinks are idempotent per batch (Delta MERGE of absolute values, batch-keyed Parquet partitions).
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

from shopflow_assets.automation import sensor_status
from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.spark import SparkResource

CHECKPOINT_BUCKET = "lakehouse"
CHECKPOINT_PREFIX = "_checkpoints"

# Kafka metadata every dead letter keeps (besides its reason and the raw value).
KAFKA_META_COLUMNS = ("topic", "partition", "offset", "kafka_timestamp")


# --- Kafka source ---------------------------------------------------------------------------------


def kafka_stream(
    spark: SparkSession,
    bootstrap_servers: str,
    topic: str,
    *,
    max_offsets_per_trigger: int | None = None,
    min_partitions: int | None = None,
    extra_options: dict[str, str] | None = None,
) -> DataFrame:
    """A topic as a stream of (value string, topic, partition, offset, kafka_timestamp), from the earliest offset.

    `startingOffsets=earliest` only applies to a new checkpoint; afterwards the checkpoint decides.
    `max_offsets_per_trigger` caps a micro-batch (a bounded run then takes several batches, each committed);
    `min_partitions` splits a topic partition's range over several tasks so both cores parse.
    """
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        # Offsets deleted by retention before we read them must fail the query, not vanish silently.
        .option("failOnDataLoss", "true")
    )
    if max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
    if min_partitions:
        reader = reader.option("minPartitions", str(min_partitions))
    for key, value in (extra_options or {}).items():
        reader = reader.option(key, value)
    return kafka_records(reader.load())


def kafka_records(kafka_df: DataFrame) -> DataFrame:
    """The Kafka source's columns as ShopFlow names them (value decoded as UTF-8)."""
    return kafka_df.select(
        F.col("value").cast("string").alias("value"),
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    )


# --- JSON field helpers shared by the parsers -------------------------------------------------------


def parse_json_object(value: Column) -> Column:
    """A VARIANT of the JSON text, or NULL when the text is not JSON."""
    return F.try_parse_json(value)


def json_type(variant: Column, path: str) -> Column:
    """The JSON type of the value at `path`: 'STRING', 'BIGINT', 'OBJECT<...>', 'VOID' (null)... or NULL if absent."""
    return F.schema_of_variant(F.try_variant_get(variant, path, "variant"))


def json_string(variant: Column, path: str) -> Column:
    return F.try_variant_get(variant, path, "string")


def present_with_wrong_type(variant: Column, path: str, expected_prefix: str) -> Column:
    """True when the field exists, is not JSON null, and its type does not start with `expected_prefix`."""
    kind = json_type(variant, path)
    return kind.isNotNull() & (kind != F.lit("VOID")) & ~kind.startswith(expected_prefix)


def first_reason(checks: Iterable[tuple[Column, str]]) -> Column:
    """The reason of the first failed check (checks in priority order), else NULL (the record is valid)."""
    reason = F.lit(None).cast("string")
    for failed, name in reversed(list(checks)):
        reason = F.when(failed, F.lit(name)).otherwise(reason)
    return reason


def dead_letter_frame(parsed: DataFrame, batch_id: int | None = None) -> DataFrame:
    """Rows whose `reason` is set, shaped as dead letters: reason, topic, partition, offset, raw value."""
    letters = parsed.where(F.col("reason").isNotNull()).select(
        "reason",
        *KAFKA_META_COLUMNS,
        F.col("value").alias("raw_value"),
        F.current_timestamp().alias("dead_lettered_at"),
    )
    if batch_id is not None:
        letters = letters.withColumn("batch_id", F.lit(batch_id).cast("long"))
    return letters


def write_batch_partitioned_parquet(df: DataFrame, path: str, partition_columns: Iterable[str]) -> None:
    """Write one micro-batch's rows so that a replay of the batch replaces, not adds to, its first attempt.

    The partition columns end with `batch_id`; dynamic partition overwrite replaces exactly the
    (…, batch_id) partitions this write produces and leaves every other batch alone.
    """
    (
        df.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(*partition_columns)
        .parquet(path)
    )


# --- running queries ------------------------------------------------------------------------------


@dataclass
class QueryReport:
    """What one streaming query did during this run, summed over its micro-batches."""

    name: str
    batches: int = 0
    records_in: int = 0
    dropped_by_watermark: int = 0
    state_rows_updated: dict[str, int] = field(default_factory=dict)  # per stateful operator
    observed: dict[str, int] = field(default_factory=dict)
    first_batch_id: int | None = None
    last_batch_id: int | None = None
    duration_s: float = 0.0
    processing_s: float = 0.0  # Σ triggerExecution of batches that read data
    watermark: str | None = None
    error: str | None = None

    @property
    def records_per_second(self) -> float:
        return self.records_in / self.processing_s if self.processing_s else 0.0

    def add_progress(self, progress: dict[str, Any]) -> None:
        self.batches += 1
        batch_id = int(progress.get("batchId", -1))
        self.first_batch_id = batch_id if self.first_batch_id is None else min(self.first_batch_id, batch_id)
        self.last_batch_id = batch_id if self.last_batch_id is None else max(self.last_batch_id, batch_id)
        rows = int(progress.get("numInputRows") or 0)
        self.records_in += rows
        if rows:
            self.processing_s += (progress.get("durationMs") or {}).get("triggerExecution", 0) / 1000.0
        for op in progress.get("stateOperators") or []:
            self.dropped_by_watermark += int(op.get("numRowsDroppedByWatermark") or 0)
            name = op.get("operatorName", "state")
            self.state_rows_updated[name] = self.state_rows_updated.get(name, 0) + int(
                op.get("numRowsUpdated") or 0
            )
        for metrics in (progress.get("observedMetrics") or {}).values():
            for key, value in metrics.items():
                self.observed[key] = self.observed.get(key, 0) + int(value or 0)
        self.watermark = (progress.get("eventTime") or {}).get("watermark", self.watermark)


def progress_dict(progress: Any) -> dict[str, Any]:
    """StreamingQueryProgress (an object in PySpark 4) or dict -> dict."""
    if progress is None:
        return {}
    if isinstance(progress, dict):
        return progress
    return json.loads(progress.json)


class StreamingRunner:
    """Starts queries with their checkpoint in the lake and waits for them; one instance per run."""

    def __init__(
        self,
        spark: SparkSession,
        checkpoint_root: str,
        *,
        processing_time: str = "10 seconds",
    ):
        self.spark = spark
        self.checkpoint_root = checkpoint_root.rstrip("/")
        self.processing_time = processing_time
        # Keep every batch's progress of a bounded run (the default keeps the last 100).
        spark.conf.set("spark.sql.streaming.numRecentProgressUpdates", "100000")

    def checkpoint_location(self, name: str) -> str:
        return f"{self.checkpoint_root}/{name}"

    def start(self, writer: DataStreamWriter, name: str, *, bounded: bool) -> StreamingQuery:
        writer = writer.queryName(name.replace("/", "_")).option(
            "checkpointLocation", self.checkpoint_location(name)
        )
        writer = (
            writer.trigger(availableNow=True)
            if bounded
            else writer.trigger(processingTime=self.processing_time)
        )
        return writer.start()

    def wait(
        self,
        queries: dict[str, StreamingQuery],
        *,
        stop_event: threading.Event | None = None,
        on_progress: Callable[[str, dict[str, Any]], None] | None = None,
        poll_s: float = 1.0,
    ) -> dict[str, QueryReport]:
        """Wait until every query has stopped (bounded: the topic is drained; continuous: `stop_event` set).

        Raises the first query's failure after stopping the others, so a failed batch fails the run.
        """
        started = time.monotonic()
        reports = {name: QueryReport(name) for name in queries}
        seen: dict[str, set[tuple[int, str]]] = {name: set() for name in queries}

        def collect() -> None:
            for name, query in queries.items():
                for raw in query.recentProgress:
                    progress = progress_dict(raw)
                    key = (int(progress.get("batchId", -1)), str(progress.get("timestamp")))
                    if key in seen[name]:
                        continue
                    seen[name].add(key)
                    reports[name].add_progress(progress)
                    if on_progress:
                        on_progress(name, progress)

        def failed() -> list[tuple[str, Any]]:
            return [(n, q.exception()) for n, q in queries.items() if not q.isActive and q.exception()]

        try:
            while True:
                active = [q for q in queries.values() if q.isActive]
                if not active or failed():
                    break
                if stop_event is not None and stop_event.is_set():
                    for query in active:
                        query.stop()  # finishes nothing half-way: the next start replays from the checkpoint
                    break
                # A failed query raises here; its failure is read from query.exception() below.
                with contextlib.suppress(Exception):
                    active[0].awaitTermination(poll_s)
                collect()
        finally:
            failures = failed()
            if failures:
                for query in queries.values():
                    if query.isActive:
                        query.stop()
            collect()
            for report in reports.values():
                report.duration_s = time.monotonic() - started
            for name, exc in failures:
                reports[name].error = str(exc)
        if failures:
            name, exc = failures[0]
            raise RuntimeError(f"streaming query {name} failed: {exc}")
        return reports


def stop_on_signals(stop_event: threading.Event) -> None:
    """SIGINT/SIGTERM stop continuous queries gracefully (the current batch finishes and commits)."""

    def handler(signum, _frame):
        stop_event.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


# --- what a checkpoint has committed (for sensors and lag) ----------------------------------------


def parse_offset_log(text: str) -> tuple[dict[str, Any], list[dict[str, dict[str, int]]]]:
    """Spark's `offsets/<batch>` file -> (metadata, one offset dict per source).

    Format: `v1`, then a metadata JSON line (batchWatermarkMs, batchTimestampMs, conf), then one line per
    source; a Kafka source's line is `{"<topic>": {"<partition>": <next offset>}}` (`-` for a source
    without an offset yet).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("v"):
        raise ValueError("not a Spark offset log: missing version line")
    metadata = json.loads(lines[1]) if len(lines) > 1 else {}
    sources = [json.loads(line) if line.strip() != "-" else {} for line in lines[2:]]
    return metadata, sources


def latest_batch_id(names: Iterable[str]) -> int | None:
    """The highest batch id among file names of a Spark metadata log (`0`, `1`, ... ignoring temp files)."""
    ids = [int(name) for name in names if name.isdigit()]
    return max(ids) if ids else None


@dataclass(frozen=True)
class CommittedOffsets:
    """The Kafka offsets a query has fully processed: the end offsets of its last committed batch."""

    batch_id: int | None
    offsets: dict[str, dict[int, int]]  # topic -> partition -> next offset to read
    watermark_ms: int = 0

    def lag(self, topic: str, end_offsets: dict[int, int]) -> int:
        """Records in the topic the query has not committed yet."""
        done = self.offsets.get(topic, {})
        return sum(max(0, end - done.get(partition, 0)) for partition, end in end_offsets.items())


def read_committed_offsets(
    list_names: Callable[[str], list[str]], read_text: Callable[[str], str]
) -> CommittedOffsets:
    """Read a checkpoint through two callables over its directory (`offsets`/`commits` relative names).

    `list_names("commits")` lists file names in that sub-directory; `read_text("offsets/7")` reads one.
    Only a batch with a commit counts: a batch whose offsets are written but not committed was cut off
    and will be replayed.
    """
    committed = latest_batch_id(list_names("commits"))
    if committed is None:
        return CommittedOffsets(None, {})
    metadata, sources = parse_offset_log(read_text(f"offsets/{committed}"))
    offsets: dict[str, dict[int, int]] = {}
    for source in sources:
        for topic, partitions in source.items():
            offsets.setdefault(topic, {}).update({int(p): int(o) for p, o in partitions.items()})
    return CommittedOffsets(committed, offsets, int(metadata.get("batchWatermarkMs") or 0))


# --- the Dagster resource -------------------------------------------------------------------------


class SparkStreamingResource(dg.ConfigurableResource):
    """How ShopFlow's streaming queries run: where checkpoints live, trigger interval, batch size."""

    checkpoint_bucket: str = CHECKPOINT_BUCKET
    checkpoint_prefix: str = CHECKPOINT_PREFIX
    processing_time: str = "10 seconds"
    # Records per micro-batch of a bounded run: smaller batches commit more often (less to replay after a
    # crash) but pay the per-batch overhead more often. None: everything available in one batch.
    max_offsets_per_trigger: int | None = 500_000
    min_partitions: int | None = 4

    def checkpoint_key(self, name: str) -> str:
        return f"{self.checkpoint_prefix}/{name}"

    def runner(self, spark: SparkSession, uri: Callable[[str, str], str]) -> StreamingRunner:
        return StreamingRunner(
            spark, uri(self.checkpoint_bucket, self.checkpoint_prefix), processing_time=self.processing_time
        )


def read_checkpoint(lake: Any, bucket: str, key: str) -> CommittedOffsets:
    """What the checkpoint at lake `bucket/key` has committed, read with the lake's object API (no Spark)."""
    prefix = key.rstrip("/") + "/"
    names = {
        sub: [k.rsplit("/", 1)[-1] for k in lake.list_keys(bucket, f"{prefix}{sub}/")]
        for sub in ("commits", "offsets")
    }
    return read_committed_offsets(
        lambda sub: names.get(sub, []), lambda rel: lake.get_bytes(bucket, prefix + rel).decode("utf-8")
    )


@dataclass
class BoundedRun:
    """A bounded run started by a Dagster asset: the flow's summary, the lake it wrote to, the lag left."""

    summary: Any
    lake: Any
    lag: int


def run_bounded_from_asset(
    context: dg.AssetExecutionContext,
    run_flow: Callable[..., Any],
    run_config: Any,
    *,
    spark: SparkResource,
    lake: LakeResource,
    kafka: KafkaResource,
    streaming: SparkStreamingResource,
) -> BoundedRun:
    """What every streaming asset does around its flow: check the broker, run `run_flow` bounded with each
    batch logged, then measure the lag between the topic's end offsets and the flow's checkpoint.

    `run_config` is the flow's config (it has `topic` and `checkpoint_name`).
    """
    kafka.require_reachable()
    the_lake = lake.get_lake()
    session = spark.get_session()
    summary = run_flow(
        session,
        streaming.runner(session, the_lake.spark_uri),
        the_lake,
        kafka.settings(),
        run_config,
        bounded=True,
        on_progress=lambda name, p: context.log.info(
            f"{name} batch {p.get('batchId')}: {p.get('numInputRows')} records"
        ),
    )
    end = kafka.end_offsets(run_config.topic)
    committed = read_checkpoint(
        the_lake, streaming.checkpoint_bucket, streaming.checkpoint_key(run_config.checkpoint_name)
    )
    return BoundedRun(summary, the_lake, committed.lag(run_config.topic, end))


STREAMING_RESOURCE_KEY = "streaming"
# One instance shared by the streaming domains, so merging their Definitions sees the same resource.
STREAMING_RESOURCE = SparkStreamingResource()


# --- the Kafka sensor ------------------------------------------------------------------------------


def lag_decision(
    topic: str, end_offsets: dict[int, int], committed: dict[str, CommittedOffsets]
) -> tuple[int, dict[str, int]]:
    """(largest lag over the checkpoints, lag per checkpoint): records in the topic not yet committed."""
    lags = {name: offsets.lag(topic, end_offsets) for name, offsets in committed.items()}
    return (max(lags.values()) if lags else 0), lags


END_OFFSETS_TAG = "shopflow/end_offsets"
# A failed run is retried by Dagster's run retries (the instance's `run_retries`), not by the sensor.
RUN_RETRIES = {"dagster/max_retries": "2"}


def run_request_for_offsets(
    offsets: str, *, run_config: dict[str, Any] | None = None, tags: dict[str, str] | None = None
) -> dg.RunRequest:
    """The run a Kafka sensor requests for new data identified by `offsets` (the topics' end offsets).

    The run key is `offsets`: one run per new data point; the offsets are also a tag, to find its runs.
    """
    return dg.RunRequest(
        run_key=offsets, run_config=run_config or {}, tags={**(tags or {}), END_OFFSETS_TAG: offsets}
    )


def build_kafka_lag_sensor(
    *,
    name: str,
    job_name: str,
    topic: Callable[[], str],
    checkpoint_keys: Callable[[SparkStreamingResource], dict[str, str]],
    run_config: Callable[[], dict[str, Any]] | None = None,
    minimum_interval_seconds: int = 30,
) -> dg.SensorDefinition:
    """A sensor that requests a bounded run of `job_name` when the topic has records a checkpoint has not
    committed. It reads only the topic's end offsets (metadata, no consumer poll) and the checkpoints'
    `commits/` and `offsets/` logs in the lake; it skips while a run of the job is queued or running, as
    two queries on one checkpoint would fail. Run keys: `run_request_for_offsets`.
    """

    @dg.sensor(
        name=name,
        job_name=job_name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=sensor_status(),
    )
    def _sensor(
        context: dg.SensorEvaluationContext,
        kafka: KafkaResource,
        lake: LakeResource,
        streaming: SparkStreamingResource,
    ):
        the_topic = topic()
        try:
            end = kafka.end_offsets(the_topic, timeout=5.0)
        except Exception as exc:  # broker down or topic missing: nothing to run, say why
            return dg.SkipReason(f"cannot read end offsets of {the_topic}: {exc}")
        the_lake = lake.get_lake()
        committed = {
            label: read_checkpoint(the_lake, streaming.checkpoint_bucket, key)
            for label, key in checkpoint_keys(streaming).items()
        }
        lag, lags = lag_decision(the_topic, end, committed)
        if lag == 0:
            return dg.SkipReason(f"{the_topic}: nothing new (end offsets {end})")
        active = context.instance.get_runs(
            filters=dg.RunsFilter(
                job_name=job_name,
                statuses=[
                    dg.DagsterRunStatus.QUEUED,
                    dg.DagsterRunStatus.NOT_STARTED,
                    dg.DagsterRunStatus.STARTING,
                    dg.DagsterRunStatus.STARTED,
                ],
            ),
            limit=1,
        )
        if active:
            return dg.SkipReason(
                f"{the_topic}: lag {lag}, but run {active[0].run_id} of {job_name} is active"
            )
        offsets = f"{the_topic}:" + ",".join(f"{p}={o}" for p, o in sorted(end.items()))
        return run_request_for_offsets(
            offsets,
            run_config=run_config() if run_config else {},
            tags={"shopflow/topic": the_topic, "shopflow/lag": str(lag)},
        )

    return _sensor
