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

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shopflow_assets.contracts import clickstream as contract
from shopflow_assets.domains.clickstream.transforms import page_view_windows, parse_clicks, valid_clicks
from shopflow_assets.identifiers import quote_identifier, safe_table
from shopflow_assets.resources import delta_sql
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


# On the warm driver the batch functions run beside the Spark Connect server, out of reach of the run's
# Python objects: what they did reaches the run as data. The page-view MERGE marks its Delta commit with
# the run's token and its counts (delta_sql); the dead letters are counted by a metric observed on their
# stream.
DEAD_LETTER_METRICS = "clicks_dead_letter_counts"


def commit_mark(token: str, batch_id: int, windows: int, counted: int) -> dict[str, Any]:
    """The user metadata of one batch's MERGE commit: which run, which batch, what it did."""
    return {"run": token, "batch": batch_id, "windows": windows, "counted": counted}


@dataclass
class PageViewStats:
    """This run's mark on the page-view MERGE commits, and where to read them back."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    table_path: str = ""
    spark: Any = None  # the run's session, which reads the commits back

    def merged(self, commits: int) -> dict[int, dict[str, int]]:
        """{batch id: {windows, counted}} of this run's MERGE commits among the table's last `commits`
        (a batch merged twice in this run counts once, as its last commit says)."""
        marks = delta_sql.run_marks(self.spark, self.table_path, self.token, commits)
        return {
            batch: {"windows": int(mark["windows"]), "counted": int(mark["counted"])}
            for batch, mark in marks.items()
        }


def ensure_delta_table(spark: SparkSession, path: str) -> None:
    """Create the empty Delta table at `path` unless one is there (mode "ignore": concurrent-safe, idempotent)."""
    from pyspark.sql.types import StructType

    schema = StructType.fromDDL(contract.FACT_PAGE_VIEWS_SPARK_DDL)
    spark.createDataFrame([], schema).write.format("delta").mode("ignore").save(path)


def merge_page_views(
    spark: SparkSession, updates: DataFrame, path: str, mark: Callable[[int, int], dict] | None = None
) -> tuple[list[Any], int]:
    """MERGE updated windows (absolute values) into the Delta table; returns (rows, events newly counted).

    `events newly counted` = Σ (new views − views already in the table) over the updated keys: a real
    measure of what this batch added, 0 when a batch is replayed after it was already merged. `mark`
    (windows, counted) -> the commit's user metadata. The MERGE is SQL, not the DeltaTable API, whose
    Spark Connect form needs a Delta server plugin the warm driver does not have (delta_sql).
    """
    keys = list(contract.FACT_PAGE_VIEWS_KEYS)
    rows = updates.withColumn("updated_at", F.current_timestamp()).collect()
    if not rows:
        return [], 0
    frame = spark.createDataFrame(rows, schema=contract.FACT_PAGE_VIEWS_SPARK_DDL)
    before = (
        spark.read.format("delta")
        .load(path)
        .join(frame.select(*keys), keys)
        .agg(F.coalesce(F.sum("views"), F.lit(0)).alias("views"))
        .collect()[0]["views"]
    )
    counted = sum(r["views"] for r in rows) - int(before)
    on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    delta_sql.merge(
        spark,
        frame,
        f"MERGE INTO delta.`{path}` AS t USING {{source}} AS s ON {on} "  # nosec B608 - our path and names
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
        mark(len(rows), counted) if mark is not None else None,
    )
    return rows, counted


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
    stats.table_path, stats.spark = table_path, on.spark
    settings, token = on.settings, stats.token

    # The batch functions use the batch's own session and plain values only: on the warm driver they run
    # in a Python worker beside the server, where the run's session and objects do not exist.
    def upsert(updates: DataFrame, batch_id: int) -> None:
        rows, _ = merge_page_views(
            updates.sparkSession,
            updates,
            table_path,
            mark=lambda windows, counted: commit_mark(token, batch_id, windows, counted),
        )
        if rows and config.mirror_to_warehouse:
            upsert_warehouse(settings, config.warehouse_table, rows)

    def dead_letter(letters: DataFrame, batch_id: int) -> None:
        letters = letters.withColumn("batch_id", F.lit(batch_id).cast("long")).persist()
        try:
            if not letters.isEmpty():  # no empty batch folders
                write_batch_partitioned_parquet(letters, dead_letter_path, ["batch_id"])
        finally:
            letters.unpersist()

    # Each query reads the topic itself, with its own checkpoint.
    windows = page_view_windows(
        valid_clicks(parse_clicks(on.read(config), config.max_future_skew)), config.watermark
    )
    page_views = on.start(
        windows.writeStream.outputMode("update").foreachBatch(upsert), config.checkpoint_name
    )
    letters = dead_letter_frame(parse_clicks(on.read(config), config.max_future_skew)).observe(
        DEAD_LETTER_METRICS, F.count(F.lit(1)).alias("dead_lettered")
    )
    letters_query = on.start(
        letters.writeStream.foreachBatch(dead_letter), config.dead_letter_checkpoint_name
    )
    return {PAGE_VIEWS_QUERY: page_views, DEAD_LETTER_QUERY: letters_query}


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
    # Every MERGE of this run is among the table's last `main.batches` commits (the flow is its only
    # writer); the margin covers a batch retried within the run.
    merged = stats.merged(main.batches + 10) if main.batches else {}
    dead_lettered = letters.observed.get("dead_lettered", 0)
    accepted = main.state_rows_updated.get(DEDUP_OPERATOR, 0)
    duplicates = main.records_in - dead_lettered - main.dropped_by_watermark - accepted
    return PageViewRunSummary(
        records_in=main.records_in,
        counted=sum(batch["counted"] for batch in merged.values()),
        duplicates=duplicates,
        dead_lettered=dead_lettered,
        dropped_late=main.dropped_by_watermark,
        windows_upserted=sum(batch["windows"] for batch in merged.values()),
        batches=main.batches,
        watermark=main.watermark,
        dead_letter_records_in=letters.records_in,
        accepted_by_dedup=accepted,
    )


run_page_views = StreamFlow(start_page_view_queries, PageViewStats, summarize)
