"""The marketplace flow as plain functions over a SparkSession and the lake path scheme.

Assets, the end-to-end test and the benchmark all run these: bounded (`availableNow`) Kafka -> bronze
streams, CSV -> bronze loads, bounded bronze -> silver streams (`foreachBatch` + MERGE), in the order
that lets facts see their dimensions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from shopflow_assets.contracts.marketplace import (
    BATCH_LOADED,
    SILVER_ORDER,
    STREAMED,
    TableContract,
)
from shopflow_assets.domains.marketplace.bronze import (
    BronzeCounts,
    bronze_batch_writer,
    load_csv_to_bronze,
)
from shopflow_assets.domains.marketplace.silver import SilverPaths, read_delta, upsert_silver_batch
from shopflow_assets.resources.streaming import SparkStreamingResource, kafka_stream

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

    @property
    def duckdb_lakehouse_root(self) -> str:
        """What dbt's `olist_lake_root` var is: the lakehouse bucket as DuckDB addresses it."""
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
    counts = {table.name: BronzeCounts() for table in tables}
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
        writer = records.writeStream.foreachBatch(
            bronze_batch_writer(
                table, lake.paths.bronze(table.name), lake.dead_letters(table), counts[table.name]
            )
        )
        name = lake.checkpoint_name(f"bronze_{table.name}")
        queries[table.name] = runner.start(writer, name, bounded=True)
    runner.wait(queries)
    return counts


def load_batch_bronze(
    spark: SparkSession,
    lake: MarketplaceLake,
    csv_dir: Path,
    tables: tuple[TableContract, ...] = BATCH_LOADED,
) -> dict[str, int]:
    """Payments, reviews, geolocation and the category translation from their CSVs into bronze. The
    folder is checked first (a missing required file fails before any load; reviews and geolocation are
    optional and load as empty tables)."""
    from shopflow_assets.datagen.olist_files import check_olist_folder

    check_olist_folder(Path(csv_dir), [f"{table.csv_name}.csv" for table in tables])
    return {
        table.name: load_csv_to_bronze(
            spark, table, Path(csv_dir) / f"{table.csv_name}.csv", lake.paths.bronze(table.name)
        )
        for table in tables
    }


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        total[key] = total.get(key, 0) + value


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
            bronze = read_delta(spark, paths.bronze(table.name))
            if bronze is not None:
                version = spark.sql(f"DESCRIBE HISTORY delta.`{paths.bronze(table.name)}` LIMIT 1").first()[0]
                _add(total, upsert_silver_batch(spark, table, bronze, int(version), paths))
            results[table.name] = total
            continue
        if read_delta(spark, paths.bronze(table.name)) is None:
            results[table.name] = total
            continue

        def upsert(batch: DataFrame, batch_id: int, table: TableContract = table, total=total) -> None:
            _add(total, upsert_silver_batch(spark, table, batch, batch_id, paths))

        stream = spark.readStream.format("delta").load(paths.bronze(table.name))
        query = runner.start(
            stream.writeStream.foreachBatch(upsert),
            lake.checkpoint_name(f"silver_{table.name}"),
            bounded=True,
        )
        runner.wait({table.name: query})
        results[table.name] = total
    return results
