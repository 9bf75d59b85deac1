"""Dagster wiring of the marketplace: graph, job order, schedule, blocking checks, sensor maths."""

import dagster as dg
import pytest

from shopflow_assets.domains.marketplace.automation import unprocessed_messages

pytestmark = pytest.mark.unit


def repository():
    from shopflow_assets.domains.marketplace.definitions import defs
    from shopflow_assets.resources import build_resources

    return dg.Definitions.merge(defs, dg.Definitions(resources=build_resources())).get_repository_def()


def test_pipeline_runs_freshness_bronze_silver_gold_in_order_with_retries_and_a_daily_schedule():
    repo = repository()
    job = repo.get_job("olist_pipeline")
    graph = repo.asset_graph
    gold = dg.AssetKey(["marketplace", "gold_daily_sales"])
    upstream = graph.get(gold).parent_keys
    assert dg.AssetKey(["marketplace", "int_olist__order_items_enriched"]) in upstream
    enriched = graph.get(dg.AssetKey(["marketplace", "int_olist__order_items_enriched"])).parent_keys
    silver_orders = dg.AssetKey(["marketplace", "stg_olist__orders"])
    assert silver_orders in enriched
    assert dg.AssetKey(["marketplace", "silver_orders"]) in graph.get(silver_orders).parent_keys
    assert (
        dg.AssetKey(["marketplace", "bronze_orders"])
        in graph.get(dg.AssetKey(["marketplace", "silver_orders"])).parent_keys
    )
    assert (
        dg.AssetKey(["marketplace", "olist_topic_offsets"])
        in graph.get(dg.AssetKey(["marketplace", "bronze_orders"])).parent_keys
    )
    assert job.tags.get("dagster/max_retries") == "2"
    schedule = repo.get_schedule_def("olist_pipeline_daily")
    assert schedule.cron_schedule == "0 6 * * *" and schedule.job_name == "olist_pipeline"
    assert repo.get_sensor_def("olist_kafka_sensor").job_name == "olist_bronze_silver"
    sensor_job = repo.get_job("olist_bronze_silver")  # resolves: whole multi-assets selected
    assert {n.name for n in sensor_job.nodes} == {"olist_bronze_streams", "olist_silver"}


def test_silver_and_gold_checks_block_downstream():
    repo = repository()
    specs = {
        (spec.asset_key.to_user_string(), spec.name): spec.blocking
        for assets_def in repo.assets_defs_by_key.values()
        for spec in assets_def.check_specs
    }
    assert specs[("marketplace/silver_orders", "unique_keys")] is True
    assert specs[("marketplace/silver_orders", "allowed_statuses")] is True
    assert specs[("marketplace/silver_order_items", "amounts_in_range")] is True
    assert specs[("marketplace/bronze_orders", "schema_and_ids_complete")] is True
    # dbt tests become checks on the gold models
    assert any(a == "marketplace/gold_daily_sales" for a, _ in specs)


def test_sensor_counts_only_messages_past_the_committed_offsets():
    end = {"raw_orders": {0: 10, 1: 5}, "raw_sellers": {0: 3}}
    committed = {"raw_orders": {0: 10, 1: 2}}
    assert unprocessed_messages(end, committed) == {"raw_orders": 3, "raw_sellers": 3}
    assert unprocessed_messages(end, {"raw_orders": {0: 10, 1: 5}, "raw_sellers": {0: 3}}) == {
        "raw_orders": 0,
        "raw_sellers": 0,
    }
