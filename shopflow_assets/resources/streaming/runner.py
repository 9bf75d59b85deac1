"""Starting queries with their checkpoint and trigger, waiting for them, and summing their progress.

Bounded = `trigger(availableNow=True)`: process what is in the topic now, commit, stop; continuous =
`trigger(processingTime=...)` until stopped. Restarts neither lose nor double-count because Spark writes
`offsets/<batch>` before a micro-batch and `commits/<batch>` after it: a query killed mid-batch replays
exactly that batch, and the sinks are idempotent per batch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the code location loads this module without pyspark
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

log = logging.getLogger("shopflow.streaming")

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
    batch_ids: list[int] = field(default_factory=list)  # the batches that read records, in order
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
            self.batch_ids.append(batch_id)
            self.processing_s += (progress.get("durationMs") or {}).get("triggerExecution", 0) / 1000.0
        for op in progress.get("stateOperators") or []:
            self.dropped_by_watermark += int(op.get("numRowsDroppedByWatermark") or 0)
            name = op.get("operatorName", "state")
            self.state_rows_updated[name] = self.state_rows_updated.get(name, 0) + int(
                op.get("numRowsUpdated") or 0
            )
        for metrics in (progress.get("observedMetrics") or {}).values():
            for key, value in observed_row(metrics).items():
                self.observed[key] = self.observed.get(key, 0) + int(value or 0)
        self.watermark = (progress.get("eventTime") or {}).get("watermark", self.watermark)


def progress_dict(progress: Any) -> dict[str, Any]:
    """StreamingQueryProgress (an object in PySpark 4) or dict -> dict, the same from Spark Connect.

    On Connect the object's `.json` leaves numInputRows empty and carries observed metrics as rows of
    (values, schema); the attributes hold the real figures, so those are taken from the attributes.
    """
    if progress is None:
        return {}
    if not hasattr(progress, "numInputRows"):  # a plain dict
        return progress
    data = json.loads(progress.json)
    data["numInputRows"] = progress.numInputRows
    data["observedMetrics"] = {
        name: observed_row(row) for name, row in (progress.observedMetrics or {}).items()
    }
    return data


def observed_row(row: Any) -> dict[str, Any]:
    """One observation's metrics as {name: value}, from a classic Row or a Connect (values, schema) row."""
    if isinstance(row, dict):
        return row
    values = row.asDict()
    if set(values) == {"values", "schema"} and isinstance(values["schema"], dict):
        names = [field["name"] for field in values["schema"]["fields"]]
        return dict(zip(names, values["values"], strict=True))
    return values


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
        return start_with_worker_retry(writer.start, name)

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


# On Spark Connect a foreachBatch query's start launches a Python worker on the server and waits a fixed
# 10 s (not configurable in Spark 4.2) for it to connect back; on a loaded machine the worker's imports take
# longer. Nothing has run yet when that fails, so starting again is safe.
WORKER_CONNECT_BACK_ERROR = "Python worker failed to connect back"
WORKER_START_ATTEMPTS = 3


def start_with_worker_retry(
    start: Callable[[], StreamingQuery],
    name: str,
    *,
    attempts: int = WORKER_START_ATTEMPTS,
    backoff_s: float = 2.0,
) -> StreamingQuery:
    """`start()`, again after a failed Python-worker connect-back, up to `attempts` times in all."""
    for attempt in range(1, attempts + 1):
        try:
            return start()
        except Exception as exc:
            if WORKER_CONNECT_BACK_ERROR not in str(exc) or attempt == attempts:
                raise
            log.warning(
                "streaming query %s: the server's Python worker did not connect back in time "
                "(attempt %d of %d); starting again",
                name,
                attempt,
                attempts,
            )
            time.sleep(backoff_s * attempt)
    raise AssertionError("unreachable")


def stop_on_signals(stop_event: threading.Event) -> None:
    """SIGINT/SIGTERM stop continuous queries gracefully (the current batch finishes and commits)."""

    def handler(signum, _frame):
        stop_event.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
