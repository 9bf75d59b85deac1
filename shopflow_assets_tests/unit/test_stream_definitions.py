"""The streaming domains load as Dagster definitions: assets, lineage from the topics, checks, jobs, sensors."""

from __future__ import annotations

import dagster as dg
import pytest

from shopflow_assets.domains.clickstream.definitions import defs as clickstream_defs
from shopflow_assets.domains.events.definitions import defs as events_defs
from shopflow_assets.resources import build_resources

pytestmark = pytest.mark.unit


def _merged() -> dg.Definitions:
    return dg.Definitions.merge(clickstream_defs, events_defs, dg.Definitions(resources=build_resources()))


def test_both_domains_merge_with_the_shared_resources():
    repo = _merged().get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert {
        "clickstream/fact_page_views",
        "events/user_action_events",
        "clickstream/clicks_topic",
        "events/user_actions",
    } <= keys
    graph = repo.asset_graph
    assert graph.get(dg.AssetKey(["clickstream", "fact_page_views"])).parent_keys == {
        dg.AssetKey(["clickstream", "clicks_topic"])
    }
    assert graph.get(dg.AssetKey(["events", "user_action_events"])).parent_keys == {
        dg.AssetKey(["events", "user_actions"])
    }


def test_each_stream_has_a_bounded_job_a_kafka_sensor_and_a_blocking_accounting_check():
    repo = _merged().get_repository_def()
    assert repo.get_sensor_def("clicks_topic_sensor").job_name == "page_views_stream"
    assert repo.get_sensor_def("user_actions_sensor").job_name == "user_actions_stream"
    checks = {(key.asset_key.to_user_string(), key.name) for key in repo.asset_graph.asset_check_keys}
    assert ("clickstream/fact_page_views", "every_click_accounted_for") in checks
    assert ("events/user_action_events", "every_action_accounted_for") in checks
    spec = next(
        s
        for s in clickstream_defs.assets[1].check_specs
        if s.name == "every_click_accounted_for"  # type: ignore[union-attr]
    )
    assert spec.blocking
