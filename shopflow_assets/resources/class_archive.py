"""Class-data sharing for the Spark driver: the classes every run loads, mapped from one archive.

A new JVM parses and verifies some 20,000 classes from Spark's, Delta's, Kafka's and Hadoop's jars before
the first query runs; every Dagster run, test process and CLI command is a new JVM, so small runs pay it
each time. HotSpot's dynamic class-data sharing records the loaded classes once (`ArchiveClassesAtExit`)
and maps them on later starts (`SharedArchiveFile`). Measured on the 2-core machine with
`bench/bench_spark_start.py` (docs/runtime.md): session start 5.0 -> 3.5 s, the first Delta write
3.7 -> 2.7 s.

The archive is only valid for the JVM and the classpath that wrote it, so its file name carries a digest
of both, and a JVM that finds it stale or unreadable starts without it (silently: `-Xshare:auto` with the
CDS log off). Nothing depends on it being there; `shopflow spark class-archive` writes it, and `make test`
runs that first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from shopflow_assets.settings import Settings, get_settings

# Without these a JVM prints a warning for a stale archive, and the recording run one per class it skips.
QUIET_CDS = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def java_binary() -> Path | None:
    """The `java` PySpark launches (JAVA_HOME first, like spark-submit), resolved through symlinks."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).exists() else None


def archive_path(settings: Settings, jars: list[Path]) -> Path | None:
    """Where the archive for this JVM, PySpark and jar set lives (None without a java to key it by)."""
    import pyspark

    java = java_binary()
    if java is None:
        return None
    runtime = java.parent.parent / "lib" / "server" / "libjvm.so"
    stamp = runtime.stat().st_mtime_ns if runtime.exists() else java.stat().st_mtime_ns
    key = "\n".join([str(java), str(stamp), pyspark.__version__, *sorted(str(jar) for jar in jars)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return settings.jars_dir / f"classes-{digest}.jsa"  # beside the jars: homes that share them share it


def use_options(settings: Settings, jars: list[Path]) -> str:
    """Driver JVM options that map the archive when it exists ("" otherwise)."""
    path = archive_path(settings, jars)
    if path is None or not path.is_file():
        return ""
    return f"-XX:SharedArchiveFile={path} -Xshare:auto {QUIET_CDS}"


def build(settings: Settings | None = None, *, force: bool = False) -> Path:
    """Write the archive for the current JVM and jars (a no-op when it exists, unless `force`).

    A child process runs a small workload that touches what the pipelines load (Delta write, MERGE and
    streaming read, Parquet, CSV, JSON parsing, the Kafka source) and the JVM writes the classes it loaded
    when it exits; the file is then renamed into place, so a concurrent reader never sees half of it.
    """
    from shopflow_assets.resources.spark_jars import ensure_spark_jars

    settings = settings or get_settings()
    target = archive_path(settings, ensure_spark_jars(settings))
    if target is None:
        raise RuntimeError("no java found (JAVA_HOME or PATH): Spark cannot start either")
    if target.is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="class-archive-", dir=target.parent) as work:
        partial = Path(work) / target.name
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import {__name__} as a, sys; a._record(*map(a.Path, sys.argv[1:]))",
                partial,
                work,
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not partial.is_file():
            raise RuntimeError(f"class archive: the recording run failed:\n{done.stdout}\n{done.stderr}")
        os.replace(partial, target)
    return target


def _record(archive: Path, workdir: Path) -> None:
    """The recording run (in its own process): start Spark with ArchiveClassesAtExit and exercise it."""
    from pyspark.sql import functions as F

    from shopflow_assets.resources.spark import driver_java_options, get_spark_session, stop_spark_session

    settings = get_settings()
    options = f"{driver_java_options(settings)} -XX:ArchiveClassesAtExit={archive} {QUIET_CDS}"
    spark = get_spark_session(settings, "shopflow-class-archive", {"spark.driver.extraJavaOptions": options})
    table, copy = str(workdir / "table"), str(workdir / "copy")
    rows = spark.range(1000).select(
        F.col("id"), (F.col("id") % 7).alias("k"), F.to_json(F.struct("id")).alias("value")
    )
    rows.write.format("delta").save(table)
    parsed = spark.read.format("delta").load(table).select("id", "k", F.parse_json("value").alias("v"))
    parsed.groupBy("k").agg(F.count("*"), F.max("id")).collect()
    parsed.select("id", F.from_json(F.to_json(F.col("v")), "id long").alias("j")).write.parquet(copy)
    spark.read.parquet(copy).select("id", "j.id").write.mode("overwrite").option("header", True).csv(
        copy + "_csv"
    )
    spark.read.option("header", True).csv(copy + "_csv").count()

    from delta.tables import DeltaTable

    updates = spark.range(500, 1500).select(
        F.col("id"), (F.col("id") % 5).alias("k"), F.lit("{}").alias("value")
    )
    DeltaTable.forPath(spark, table).alias("t").merge(
        updates.alias("s"), "t.id = s.id"
    ).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
    DeltaTable.forPath(spark, table).history(1).collect()

    def sink(batch, batch_id):
        batch.write.format("delta").mode("append").save(copy + "_stream")

    query = (
        spark.readStream.format("delta")
        .load(table)
        .writeStream.foreachBatch(sink)
        .option("checkpointLocation", str(workdir / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    # The Kafka source's classes load when the stream is defined; no broker is contacted.
    kafka = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", "127.0.0.1:9")
        .option("subscribe", "none")
        .load()
    )
    assert "value" in kafka.select(F.col("value").cast("string").alias("value")).columns
    gateway = spark.sparkContext._gateway
    stop_spark_session()
    # The JVM writes the archive as it exits, after this process would have: end it here and wait.
    gateway.proc.stdin.close()
    gateway.proc.wait(timeout=300)
