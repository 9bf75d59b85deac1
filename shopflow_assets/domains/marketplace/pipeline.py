"""The marketplace flow as plain functions over a SparkSession and the lake path scheme.

Assets, the end-to-end test and the benchmark all run these: bounded (`availableNow`) Kafka -> bronze
streams, CSV -> bronze loads, bounded bronze -> silver streams (`foreachBatch` + MERGE), in the order
that lets facts see their dimensions.

They run on an in-process SparkSession and on Spark Connect (the warm driver) alike. On Connect a
`foreachBatch` function runs in a Python worker beside the server, out of reach of the run's objects, so
what it did reaches the run as data: metrics observed on the stream (bronze messages by outcome, silver
input and quarantined rows) and the silver MERGE commit's `userMetadata` (the run's token, the batch and
its newest versions). Delta is driven in SQL (MERGE, DESCRIBE HISTORY): the `DeltaTable` Python API's
Connect form needs Delta's server plugin, which the warm driver does not have.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shopflow_assets.contracts.marketplace import (
    BATCH_LOADED,
    BY_NAME,
    CUSTOMERS,
    ENRICHMENT,
    INGESTION_TS,
    ORDER_ITEMS,
    ORDERS,
    PRODUCTS,
    SELLERS,
    SILVER_ORDER,
    STREAMED,
    TableContract,
)
from shopflow_assets.domains.marketplace.transforms import (
    INGESTION_DATE,
    REASON,
    SILVER_UPDATED_AT,
    bronze_rows,
    enrich_order_items,
    enrich_orders,
    enrich_products,
    message_reasons,
    newest_per_key,
    parse_messages,
    scan_csv_records,
    split_valid,
    typed_with_reasons,
)
from shopflow_assets.resources import delta_sql
from shopflow_assets.resources.delta_sql import is_delta_table, last_commit_metadata, latest_commit
from shopflow_assets.resources.streaming.parse import dead_letter_frame
from shopflow_assets.resources.streaming.resource import SparkStreamingResource
from shopflow_assets.resources.streaming.runner import QueryReport
from shopflow_assets.resources.streaming.source import kafka_stream
from shopflow_assets.settings import get_settings

Uri = Callable[..., str]  # the lake path scheme: uri(bucket, key, engine)
CHECKPOINT_GROUP = "marketplace"


@dataclass(frozen=True)
class MarketplaceLake:
    """Every marketplace location, from the one lake path scheme.

    `namespace` (empty in production) puts a whole independent copy under `<bucket>/<namespace>/...`,
    which is how tests and benchmarks share the object store without touching each other's tables.
    """

    uri: Uri
    namespace: str = ""

    def __post_init__(self) -> None:
        # the namespace ends up in Spark SQL (delta.`...`) and in dbt's delta_scan('...'): strict pattern
        from shopflow_assets.identifiers import safe_namespace

        object.__setattr__(self, "namespace", safe_namespace(self.namespace, "namespace"))

    def key(self, key: str) -> str:
        return f"{self.namespace}/{key}" if self.namespace else key

    def spark(self, bucket: str, key: str) -> str:
        return self.uri(bucket, self.key(key), "spark")

    def checkpoint_name(self, name: str) -> str:
        return self.key(f"{CHECKPOINT_GROUP}/{name}")

    @property
    def paths(self) -> SilverPaths:
        return SilverPaths(
            bronze_root=self.spark("lakehouse", "bronze"),
            silver_root=self.spark("lakehouse", "silver"),
            quarantine_root=self.spark("quarantine", "marketplace"),
        )

    def dead_letters(self, table: TableContract) -> str:
        return self.spark("quarantine", f"marketplace/bronze_dead_letter/{table.name}")

    def malformed_rows(self, table: TableContract) -> str:
        """Batch CSV records with too few or too many fields, with their line and rule."""
        return self.spark("quarantine", f"marketplace/bronze_malformed/{table.name}")

    @property
    def duckdb_lakehouse_root(self) -> str:
        """What dbt's SHOPFLOW_OLIST_LAKE_ROOT is: the lakehouse bucket as DuckDB addresses it."""
        return self.uri("lakehouse", self.namespace, "duckdb")


def _runner(spark: SparkSession, lake: MarketplaceLake, streaming: SparkStreamingResource | None):
    streaming = streaming or SparkStreamingResource()
    return streaming, streaming.runner(spark, lambda bucket, key: lake.uri(bucket, key, "spark"))


def ingest_bronze(
    spark: SparkSession,
    lake: MarketplaceLake,
    bootstrap_servers: str,
    tables: tuple[TableContract, ...] = STREAMED,
    *,
    streaming: SparkStreamingResource | None = None,
    topic_suffix: str = "",
) -> dict[str, BronzeCounts]:
    """Bounded run of one Kafka -> bronze stream per table: what is in the topics now, then stop."""
    streaming, runner = _runner(spark, lake, streaming)
    queries = {}
    for table in tables:
        topic = table.topic + (f"_{topic_suffix}" if topic_suffix else "")
        records = kafka_stream(
            spark,
            bootstrap_servers,
            topic,
            max_offsets_per_trigger=streaming.max_offsets_per_trigger,
            min_partitions=streaming.min_partitions,
        )
        parsed = observe_messages(parse_messages(records, table), table)
        writer = parsed.writeStream.foreachBatch(
            bronze_batch_writer(table, lake.paths.bronze(table.name), lake.dead_letters(table))
        )
        name = lake.checkpoint_name(f"bronze_{table.name}")
        queries[table.name] = runner.start(writer, name, bounded=True)
    reports = runner.wait(queries)
    return {name: bronze_counts(BY_NAME[name], report) for name, report in reports.items()}


def load_batch_bronze(
    spark: SparkSession,
    lake: MarketplaceLake,
    csv_dir: Path,
    tables: tuple[TableContract, ...] = BATCH_LOADED,
    timestamp_formats: dict[str, str] | None = None,
) -> dict[str, BatchLoad]:
    """Payments, reviews, geolocation and the category translation from their CSVs into bronze. The
    folder is checked first (a missing required file fails before any load; reviews and geolocation are
    optional and load as empty tables). `timestamp_formats`: declared formats, {table or file name or '*':
    strptime format}; without one a column's day/month order is detected (`split_malformed_records`)."""
    from shopflow_assets.datagen.olist_files import check_olist_folder
    from shopflow_assets.timestamp_formats import declared_format

    check_olist_folder(Path(csv_dir), [f"{table.csv_name}.csv" for table in tables])
    return {
        table.name: load_csv_to_bronze(
            spark,
            table,
            Path(csv_dir) / f"{table.csv_name}.csv",
            lake.paths.bronze(table.name),
            lake.malformed_rows(table),
            declared_format(timestamp_formats, table.name, f"{table.csv_name}.csv"),
        )
        for table in tables
    }


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        total[key] = total.get(key, 0) + value


# Recorded with the silver MERGE of a batch-loaded table: the bronze version it merged.
MERGED_BRONZE_VERSION = "merged_bronze_version"


def build_silver(
    spark: SparkSession,
    lake: MarketplaceLake,
    tables: tuple[TableContract, ...] = SILVER_ORDER,
    *,
    streaming: SparkStreamingResource | None = None,
) -> dict[str, dict[str, int]]:
    """Bounded bronze -> silver per table, dimensions first. Streamed tables read their bronze Delta
    table as a stream (checkpointed); batch-loaded ones (replaced on each load) are merged whole."""
    _, runner = _runner(spark, lake, streaming)
    paths = lake.paths
    results: dict[str, dict[str, int]] = {}
    for table in tables:
        total: dict[str, int] = {"input": 0, "quarantined": 0, "newest_versions": 0, "superseded_in_batch": 0}
        if table.topic is None:
            latest = latest_commit(spark, paths.bronze(table.name))
            if latest is not None:
                bronze = spark.read.format("delta").load(paths.bronze(table.name))
                version = int(latest["version"])
                merged = last_commit_metadata(spark, paths.silver(table.name)).get(MERGED_BRONZE_VERSION)
                if merged == version:
                    # The bronze load this silver table last merged (its file was unchanged): merging it
                    # again would change nothing, silver keeps only strictly newer versions.
                    total["unchanged_bronze_skipped"] = 1
                else:
                    marker = {MERGED_BRONZE_VERSION: version}
                    _add(total, upsert_silver_batch(spark, table, bronze, version, paths, marker))
            results[table.name] = total
            continue
        if not is_delta_table(spark, paths.bronze(table.name)):
            results[table.name] = total
            continue
        token = uuid.uuid4().hex
        stream = observe_silver_input(
            typed_with_reasons(spark.readStream.format("delta").load(paths.bronze(table.name)), table)
        )
        query = runner.start(
            stream.writeStream.foreachBatch(silver_batch_writer(table, paths, token)),
            lake.checkpoint_name(f"silver_{table.name}"),
            bounded=True,
        )
        report = runner.wait({table.name: query})[table.name]
        results[table.name] = silver_stream_counts(spark, paths.silver(table.name), token, report)
    return results


# The silver stream's input and quarantined rows: metrics observed on the stream (in each batch's progress).
SILVER_INPUT_METRICS = "silver_input_counts"


def observe_silver_input(typed: DataFrame) -> DataFrame:
    return typed.observe(
        SILVER_INPUT_METRICS, F.count(F.lit(1)).alias("input"), F.count(REASON).alias("quarantined")
    )


def silver_batch_writer(
    table: TableContract, paths: SilverPaths, token: str
) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function of one table's silver stream. It uses the batch's own session: on the
    warm driver it runs beside the server, where the run's session and objects do not exist. cloudpickle
    ships it by value, and its contract unpickles as the worker's registered object
    (`TableContract.__reduce_ex__`), so the pipeline's `table is ORDERS` holds there. Its MERGE commit
    carries the run's token and the batch's newest versions (`silver_stream_counts` reads them back)."""

    def upsert(typed: DataFrame, batch_id: int) -> None:
        upsert_typed_batch(
            typed.sparkSession,
            table,
            typed,
            batch_id,
            paths,
            commit_metadata=lambda newest: {"run": token, "batch": batch_id, "newest_versions": newest},
        )

    return upsert


def silver_stream_counts(
    spark: SparkSession, silver_path: str, token: str, report: QueryReport
) -> dict[str, int]:
    """A silver stream's counts: input and quarantined observed on the stream, newest versions from this
    run's MERGE commits (a batch without valid rows merges nothing and commits nothing: 0). A batch merged
    twice in the run (a retry) counts once, as its last commit says."""
    newest: dict[int, int] = {}
    if report.batches:
        # The stream is the table's only writer besides the dimension propagation (one MERGE per batch at
        # most): this run's commits are among the last 2 per batch; the margin covers retries.
        marks = delta_sql.run_marks(spark, silver_path, token, 2 * report.batches + 10)
        newest = {batch: int(mark["newest_versions"]) for batch, mark in marks.items()}
    counts = {
        "input": int(report.observed.get("input", 0)),
        "quarantined": int(report.observed.get("quarantined", 0)),
        "newest_versions": sum(newest.values()),
    }
    counts["superseded_in_batch"] = counts["input"] - counts["quarantined"] - counts["newest_versions"]
    return counts


# --- bronze writes: Kafka micro-batches and CSV snapshots to Delta ------------------------------------


@dataclass
class BronzeCounts:
    """What a bronze ingest did, summed over its micro-batches: messages = rows + dead letters."""

    messages: int = 0
    rows: int = 0
    dead_letters: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    null_ids: int = 0  # bronze rows written with a null key (the bronze check's rule: must stay 0)


# A bronze stream's messages by outcome: metrics observed on the parsed stream (in each batch's progress).
BRONZE_METRICS = "bronze_message_counts"


def observe_messages(parsed: DataFrame, table: TableContract) -> DataFrame:
    """The parsed messages, observed: all of them, the usable ones, the usable ones with a null key (the
    bronze check's rule) and one count per reason a message is dead-lettered."""
    reason = F.col("reason")
    return parsed.observe(
        BRONZE_METRICS,
        F.count(F.lit(1)).alias("messages"),
        F.count_if(reason.isNull()).alias("rows"),
        F.coalesce(F.sum(F.when(reason.isNull(), null_key_flag(table))), F.lit(0)).alias("null_ids"),
        *[F.count_if(reason == name).alias(name) for name in message_reasons(table)],
    )


def bronze_counts(table: TableContract, report: QueryReport) -> BronzeCounts:
    """A bronze stream's observed metrics -> its counts, checked to add up (messages = rows + dead letters)."""
    observed = {name: int(value) for name, value in report.observed.items()}
    messages, rows, null_ids = (observed.pop(name, 0) for name in ("messages", "rows", "null_ids"))
    reasons = {name: n for name, n in observed.items() if n}
    if messages != rows + sum(reasons.values()):  # a reason outside message_reasons(): a parser bug
        raise RuntimeError(
            f"bronze_{table.name}: {messages} messages but {rows} rows and dead letters {reasons}; every "
            "reason parse_messages gives must be listed by transforms.message_reasons"
        )
    return BronzeCounts(
        messages=messages,
        rows=rows,
        dead_letters=sum(reasons.values()),
        reasons=reasons,
        batches=len(report.batch_ids),
        null_ids=null_ids,
    )


def bronze_batch_writer(
    table: TableContract, bronze_path: str, dead_letter_path: str
) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function of one topic's parsed stream: rows to bronze, the rest to the dead letters.

    Both appends carry Delta's (txnAppId, txnVersion) = (stream, batch id), so a micro-batch replayed
    after a crash is skipped by Delta instead of being written twice. The counts are the stream's
    observed metrics (`observe_messages`): nothing is counted into the run's objects, which the function
    cannot reach on the warm driver.
    """
    app_id = f"bronze_{table.name}"

    def write(batch: DataFrame, batch_id: int) -> None:
        parsed = batch.cache()
        try:
            rows = bronze_rows(parsed, table)
            (
                rows.write.format("delta")
                .mode("append")
                .partitionBy(INGESTION_DATE)
                .option("txnAppId", app_id)
                .option("txnVersion", batch_id)
                .save(bronze_path)
            )
            if not parsed.where(F.col("reason").isNotNull()).isEmpty():
                letters = dead_letter_frame(parsed, batch_id)
                (
                    letters.write.format("delta")
                    .mode("append")
                    .option("txnAppId", app_id + "_dead_letters")
                    .option("txnVersion", batch_id)
                    .save(dead_letter_path)
                )
        finally:
            parsed.unpersist()

    return write


def null_key_flag(table: TableContract):
    """1 for a row whose key (any key column) is null, else 0: the bronze check's rule, as a column."""
    if not table.keys:
        return F.lit(0)
    return F.when(F.expr(" OR ".join(f"`{k}` IS NULL" for k in table.keys)), 1).otherwise(0)


# --- batch-loaded CSVs (payments, reviews, geolocation, category translation) ------------------------


class CsvHeaderError(ValueError):
    """A CSV's header does not match its contract."""


def read_csv_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig") as handle:  # utf-8-sig: real Olist files start with a BOM
        first = handle.readline().strip()
    return [name.strip().strip('"') for name in first.split(",")]


MALFORMED_SCHEMA = "_source_file string, _line long, _quarantine_reason string, _field_count int, _raw string"


@dataclass(frozen=True)
class BatchLoad:
    """What one batch CSV became: rows in bronze, records quarantined for their field count (by rule).
    `skipped`: the file was the one already loaded (same content), so bronze kept that load."""

    rows: int
    malformed: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    null_ids: int = 0  # rows loaded with a null key (recorded with the load, reported by the bronze check)

    @property
    def quarantined(self) -> int:
        return sum(self.malformed.values())


def split_malformed_records(
    csv_path: Path, table: TableContract, clean_path: Path, timestamp_format: str | None = None
) -> list[tuple]:
    """Copy the records with the contract's field count to `clean_path`; return the others as quarantine
    rows (file, line, rule, field count, the record re-encoded). Spark's permissive reader would pad a short
    record with nulls and cut a long one, so the count is checked here, in one streaming pass.

    Timestamp columns are copied as ISO, read in the day/month order detected from all their values (a
    first pass over the file) or in `timestamp_format`; an ambiguous or mixed column raises
    TimestampFormatError naming the file, the column and the rule, before anything is written."""
    from shopflow_assets.timestamp_formats import detect_timestamp_format

    positions = [i for i, name in enumerate(table.columns) if table.types.get(name) == "timestamp"]
    formats = {}
    for i in positions:
        with open(csv_path, encoding="utf-8-sig", newline="") as source:
            values = [
                (r.line, r.fields[i]) for r in scan_csv_records(source, len(table.columns)) if r.rule is None
            ]
        formats[i] = detect_timestamp_format(
            values, source=str(csv_path), column=table.columns[i], declared=timestamp_format
        )
    malformed = []
    with (
        open(csv_path, encoding="utf-8-sig", newline="") as source,
        open(clean_path, "w", encoding="utf-8", newline="") as clean,
    ):
        writer = csv.writer(clean, lineterminator="\n")
        writer.writerow(table.columns)
        for record in scan_csv_records(source, len(table.columns)):
            if record.rule is None:
                for i, found in formats.items():
                    record.fields[i] = found.to_iso(record.fields[i])
                writer.writerow(record.fields)
            elif record.rule != "blank":
                raw = io.StringIO()
                csv.writer(raw, lineterminator="").writerow(record.fields)
                # an unbalanced quote or a field too large has no fields: its text as read, count unknown
                count = len(record.fields) if record.raw is None else None
                malformed.append(
                    (csv_path.name, record.line, record.rule, count, record.raw or raw.getvalue())
                )
    return malformed


def load_csv_to_bronze(
    spark: SparkSession,
    table: TableContract,
    csv_path: Path,
    bronze_path: str,
    malformed_path: str | None = None,
    timestamp_format: str | None = None,
) -> BatchLoad:
    """Land one CSV in bronze, replacing the previous load of that file (the file is the full snapshot).

    `_ingestion_timestamp` is the file's modification time: reloading the same file changes nothing
    downstream (silver only takes strictly newer versions), a newer file wins. Records with too few or too
    many fields go to `malformed_path` (replaced likewise) with their line number and rule.

    A file whose content is the one the last load recorded (SHA-256 in that Delta commit's userMetadata)
    is not read again: most runs are increments of the streamed tables with the same batch files.
    """
    fingerprint = file_fingerprint(csv_path)
    last_load = last_commit_metadata(spark, bronze_path)
    # A load recorded before null keys were counted has no "null_ids": it is read again, once.
    same_format = last_load.get("timestamp_format") == timestamp_format  # a new declared format reloads
    if last_load.get("source_sha256") == fingerprint and "null_ids" in last_load and same_format:
        return BatchLoad(
            int(last_load["rows"]),
            dict(last_load.get("malformed", {})),
            skipped=True,
            null_ids=int(last_load["null_ids"]),
        )
    schema = ", ".join(f"`{c}` string" for c in table.columns)
    malformed: list[tuple] = []
    # Under SHOPFLOW_HOME, not the system temp folder: a warm driver reads the cleaned copy too, and the
    # stack's Spark Connect server shares that home with the runs (its /tmp is its own).
    staging = get_settings().home / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    workdir = tempfile.TemporaryDirectory(prefix="olist-csv-", dir=staging)
    if not csv_path.is_file():
        # an optional file the folder lacks (check_olist_folder warned): an empty table, so gold still runs
        frame = spark.createDataFrame([], schema)
        modified = dt.datetime.now(dt.UTC).isoformat()
    else:
        header = read_csv_header(csv_path)
        if header != list(table.columns):
            raise CsvHeaderError(
                f"{csv_path}: header {header} differs from the {table.csv_name} contract {table.columns}"
            )
        modified = dt.datetime.fromtimestamp(csv_path.stat().st_mtime, dt.UTC).isoformat()
        clean_path = Path(workdir.name) / csv_path.name
        malformed = split_malformed_records(csv_path, table, clean_path, timestamp_format)
        frame = (
            spark.read.schema(schema)
            .option("header", True)
            .option("multiLine", True)  # review comments contain line breaks inside quotes
            .option("escape", '"')
            .option("mode", "PERMISSIVE")  # field counts were checked above
            .csv(str(clean_path))
        )
    # spreadsheet exports append thousands of blank `,,,,` rows: they are not records
    frame = frame.na.drop(how="all", subset=list(table.columns))
    rows = frame.select(
        *table.columns,
        F.lit(modified).alias(INGESTION_TS),
        F.current_timestamp().alias("_bronze_ingested_at"),
        F.lit(csv_path.name).alias("_source_file"),
        F.to_date(F.lit(modified).try_cast("timestamp")).alias(INGESTION_DATE),
    )
    counts: dict[str, int] = {}
    for *_, rule, _count, _raw in malformed:
        counts[rule] = counts.get(rule, 0) + 1
    if malformed_path is not None:
        # Before bronze: a failure in between then reloads the file next run (bronze is the one that
        # records the fingerprint), instead of skipping it with a stale quarantine.
        spark.createDataFrame(malformed, MALFORMED_SCHEMA).write.format("delta").mode("overwrite").option(
            "overwriteSchema", "true"
        ).save(malformed_path)
    with workdir:
        rows = rows.persist()
        summary = rows.agg(F.count("*").alias("n"), F.sum(null_key_flag(table)).alias("null_ids")).first()
        loaded, null_ids = int(summary["n"]), int(summary["null_ids"] or 0)
        metadata = {
            "source_sha256": fingerprint,
            "rows": loaded,
            "malformed": counts,
            "null_ids": null_ids,
            "timestamp_format": timestamp_format,
        }
        rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").option(
            "userMetadata", json.dumps(metadata)
        ).partitionBy(INGESTION_DATE).save(bronze_path)
        rows.unpersist()
    return BatchLoad(loaded, counts, null_ids=null_ids)


def file_fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes ("missing" for an optional file that is absent)."""
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- silver Delta steps: MERGE of the newest valid rows, quarantine, propagation ------------------------


@dataclass(frozen=True)
class SilverPaths:
    """Where each marketplace table lives (built by the assets from the lake path scheme)."""

    bronze_root: str
    silver_root: str
    quarantine_root: str

    def bronze(self, name: str) -> str:
        return f"{self.bronze_root}/{name}"

    def silver(self, name: str) -> str:
        return f"{self.silver_root}/{name}"

    def quarantine(self, name: str) -> str:
        return f"{self.quarantine_root}/silver_{name}"


def read_delta(spark: SparkSession, path: str) -> DataFrame | None:
    return spark.read.format("delta").load(path) if is_delta_table(spark, path) else None


def merge_newest(
    spark: SparkSession,
    rows: DataFrame,
    path: str,
    keys: tuple[str, ...],
    commit_metadata: dict | None = None,
) -> None:
    """Upsert: insert new keys; update a key only with a strictly newer `_ingestion_timestamp`.
    `commit_metadata` is recorded as the MERGE commit's userMetadata (JSON)."""
    if not is_delta_table(spark, path):
        # An empty table first, so the very first batch goes through the same MERGE as every other one.
        rows.limit(0).write.format("delta").mode("append").save(path)
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    newer = f"s.`{INGESTION_TS}` > t.`{INGESTION_TS}`"
    delta_sql.merge(
        spark,
        rows,
        f"MERGE INTO delta.`{path}` AS t USING {{source}} AS s ON {on} "  # nosec B608 - our path, contract names
        f"WHEN MATCHED AND {newer} THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
        commit_metadata,
    )


def propagate(
    spark: SparkSession, changed: DataFrame, target_path: str, join_col: str, cols: tuple[str, ...]
) -> None:
    """Refresh enrichment columns of an existing fact table from dimension rows that just changed."""
    if not is_delta_table(spark, target_path):
        return
    differs = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in cols)
    source = changed.select(join_col, *cols)
    # Most increments bring dimension rows whose facts were enriched when they were inserted (dimensions
    # are built first): one join answers whether any fact is stale, and the MERGE (several jobs and a
    # commit, about 2 s per dimension on 2 cores) runs only when one is.
    stale = (
        spark.read.format("delta")
        .load(target_path)
        .alias("t")
        .join(source.alias("s"), F.col(f"t.`{join_col}`") == F.col(f"s.`{join_col}`"))
        .where(differs)
    )
    if stale.isEmpty():
        return
    sets = ", ".join(
        [f"t.`{c}` = s.`{c}`" for c in cols] + [f"t.`{SILVER_UPDATED_AT}` = current_timestamp()"]
    )
    delta_sql.merge(
        spark,
        source,
        f"MERGE INTO delta.`{target_path}` AS t USING {{source}} AS s "  # nosec B608 - our path, contract names
        f"ON t.`{join_col}` = s.`{join_col}` WHEN MATCHED AND ({differs}) THEN UPDATE SET {sets}",
    )


def append_idempotent(df: DataFrame, path: str, app_id: str, batch_id: int) -> None:
    """Append once per (stream, batch): a retried micro-batch is skipped by Delta's txn markers."""
    (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", batch_id)
        .option("mergeSchema", "true")
        .save(path)
    )


def upsert_silver_batch(
    spark: SparkSession,
    table: TableContract,
    bronze_batch: DataFrame,
    batch_id: int,
    paths: SilverPaths,
    commit_metadata: dict | None = None,
) -> dict[str, int]:
    """One micro-batch of bronze rows into silver; returns the counts (input = valid + quarantined).
    `commit_metadata` goes with the silver MERGE commit."""
    extra = commit_metadata or {}
    return upsert_typed_batch(
        spark,
        table,
        typed_with_reasons(bronze_batch, table),
        batch_id,
        paths,
        (lambda _newest: extra) if commit_metadata is not None else None,
    )


def upsert_typed_batch(
    spark: SparkSession,
    table: TableContract,
    typed: DataFrame,
    batch_id: int,
    paths: SilverPaths,
    commit_metadata: Callable[[int], dict] | None = None,
) -> dict[str, int]:
    """`upsert_silver_batch` of rows already typed (`typed_with_reasons`), as the silver stream gives them.
    `commit_metadata` (newest versions) -> the silver MERGE commit's userMetadata."""
    typed = typed.cache()
    try:
        valid, quarantined = split_valid(typed)
        newest = newest_per_key(valid, table.keys)
        if table is PRODUCTS:
            newest = enrich_products(newest, read_delta(spark, paths.bronze("category_translation")))
        elif table is ORDERS:
            newest = enrich_orders(newest, read_delta(spark, paths.silver(CUSTOMERS.name)))
        elif table is ORDER_ITEMS:
            newest = enrich_order_items(
                newest,
                read_delta(spark, paths.silver(PRODUCTS.name)),
                read_delta(spark, paths.silver(SELLERS.name)),
            )
        newest = newest.withColumn(SILVER_UPDATED_AT, F.current_timestamp()).cache()
        # input and quarantined in one pass over the cached batch
        split = typed.agg(F.count("*").alias("input"), F.count(REASON).alias("quarantined")).first()
        counts = {
            "input": int(split["input"]),
            "quarantined": int(split["quarantined"]),
            "newest_versions": newest.count(),
        }
        counts["superseded_in_batch"] = counts["input"] - counts["quarantined"] - counts["newest_versions"]
        metadata = commit_metadata(counts["newest_versions"]) if commit_metadata is not None else None
        merge_newest(spark, newest, paths.silver(table.name), table.keys, metadata)
        if counts["quarantined"]:
            append_idempotent(
                quarantined.withColumn("_batch_id", F.lit(batch_id)).withColumn(
                    "_quarantined_at", F.current_timestamp()
                ),
                paths.quarantine(table.name),
                app_id=f"silver_{table.name}_quarantine",
                batch_id=batch_id,
            )
        _propagate_dimension(spark, table, newest.select(*table.keys), paths)
        newest.unpersist()
        return counts
    finally:
        typed.unpersist()


def _propagate_dimension(
    spark: SparkSession, table: TableContract, batch_keys: DataFrame, paths: SilverPaths
) -> None:
    """A dimension that arrives after its facts fills in (or corrects) their enrichment columns.

    The values come from silver after the MERGE (not from the batch), so a late, older message in the
    batch cannot push stale values into the facts.
    """
    if table not in (CUSTOMERS, PRODUCTS, SELLERS):
        return
    current = spark.read.format("delta").load(paths.silver(table.name))
    changed = current.join(batch_keys, list(table.keys), "left_semi")
    if table is CUSTOMERS:
        propagate(spark, changed, paths.silver(ORDERS.name), "customer_id", ENRICHMENT["orders"])
    elif table is PRODUCTS:
        cols = ("product_category_name", "product_category_name_english")
        propagate(spark, changed, paths.silver(ORDER_ITEMS.name), "product_id", cols)
    else:
        cols = ("seller_zip_code_prefix", "seller_city", "seller_state")
        propagate(spark, changed, paths.silver(ORDER_ITEMS.name), "seller_id", cols)
