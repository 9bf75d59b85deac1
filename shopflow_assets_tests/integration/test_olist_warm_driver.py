"""The Olist lakehouse on the warm driver: bronze -> silver attached to the stack's Spark Connect server.

The same generated Olist messages and CSVs go through the flow twice, each into a lake namespace of its
own: once in a child process attached to the server (where the foreachBatch functions run beside it and
their counts come back as observed metrics and Delta commit metadata), once in this process with an
in-process SparkSession. Every count (messages, dead letters by reason, rows merged, quarantined,
superseded) and every silver table must be the same, and equal to what the producer sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from shopflow_assets.contracts.marketplace import SILVER_ORDER, STREAMED
from shopflow_assets.settings import PROJECT_ROOT, reload_settings
from shopflow_assets_tests.support.cleanup import delete_topics, lake_namespace_prefixes, remove_from_lake

pytestmark = pytest.mark.stack

BATCH_SIZE = 100  # messages per micro-batch: several batches per large topic, each counted apart

# Runs in a process of its own: pyspark turns a whole process into Connect mode once it attaches.
FLOW = textwrap.dedent(
    """
    import json, sys
    from dataclasses import asdict
    from pathlib import Path
    from pyspark.sql import functions as F
    from shopflow_assets.contracts.marketplace import ENRICHMENT, SILVER_ORDER
    from shopflow_assets.domains.marketplace.pipeline import (
        MarketplaceLake, build_silver, ingest_bronze, load_batch_bronze, read_delta,
    )
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.resources.spark import get_spark_session
    from shopflow_assets.resources.streaming.resource import SparkStreamingResource
    from shopflow_assets.settings import reload_settings

    namespace, suffix, csv_dir, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    settings = reload_settings()
    spark = get_spark_session(settings)
    lake = MarketplaceLake(build_lake(settings).uri, namespace)
    streaming = SparkStreamingResource(max_offsets_per_trigger=batch)
    bronze = ingest_bronze(spark, lake, settings.kafka_bootstrap_servers, topic_suffix=suffix, streaming=streaming)
    loads = load_batch_bronze(spark, lake, Path(csv_dir))
    silver = build_silver(spark, lake, streaming=streaming)
    again = build_silver(spark, lake, streaming=streaming)  # nothing new: all zero, batch tables skipped
    tables = {}
    for table in SILVER_ORDER:
        silver_rows = spark.read.format("delta").load(lake.paths.silver(table.name))
        # every column silver holds, the enrichment joins' included; not the times of this run's writes
        compared = sorted(set(silver_rows.columns) - {"_silver_updated_at", "_bronze_ingested_at"})
        row_hash = F.hash(*compared).cast("long")  # sums without overflow
        enriched = [F.count(c).alias(c) for c in ENRICHMENT.get(table.name, ())]  # non-null values
        summary = silver_rows.agg(F.count("*").alias("rows"), F.sum(row_hash).alias("hash"), *enriched).first()
        quarantine = read_delta(spark, lake.paths.quarantine(table.name))
        tables[table.name] = {
            "columns": compared,
            "enriched": {c: summary[c] for c in ENRICHMENT.get(table.name, ())},
            "rows": summary["rows"],
            "hash": summary["hash"],
            "quarantined": quarantine.count() if quarantine is not None else 0,
        }
    print(json.dumps({
        "session": type(spark).__module__,
        "bronze": {name: asdict(counts) for name, counts in bronze.items()},
        "loads": {name: asdict(load) for name, load in loads.items()},
        "silver": silver,
        "again": again,
        "tables": tables,
    }))
    """
)


def run_flow(namespace: str, suffix: str, csv_dir, *, remote: str | None) -> dict:
    env = {**os.environ, "SHOPFLOW_ENV": "docker", "SHOPFLOW_WARM_DRIVER": "off"}
    env.pop("SPARK_REMOTE", None)
    if remote:
        env["SPARK_REMOTE"] = remote
    result = subprocess.run(
        [sys.executable, "-c", FLOW, namespace, suffix, str(csv_dir), str(BATCH_SIZE)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    # the Python traceback, without the JVM frames a Connect error carries
    python_lines = [line for line in result.stderr.splitlines() if not line.startswith("\tat ")]
    assert result.returncode == 0, "\n".join(python_lines)[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def olist_run(tmp_path):
    """Generated Olist CSVs, their messages in topics of this test's own, two lake namespaces; all removed
    afterwards."""

    from shopflow_assets.datagen.olist import generate_olist
    from shopflow_assets.devstack import require_healthy
    from shopflow_assets.devstack.spark_connect import remote_url
    from shopflow_assets_tests.support.marketplace import produce

    settings = reload_settings().model_copy(update={"env": "docker"})
    require_healthy("spark-connect", settings)
    run_id = uuid.uuid4().hex[:8]
    csv_dir = tmp_path / "olist"
    generate_olist(csv_dir, scale=0.002, seed=31)
    manifest = produce(csv_dir, f"warm{run_id}", update_rate=0.05)
    namespaces = {"warm": f"warm-{run_id}", "local": f"local-{run_id}"}
    yield {
        "server": remote_url(settings),
        "suffix": f"warm{run_id}",
        "csv_dir": csv_dir,
        "manifest": manifest,
        "namespaces": namespaces,
    }
    for namespace in namespaces.values():
        remove_from_lake(settings, lake_namespace_prefixes(namespace))
    delete_topics(settings, [f"{table.topic}_warm{run_id}" for table in STREAMED])


def test_olist_bronze_to_silver_on_the_warm_driver_counts_exactly_as_in_process(olist_run):
    run = olist_run
    warm = run_flow(run["namespaces"]["warm"], run["suffix"], run["csv_dir"], remote=run["server"])
    local = run_flow(run["namespaces"]["local"], run["suffix"], run["csv_dir"], remote=None)
    assert warm["session"].startswith("pyspark.sql.connect")  # attached, not started in the child
    assert not local["session"].startswith("pyspark.sql.connect")

    # Bronze: every message sent is a row or a dead letter, by reason, as in process.
    manifest = run["manifest"]
    for table in STREAMED:
        sent = manifest.topics[f"{table.topic}_{run['suffix']}"]
        counts = warm["bronze"][table.name]
        assert (counts["messages"], counts["dead_letters"]) == (sent.sent, sent.bad), table.name
        assert counts["rows"] == sent.sent - sent.bad and sum(counts["reasons"].values()) == sent.bad
        assert counts["batches"] >= -(-sent.sent // BATCH_SIZE), table.name  # at most BATCH_SIZE each
    assert warm["bronze"] == local["bronze"]
    assert warm["loads"] == local["loads"]

    # Silver: rows merged (newest versions), quarantined and superseded, table by table, as in process.
    assert warm["silver"] == local["silver"]
    for name, counts in warm["silver"].items():
        parts = counts["quarantined"] + counts["newest_versions"] + counts["superseded_in_batch"]
        assert counts["input"] == parts, name
    assert sum(warm["bronze"][t.name]["rows"] for t in STREAMED) == sum(
        warm["silver"][t.name]["input"] for t in STREAMED
    )
    # A second run finds nothing new: the checkpoints and the merged bronze versions say so on both.
    assert warm["again"] == local["again"]
    for table in SILVER_ORDER:
        again = warm["again"][table.name]
        assert (again["input"], again["newest_versions"]) == (0, 0), table.name
        if table.topic is None:
            assert again.get("unchanged_bronze_skipped") == 1, table.name

    # The tables themselves: the same rows (count and a hash over every row) in both namespaces.
    assert warm["tables"] == local["tables"]
    for table in SILVER_ORDER:
        rows, quarantined = warm["tables"][table.name]["rows"], warm["tables"][table.name]["quarantined"]
        assert rows > 0, table.name
        # The enrichment joins ran (inside foreachBatch on the server): most facts found their dimensions.
        for column, filled in warm["tables"][table.name]["enriched"].items():
            assert filled > rows // 2, (table.name, column, filled, rows)
        assert quarantined == sum(
            c["quarantined"] for c in (warm["silver"][table.name], warm["again"][table.name])
        ), table.name
