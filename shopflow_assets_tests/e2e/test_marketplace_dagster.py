"""The olist_pipeline job through Dagster on the real services: every asset materializes, every check passes.

Runs on its own topics (raw_*_<id>) and lake namespace, with its own warehouse file.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid

import dagster as dg
import duckdb
import pytest

from shopflow_assets.contracts.marketplace import STREAMED
from shopflow_assets.datagen.events import OlistOptions, OlistStream, Ratios
from shopflow_assets.datagen.olist import generate_olist
from shopflow_assets.datagen.producer import Pace, ensure_topics, send
from shopflow_assets.settings import reload_settings

pytestmark = pytest.mark.stack


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings with this test's own warehouse file; the cached settings are restored afterwards."""
    monkeypatch.setenv("SHOPFLOW_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    yield reload_settings()
    monkeypatch.undo()
    reload_settings()


def test_olist_pipeline_job_materializes_everything_and_passes_its_checks(tmp_path, settings):
    run_id = uuid.uuid4().hex[:8]
    csv_dir = tmp_path / "olist"
    generate_olist(csv_dir, scale=0.002, seed=7)
    options = OlistOptions(source=csv_dir, topic_suffix=run_id, ratios=Ratios(0.02, 0.05, 0.01))
    ensure_topics({options.topic(t): 1 for t in options.tables})
    manifest = send(
        "olist",
        OlistStream(options).chunks(lambda: dt.datetime.now(dt.UTC).timestamp()),
        pace=Pace(),
        progress=False,
    )

    from shopflow_assets.domains.marketplace.definitions import defs
    from shopflow_assets.resources import build_resources

    repo = dg.Definitions.merge(
        defs, dg.Definitions(resources=build_resources(settings))
    ).get_repository_def()
    job = repo.get_job("olist_pipeline")
    run_config = {"namespace": f"dagster-{run_id}", "topic_suffix": run_id}
    ops = {
        name: {"config": run_config}
        for name in (
            "marketplace__olist_topic_offsets",
            "olist_bronze_streams",
            "olist_silver",
            "olist_dbt_models",
        )
    }
    ops["olist_bronze_batch"] = {"config": run_config | {"csv_dir": str(csv_dir)}}
    result = job.execute_in_process(run_config={"ops": ops}, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]

    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {f"marketplace/silver_{t.name}" for t in STREAMED} <= materialized
    assert "marketplace/gold_daily_sales" in materialized
    checks = [
        e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    assert {
        "unique_keys",
        "allowed_statuses",
        "fresh",
        "assert_gold_revenue_equals_silver",  # the dbt reconciliation test, as a check on gold_daily_sales
    } <= {c.check_name for c in checks}
    bronze = {
        e.asset_key.path[-1]: e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1].startswith("bronze_")
        and "messages" in e.event_specific_data.materialization.metadata
    }
    for table in STREAMED:
        meta = bronze[f"bronze_{table.name}"]
        sent = manifest.topics[f"{table.topic}_{run_id}"]
        assert meta["messages"].value == sent.sent
        assert meta["rows"].value + meta["dead_letters"].value == sent.sent
    # What the Kafka sensor sees: nothing left after the run, one message after one more is sent.
    from shopflow_assets.domains.marketplace.automation import bronze_lag
    from shopflow_assets.resources.kafka import KafkaResource
    from shopflow_assets.resources.lake import LakeResource

    kafka, lake = KafkaResource(), LakeResource()
    assert sum(bronze_lag(kafka, lake, f"dagster-{run_id}", run_id).values()) == 0
    producer = kafka.producer()
    producer.produce(f"raw_sellers_{run_id}", b'{"seller_id": "late-seller"}', b"late-seller")
    producer.flush(30)
    assert bronze_lag(kafka, lake, f"dagster-{run_id}", run_id) == {
        f"{t.topic}_{run_id}": int(t.name == "sellers") for t in STREAMED
    }
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.sql("select count(*) from gold_daily_sales").fetchone()[0] > 0
    if not settings.uses_s3:  # a local lake: remove this run's tables (S3 runs leave their namespace)
        for bucket, key in (("lakehouse", ""), ("quarantine", ""), ("lakehouse", "_checkpoints/")):
            shutil.rmtree(settings.local_lake_dir / bucket / f"{key}dagster-{run_id}", ignore_errors=True)
