"""The run queue of the instances the project configures: three runs at a time, and a freed slot goes to a
freshness, stream or ERP run before a batch run. A soak with the three batch jobs launched together kept
the 1-2 s freshness runs and the page-view runs queued for 5-10 minutes behind them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shopflow_assets.definitions import defs

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def priority(job_name: str) -> int:
    return int(defs.resolve_job_def(job_name).tags.get("dagster/priority", 0))


@pytest.mark.parametrize("instance_file", ["shopflow_assets/dagster_instance.yaml", "docker/dagster.yaml"])
def test_both_instances_run_three_at_a_time_in_priority_order(instance_file):
    coordinator = yaml.safe_load((ROOT / instance_file).read_text())["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"  # the one that dequeues by dagster/priority
    assert coordinator["config"]["max_concurrent_runs"] == 3


def test_source_driven_runs_go_before_batch_runs():
    promised_within_minutes = ["page_views_stream", "user_actions_stream", "erp_pipeline", "erp_transform"]
    batches = ["ecommerce_daily_batch", "rainforest_medallion", "olist_pipeline"]
    assert min(priority(job) for job in promised_within_minutes) > max(priority(job) for job in batches)
    assert all(priority(job) < 10 for job in promised_within_minutes)  # freshness runs (10) go first
