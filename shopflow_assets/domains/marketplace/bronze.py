"""Kafka -> Delta bronze for the streamed Olist topics, and CSV -> Delta bronze for the batch-loaded files.

Bronze keeps every source column as the string that was sent (typing is silver's job), plus where the
message came from (`_kafka_partition`, `_kafka_offset`, `_kafka_timestamp`), `_bronze_ingested_at` and the
`_ingestion_date` partition. A message bronze cannot use goes to the dead-letter table with its reason,
topic, partition and offset: not JSON / not an object, a primary key missing, or `_ingestion_timestamp`
missing or not a string (without it no one can tell which version of a row is newest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shopflow_assets.contracts.marketplace import INGESTION_TS, TableContract
from shopflow_assets.resources.streaming import (
    dead_letter_frame,
    first_reason,
    json_string,
    json_type,
    parse_json_object,
    present_with_wrong_type,
)

INGESTION_DATE = "_ingestion_date"


def parse_messages(records: DataFrame, table: TableContract) -> DataFrame:
    """Kafka records (value, topic, partition, offset, kafka_timestamp) -> source columns + `reason`.

    `reason` is null for a usable message. Numbers sent as JSON numbers are kept as their text.
    """
    variant = parse_json_object(F.col("value"))
    checks = [
        (variant.isNull(), "not_json"),
        (~json_type(variant, "$").startswith("OBJECT"), "not_a_json_object"),
        *[(json_string(variant, f"$.{key}").isNull(), f"missing_key_{key}") for key in table.keys],
        (present_with_wrong_type(variant, f"$.{INGESTION_TS}", "STRING"), f"wrong_type_{INGESTION_TS}"),
        (json_string(variant, f"$.{INGESTION_TS}").isNull(), f"missing_{INGESTION_TS}"),
    ]
    return records.select(
        *[json_string(variant, f"$.{column}").alias(column) for column in (*table.columns, INGESTION_TS)],
        "value",
        "topic",
        "partition",
        "offset",
        "kafka_timestamp",
        first_reason(checks).alias("reason"),
    )


def bronze_rows(parsed: DataFrame, table: TableContract) -> DataFrame:
    """The usable messages shaped as bronze rows, partitioned by the date of `_ingestion_timestamp`."""
    ingested_at = F.current_timestamp()
    event_date = F.to_date(F.col(INGESTION_TS).try_cast("timestamp"))
    return parsed.where(F.col("reason").isNull()).select(
        *table.columns,
        INGESTION_TS,
        F.col("partition").alias("_kafka_partition"),
        F.col("offset").alias("_kafka_offset"),
        F.col("kafka_timestamp").alias("_kafka_timestamp"),
        ingested_at.alias("_bronze_ingested_at"),
        F.coalesce(event_date, F.to_date(ingested_at)).alias(INGESTION_DATE),
    )


@dataclass
class BronzeCounts:
    """What a bronze ingest did, summed over its micro-batches: messages = rows + dead letters."""

    messages: int = 0
    rows: int = 0
    dead_letters: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    batches: int = 0


def bronze_batch_writer(
    table: TableContract, bronze_path: str, dead_letter_path: str, counts: BronzeCounts
) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function of one topic's stream: rows to bronze, the rest to the dead letters.

    Both appends carry Delta's (txnAppId, txnVersion) = (stream, batch id), so a micro-batch replayed
    after a crash is skipped by Delta instead of being written twice.
    """
    app_id = f"bronze_{table.name}"

    def write(batch: DataFrame, batch_id: int) -> None:
        parsed = parse_messages(batch, table).cache()
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
            letters = dead_letter_frame(parsed, batch_id)
            reasons = {
                r["reason"]: r["n"] for r in letters.groupBy("reason").agg(F.count("*").alias("n")).collect()
            }
            if reasons:
                (
                    letters.write.format("delta")
                    .mode("append")
                    .option("txnAppId", app_id + "_dead_letters")
                    .option("txnVersion", batch_id)
                    .save(dead_letter_path)
                )
            total = parsed.count()
            counts.batches += 1
            counts.messages += total
            counts.dead_letters += sum(reasons.values())
            counts.rows += total - sum(reasons.values())
            for reason, n in reasons.items():
                counts.reasons[reason] = counts.reasons.get(reason, 0) + n
        finally:
            parsed.unpersist()

    return write


# --- batch-loaded CSVs (payments, reviews, geolocation, category translation) ------------------------


class CsvHeaderError(ValueError):
    """A CSV's header does not match its contract."""


def read_csv_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig") as handle:  # utf-8-sig: real Olist files start with a BOM
        first = handle.readline().strip()
    return [name.strip().strip('"') for name in first.split(",")]


def load_csv_to_bronze(spark: SparkSession, table: TableContract, csv_path: Path, bronze_path: str) -> int:
    """Land one CSV in bronze, replacing the previous load of that file (the file is the full snapshot).

    `_ingestion_timestamp` is the file's modification time: reloading the same file changes nothing
    downstream (silver only takes strictly newer versions), a newer file wins.
    """
    schema = ", ".join(f"`{c}` string" for c in table.columns)
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
        frame = (
            spark.read.schema(schema)
            .option("header", True)
            .option("multiLine", True)  # review comments contain line breaks inside quotes
            .option("escape", '"')
            .option("mode", "PERMISSIVE")
            .csv(str(csv_path.resolve()))
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
    rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").partitionBy(
        INGESTION_DATE
    ).save(bronze_path)
    return spark.read.format("delta").load(bronze_path).count()
