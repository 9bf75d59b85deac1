"""The marketplace (Olist) flow's steps as tests drive them: generated CSVs produced to Kafka topics of a
test's own (produce), a small dataset through the real silver MERGE (load_silver), and dbt's Olist models
built on a local lake (dbt_build)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from shopflow_assets.contracts.marketplace import SILVER_ORDER
from shopflow_assets.datagen.events import OlistOptions, OlistStream, Ratios
from shopflow_assets.datagen.producer import Pace, ensure_topics, send
from shopflow_assets.domains.marketplace.pipeline import SilverPaths, upsert_silver_batch
from shopflow_assets.resources.warehouse import ensure_extension_directory
from shopflow_assets.settings import PROJECT_ROOT

DBT_DIR = PROJECT_ROOT / "dbt_project"


def produce(csv_dir: Path, suffix: str, update_rate: float) -> object:
    options = OlistOptions(
        source=csv_dir,
        seed=5,
        topic_suffix=suffix,
        update_rate=update_rate,
        ratios=Ratios(duplicate_rate=0.02, late_rate=0.05, bad_rate=0.01),
    )
    ensure_topics({options.topic(t): 2 for t in options.tables})
    return send(
        "olist",
        OlistStream(options).chunks(lambda: dt.datetime.now(dt.UTC).timestamp()),
        pace=Pace(),
        progress=False,
    )


def load_silver(spark, paths: SilverPaths, tables: dict[str, pd.DataFrame], ingested_at: str, batch_id: int):
    translation = tables["category_translation"]
    spark.createDataFrame(translation).write.format("delta").mode("overwrite").save(
        paths.bronze("category_translation")
    )
    for table in SILVER_ORDER:
        frame = tables.get(table.name)
        if frame is None or frame.empty:
            continue
        frame = frame.fillna("").astype(str).assign(_ingestion_timestamp=ingested_at)
        upsert_silver_batch(spark, table, spark.createDataFrame(frame), batch_id, paths)


def dbt_build(lake_root: str, warehouse: Path) -> None:
    env = os.environ | {
        "SHOPFLOW_DUCKDB_PATH": str(warehouse),
        "SHOPFLOW_DUCKDB_EXTENSION_DIR": str(ensure_extension_directory()),
        "SHOPFLOW_OLIST_LAKE_ROOT": lake_root,
    }
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [
            str(dbt),
            "build",
            "--select",
            "tag:olist",
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            str(warehouse.parent / "dbt_target"),
        ],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
