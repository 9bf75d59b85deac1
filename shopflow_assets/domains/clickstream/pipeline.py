"""The page-view streaming queries: clicks_topic -> fact_page_views (Delta + warehouse) and dead letters.

Two queries read the topic, each with its own checkpoint:
- `page_views`: parse -> valid clicks -> watermark -> dedup on event_id -> 1-minute windows per url,
  output mode `update`, and a foreachBatch that MERGEs the updated windows (absolute values) into the
  Delta table keyed by (window_start, url), then upserts the same rows into the warehouse table.
  A replayed batch writes the same absolute values again: idempotent.
- `clicks_dead_letter`: the records that fail parsing, with reason, topic, partition, offset and raw
  value, written as Parquet partitioned by batch_id (a replay overwrites its own partition).

Used by the Dagster asset (bounded), `shopflow stream page-views` (continuous), the tests and the bench.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shopflow_assets.contracts import clickstream as contract
from shopflow_assets.domains.clickstream.transforms import page_view_windows, parse_clicks, valid_clicks
from shopflow_assets.identifiers import quote_identifier, safe_table
from shopflow_assets.resources.streaming.flow import QueryContext, StreamFlow, StreamFlowConfig
from shopflow_assets.resources.streaming.parse import dead_letter_frame, write_batch_partitioned_parquet
from shopflow_assets.resources.streaming.runner import QueryReport
from shopflow_assets.settings import Settings

PAGE_VIEWS_QUERY = "page_views"
DEAD_LETTER_QUERY = "clicks_dead_letter"
DEDUP_OPERATOR = "dedupeWithinWatermark"


@dataclass
class PageViewsConfig(StreamFlowConfig):
    """Where the page-view flow reads and writes; tests and benches point it at their own topic and keys.

    Each of its two queries has an output and a checkpoint: the windows (Delta table, mirrored to the
    warehouse) and the dead letters."""

    topic: str = contract.CLICKS_TOPIC
    table_key: str = contract.FACT_PAGE_VIEWS_LOCATION[1]  # in the lakehouse bucket
    warehouse_table: str = contract.FACT_PAGE_VIEWS
    checkpoint_name: str = contract.PAGE_VIEWS_CHECKPOINT
    dead_letter_key: str = contract.CLICKS_DEAD_LETTER_LOCATION[1]
    dead_letter_checkpoint_name: str = contract.CLICKS_DEAD_LETTER_CHECKPOINT
    watermark: str = contract.DEFAULT_WATERMARK
    mirror_to_warehouse: bool = True
    max_future_skew: str = contract.DEFAULT_MAX_FUTURE_SKEW  # event times beyond now + this: dead letters
    max_late_share: float = contract.DEFAULT_MAX_LATE_SHARE  # more dropped late than this fails the run

    PREFIXED = ("table_key", "dead_letter_key", "checkpoint_name", "dead_letter_checkpoint_name")

    def isolated_extras(self, prefix: str) -> dict[str, object]:
        # The warehouse mirror is a table, not a key: the prefix becomes a suffix of its name.
        return {"warehouse_table": f"{self.warehouse_table}_{prefix.replace('/', '_').replace('-', '_')}"}


@dataclass
class PageViewStats:
    """What the foreachBatch handlers did, per batch id (a batch retried in this process overwrites)."""

    counted: dict[int, int] = field(default_factory=dict)  # events added to views (Σ new − old views)
    windows: dict[int, int] = field(default_factory=dict)  # (window, url) rows upserted
    dead_lettered: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def totals(self) -> dict[str, int]:
        with self.lock:
            return {
                "counted": sum(self.counted.values()),
                "windows_upserted": sum(self.windows.values()),
                "dead_lettered": sum(self.dead_lettered.values()),
            }


def ensure_delta_table(spark: SparkSession, path: str) -> None:
    """Create the empty Delta table at `path` unless one is there (mode "ignore": concurrent-safe, idempotent)."""
    from pyspark.sql.types import StructType

    schema = StructType.fromDDL(contract.FACT_PAGE_VIEWS_SPARK_DDL)
    spark.createDataFrame([], schema).write.format("delta").mode("ignore").save(path)


def merge_page_views(spark: SparkSession, updates: DataFrame, path: str) -> tuple[list[Any], int]:
    """MERGE updated windows (absolute values) into the Delta table; returns (rows, events newly counted).

    `events newly counted` = Σ (new views − views already in the table) over the updated keys: a real
    measure of what this batch added, 0 when a batch is replayed after it was already merged.
    """
    from delta.tables import DeltaTable

    keys = list(contract.FACT_PAGE_VIEWS_KEYS)
    rows = updates.withColumn("updated_at", F.current_timestamp()).collect()
    if not rows:
        return [], 0
    frame = spark.createDataFrame(rows, schema=contract.FACT_PAGE_VIEWS_SPARK_DDL)
    target = DeltaTable.forPath(spark, path)
    before = (
        target.toDF()
        .join(frame.select(*keys), keys)
        .agg(F.coalesce(F.sum("views"), F.lit(0)).alias("views"))
        .collect()[0]["views"]
    )
    (
        target.alias("t")
        .merge(frame.alias("s"), " AND ".join(f"t.{k} = s.{k}" for k in keys))
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    return rows, sum(r["views"] for r in rows) - int(before)


def upsert_warehouse(settings: Settings, table: str, rows: list[Any], attempts: int = 20) -> None:
    """Upsert rows into the DuckDB table by its primary key (window_start, url): idempotent per batch.

    The DuckDB file admits one writer process: when another holds it, retry for a while, then fail the
    batch (the query stops; the next run replays the batch from the checkpoint and mirrors it again).
    """
    import duckdb
    import pandas as pd

    from shopflow_assets.resources.warehouse import WarehouseError, connect_warehouse

    frame = pd.DataFrame([r.asDict() for r in rows], columns=list(contract.FACT_PAGE_VIEWS_COLUMNS))  # noqa: F841
    for attempt in range(attempts):
        try:
            with connect_warehouse(settings) as con:
                quoted = quote_identifier(safe_table(table, "warehouse table"))
                ddl = f"CREATE TABLE IF NOT EXISTS {quoted} ({contract.FACT_PAGE_VIEWS_DUCKDB_DDL})"  # nosec B608 # validated, quoted
                con.execute(ddl)
                con.execute(f"INSERT OR REPLACE INTO {quoted} SELECT * FROM frame")  # nosec B608 # validated, quoted
            return
        except (WarehouseError, duckdb.IOException):
            if attempt == attempts - 1:
                raise
            time.sleep(min(0.25 * 2**attempt, 3.0))


def start_page_view_queries(
    on: QueryContext, config: PageViewsConfig, stats: PageViewStats
) -> dict[str, Any]:
    """Start both queries; returns {name: StreamingQuery}. Wait on them with runner.wait()."""
    table_path = on.lake.spark_uri("lakehouse", config.table_key)
    dead_letter_path = on.lake.spark_uri("quarantine", config.dead_letter_key)
    ensure_delta_table(on.spark, table_path)

    def upsert(updates: DataFrame, batch_id: int) -> None:
        rows, counted = merge_page_views(on.spark, updates, table_path)
        if rows and config.mirror_to_warehouse:
            upsert_warehouse(on.settings, config.warehouse_table, rows)
        with stats.lock:
            stats.counted[batch_id] = counted
            stats.windows[batch_id] = len(rows)

    def dead_letter(batch: DataFrame, batch_id: int) -> None:
        letters = dead_letter_frame(parse_clicks(batch, config.max_future_skew), batch_id).persist()
        try:
            count = letters.count()
            if count:
                write_batch_partitioned_parquet(letters, dead_letter_path, ["batch_id"])
        finally:
            letters.unpersist()
        with stats.lock:
            stats.dead_lettered[batch_id] = count

    # Each query reads the topic itself, with its own checkpoint.
    windows = page_view_windows(
        valid_clicks(parse_clicks(on.read(config), config.max_future_skew)), config.watermark
    )
    page_views = on.start(
        windows.writeStream.outputMode("update").foreachBatch(upsert), config.checkpoint_name
    )
    letters = on.start(
        on.read(config).writeStream.foreachBatch(dead_letter), config.dead_letter_checkpoint_name
    )
    return {PAGE_VIEWS_QUERY: page_views, DEAD_LETTER_QUERY: letters}


@dataclass
class PageViewRunSummary:
    """Run metadata: every record of the topic read in this run is accounted for."""

    records_in: int
    counted: int
    duplicates: int
    dead_lettered: int
    dropped_late: int
    windows_upserted: int
    batches: int
    watermark: str | None
    dead_letter_records_in: int
    accepted_by_dedup: int

    @property
    def accounted(self) -> bool:
        """records_in = counted + duplicates + dead_lettered + dropped_late, with duplicates ≥ 0."""
        return self.duplicates >= 0 and self.records_in == (
            self.counted + self.duplicates + self.dead_lettered + self.dropped_late
        )

    @property
    def late_share(self) -> float:
        return self.dropped_late / self.records_in if self.records_in else 0.0

    def too_late(self, max_share: float) -> bool:
        """More of this run dropped as late than `max_share`: a watermark pushed ahead, a stalled job."""
        return self.late_share > max_share

    def as_metadata(self) -> dict[str, Any]:
        return {
            "records_in": self.records_in,
            "written": self.counted,
            "duplicates": self.duplicates,
            "dead_lettered": self.dead_lettered,
            "dropped_late": self.dropped_late,
            "late_share": round(self.late_share, 4),
            "windows_upserted": self.windows_upserted,
            "batches": self.batches,
            "watermark": self.watermark or "",
        }


def summarize(reports: dict[str, QueryReport], stats: PageViewStats) -> PageViewRunSummary:
    """Combine Spark's progress (input, late drops, dedup state) with what the sinks counted.

    duplicates = valid input − late − events the dedup operator accepted; it is only derived, so the
    check is that it is never negative and that what the table gained equals what dedup accepted.
    """
    main, letters = reports[PAGE_VIEWS_QUERY], reports[DEAD_LETTER_QUERY]
    totals = stats.totals()
    accepted = main.state_rows_updated.get(DEDUP_OPERATOR, 0)
    duplicates = main.records_in - totals["dead_lettered"] - main.dropped_by_watermark - accepted
    return PageViewRunSummary(
        records_in=main.records_in,
        counted=totals["counted"],
        duplicates=duplicates,
        dead_lettered=totals["dead_lettered"],
        dropped_late=main.dropped_by_watermark,
        windows_upserted=totals["windows_upserted"],
        batches=main.batches,
        watermark=main.watermark,
        dead_letter_records_in=letters.records_in,
        accepted_by_dedup=accepted,
    )


run_page_views = StreamFlow(start_page_view_queries, PageViewStats, summarize)
