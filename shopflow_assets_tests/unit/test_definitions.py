"""The code location loads, and the graph has the shape the design promises."""

import dagster as dg
import pytest

from shopflow_assets.definitions import defs
from shopflow_assets.resources import RESOURCE_KEYS

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def repository():
    return defs.get_repository_def()


def test_definitions_load_with_every_shared_resource(repository):
    assert set(RESOURCE_KEYS) <= set(repository.get_top_level_resources())


def test_every_asset_declares_group_and_kinds(repository):
    graph = repository.asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        assert node.group_name and node.group_name != "default", f"{key.to_user_string()} has no group"
        assert node.kinds, f"{key.to_user_string()} declares no kinds"


def test_shop_batch_job_and_schedule(repository):
    job = repository.get_job("ecommerce_daily_batch")
    assert job.partitions_def is not None
    schedule = repository.get_schedule_def("ecommerce_daily_batch_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone in (None, "UTC")


def test_every_job_resolves(repository):
    for job in repository.get_all_jobs():
        assert isinstance(job, dg.JobDefinition)
