"""Freshness of every served table: the checks as the code location registers them, evaluated on a real
instance against materializations and observations at known times, their sensors, and the alert a failed
evaluation sends through check_failure_alert_sensor."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time

from shopflow_assets.automation import AUTOMATED
from shopflow_assets.definitions import defs
from shopflow_assets.domains.clickstream.automation import page_views_freshness_checks
from shopflow_assets.domains.erp.automation import (
    WAREHOUSE_FACT_KEYS,
    erp_freshness_checks,
    newest_erp_run_succeeded,
)
from shopflow_assets.domains.events.automation import user_actions_freshness_checks
from shopflow_assets.domains.freshness import (
    CAUGHT_UP_EVERY_SECONDS,
    caught_up_due,
    caught_up_observations,
    caught_up_result,
    checks_to_recheck,
)
from shopflow_assets.domains.marketplace.automation import OLIST_GOLD_KEYS, olist_gold_freshness_checks
from shopflow_assets.domains.rainforest.automation import RAINFOREST_REPORT_KEYS, rainforest_freshness_checks
from shopflow_assets.domains.shop.automation import SHOP_SERVED_KEYS, shop_freshness_checks
from shopflow_assets_tests.support.alerts import alert_resource, evaluate_check_sensor, webhook_server

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PAGE_VIEWS = dg.AssetKey(["clickstream", "fact_page_views"])
USER_ACTIONS = dg.AssetKey(["events", "user_action_events"])

# Every served table -> the sensor that evaluates its freshness check.
SERVED = {
    **dict.fromkeys(SHOP_SERVED_KEYS, "shop_freshness_sensor"),
    PAGE_VIEWS: "page_views_freshness_sensor",
    USER_ACTIONS: "user_actions_freshness_sensor",
    **dict.fromkeys(WAREHOUSE_FACT_KEYS, "erp_freshness_sensor"),
    **dict.fromkeys(RAINFOREST_REPORT_KEYS, "rainforest_freshness_sensor"),
    **dict.fromkeys(OLIST_GOLD_KEYS, "olist_gold_freshness_sensor"),
}


def check_key(asset_key: dg.AssetKey) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(asset_key, "freshness_check")


def evaluate(instance: dg.DagsterInstance, checks, at: float) -> dict[str, tuple[bool, str]]:
    """Runs `checks` as the freshness sensors' runs do (checks only, no asset) with the clock at `at`."""
    keys = {spec.key for definition in checks for spec in definition.check_specs}
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_check_selection=keys, asset_selection=set()
    )
    with freeze_time(at):
        result = job.execute_in_process(instance=instance)
    return {
        evaluation.asset_key.to_user_string(): (evaluation.passed, evaluation.description)
        for evaluation in result.get_asset_check_evaluations()
    }


def materialize(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, at: float, partition: str | None = None
):
    with freeze_time(at):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key, partition=partition))


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


T0 = utc("2026-12-07 12:00")


def test_every_served_table_has_a_freshness_check_its_sensor_evaluates_when_automation_is_on():
    graph = defs.resolve_asset_graph()
    sensors = {sensor.name: sensor for sensor in defs.sensors}
    for asset_key, sensor_name in SERVED.items():
        assert check_key(asset_key) in graph.asset_check_keys, asset_key
        selected = sensors[sensor_name].asset_selection.resolve_checks(graph)
        assert check_key(asset_key) in selected, (asset_key, sensor_name)
        assert sensor_name in AUTOMATED
    every_freshness_check = {key for key in graph.asset_check_keys if "freshness" in key.name}
    assert every_freshness_check == {check_key(asset_key) for asset_key in SERVED}


def test_no_job_evaluates_freshness_only_the_sensors_do():
    """A run judging freshness would report today's verdict for every day of a backfill."""
    for job in defs.resolve_all_job_defs():
        if job.name.startswith("__ASSET_JOB"):
            continue  # the implicit job the sensors' runs use
        assert not [node for node in job.graph.node_dict if node.startswith("freshness_check")], job.name


@pytest.mark.parametrize(
    ("checks", "asset_key"),
    [
        (page_views_freshness_checks, PAGE_VIEWS),
        (user_actions_freshness_checks, USER_ACTIONS),
        (erp_freshness_checks, WAREHOUSE_FACT_KEYS[0]),
    ],
)
def test_a_source_driven_table_is_fresh_for_5_minutes_after_its_last_update(checks, asset_key):
    with dg.DagsterInstance.ephemeral() as instance:
        materialize(instance, asset_key, T0)
        fresh = evaluate(instance, checks, T0 + 4 * 60)[asset_key.to_user_string()]
        stale = evaluate(instance, checks, T0 + 7 * 60)[asset_key.to_user_string()]
    assert fresh[0] and "4 minutes ago" in fresh[1]
    assert not stale[0]
    assert "overdue" in stale[1] and "7 minutes ago" in stale[1] and "5 minutes" in stale[1]


def test_an_idle_erp_source_counts_as_caught_up_only_after_a_successful_newest_erp_run():
    with dg.DagsterInstance.ephemeral() as instance:
        assert newest_erp_run_succeeded(instance)  # nothing ran yet: the warehouse is what the source gave

        def finish(job_name: str, status: dg.DagsterRunStatus) -> None:
            instance.add_run(dg.DagsterRun(job_name=job_name, run_id=str(uuid.uuid4()), status=status))

        finish("erp_pipeline", dg.DagsterRunStatus.SUCCESS)
        assert newest_erp_run_succeeded(instance)
        finish("erp_load", dg.DagsterRunStatus.FAILURE)  # a change may be missing from the warehouse
        finish("page_views_stream", dg.DagsterRunStatus.SUCCESS)  # another domain's run changes nothing
        assert not newest_erp_run_succeeded(instance)
        finish("erp_load", dg.DagsterRunStatus.SUCCESS)  # the sweep loaded what was left behind
        assert newest_erp_run_succeeded(instance)


def test_a_quiet_topic_keeps_the_table_fresh_through_the_sensors_caught_up_observation():
    with dg.DagsterInstance.ephemeral() as instance:
        materialize(instance, PAGE_VIEWS, T0)
        failed = evaluate(instance, page_views_freshness_checks, T0 + 7 * 60)
        # The topic then has nothing uncommitted: the Kafka sensor says so.
        with freeze_time(T0 + 8 * 60):
            for observation in caught_up_observations([PAGE_VIEWS], T0 + 8 * 60, "clicks: nothing new"):
                instance.report_runless_asset_event(observation)
        # Dagster's sensor waits for a run that materializes the table; ours re-evaluates now.
        assert list(checks_to_recheck(instance, [check_key(PAGE_VIEWS)])) == [check_key(PAGE_VIEWS)]
        sensor = next(s for s in defs.sensors if s.name == "page_views_freshness_sensor")
        request = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        recovered = evaluate(instance, page_views_freshness_checks, T0 + 9 * 60)
        assert list(checks_to_recheck(instance, [check_key(PAGE_VIEWS)])) == []
    assert not failed["clickstream/fact_page_views"][0]
    assert isinstance(request, dg.RunRequest) and request.asset_check_keys == [check_key(PAGE_VIEWS)]
    assert request.run_config == {"execution": {"config": {"in_process": {}}}}  # one process per run
    assert request.tags == {"dagster/priority": "10"}  # ahead of every queued pipeline run
    assert recovered["clickstream/fact_page_views"] == (
        True,
        "Asset is currently fresh. The last update was 1 minute ago, within the allowed time range of 5 minutes.",
    )


def test_a_failed_check_is_evaluated_again_once_a_run_writes_its_table():
    """The first tick of a new instance fails every never-written table; the runs that follow write them."""
    sensor = next(s for s in defs.sensors if s.name == "user_actions_freshness_sensor")
    with dg.DagsterInstance.ephemeral() as instance:
        first = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        never = evaluate(instance, user_actions_freshness_checks, T0)
        waiting = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        materialize(instance, USER_ACTIONS, T0 + 60)
        again = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        fresh = evaluate(instance, user_actions_freshness_checks, T0 + 120)
    assert first.asset_check_keys == [check_key(USER_ACTIONS)]
    assert not never["events/user_action_events"][0]
    assert isinstance(waiting, dg.SkipReason)
    assert isinstance(again, dg.RunRequest) and again.asset_check_keys == [check_key(USER_ACTIONS)]
    assert fresh["events/user_action_events"][0]


def test_the_watching_sensor_records_caught_up_once_a_minute():
    assert caught_up_due(None, 1000.0) and caught_up_due("not a time", 1000.0)
    assert not caught_up_due("1000.0", 1000.0 + CAUGHT_UP_EVERY_SECONDS - 1)
    assert caught_up_due("1000.0", 1000.0 + CAUGHT_UP_EVERY_SECONDS)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance)
        first = caught_up_result(context, [PAGE_VIEWS], "clicks: nothing new")
        again = caught_up_result(
            dg.build_sensor_context(instance=instance, cursor=first.cursor), [PAGE_VIEWS], "x"
        )
    assert isinstance(first, dg.SensorResult) and first.skip_reason.skip_message == "clicks: nothing new"
    (observation,) = first.asset_events
    assert observation.asset_key == PAGE_VIEWS
    assert observation.metadata["dagster/last_updated_timestamp"].value == pytest.approx(float(first.cursor))
    assert isinstance(again, dg.SkipReason)


@pytest.mark.parametrize(
    ("checks", "keys", "deadline_hour"),
    [(shop_freshness_checks, SHOP_SERVED_KEYS, 3), (rainforest_freshness_checks, RAINFOREST_REPORT_KEYS, 4)],
)
def test_a_daily_table_must_hold_the_day_that_ended_by_its_deadline(checks, keys, deadline_hour):
    deadline = f"{deadline_hour:02d}:00"
    before = f"{deadline_hour - 1:02d}:30"
    with dg.DagsterInstance.ephemeral() as instance:
        for asset_key in keys:
            materialize(instance, asset_key, utc(f"2026-12-07 {before}"), partition="2026-12-06")
        on_time = evaluate(instance, checks, utc(f"2026-12-07 {deadline}") + 1800)
        # Before the next deadline the day before is still what counts: no stale report at noon.
        next_noon = evaluate(instance, checks, utc("2026-12-07 12:00"))
        before_next_deadline = evaluate(instance, checks, utc(f"2026-12-08 {before}"))
        overdue = evaluate(instance, checks, utc(f"2026-12-08 {deadline}") + 1800)
    for asset_key in keys:
        name = asset_key.to_user_string()
        assert on_time[name][0] and next_noon[name][0] and before_next_deadline[name][0]
        assert overdue[name] == (
            False,
            "Asset is overdue. We expected partition 2026-12-07 to have arrived, and it has not.",
        )


def test_olist_gold_follows_the_26_hour_rule_of_evaluate_gold_freshness():
    with dg.DagsterInstance.ephemeral() as instance:
        for asset_key in OLIST_GOLD_KEYS:
            materialize(instance, asset_key, T0)
        fresh = evaluate(instance, olist_gold_freshness_checks, T0 + 25 * 3600)
        stale = evaluate(instance, olist_gold_freshness_checks, T0 + 27 * 3600)
    assert all(fresh[key.to_user_string()][0] for key in OLIST_GOLD_KEYS)
    daily_sales = stale["marketplace/gold_daily_sales"]
    assert not daily_sales[0] and "1 day" in daily_sales[1] and "overdue" in daily_sales[1]


def test_a_table_never_written_is_stale_and_says_so():
    with dg.DagsterInstance.ephemeral() as instance:
        result = evaluate(instance, user_actions_freshness_checks, T0)
    assert result == {"events/user_action_events": (False, "Asset has never been observed/materialized.")}


def test_a_failed_freshness_check_is_alerted_once_on_the_dagster_dev_instance(tmp_path):
    shutil.copyfile(ROOT / "shopflow_assets" / "dagster_instance.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance, webhook_server() as hook:
        alerts = alert_resource(hook=hook)
        cursor = evaluate_check_sensor(instance, alerts, None, defs)  # first tick: from now
        now = dt.datetime.now(dt.UTC).timestamp()
        materialize(instance, PAGE_VIEWS, now)
        evaluate(instance, page_views_freshness_checks, now + 4 * 60)  # passes: nothing to alert
        cursor = evaluate_check_sensor(instance, alerts, cursor, defs)
        assert hook.posts == []
        evaluate(instance, page_views_freshness_checks, now + 7 * 60)
        cursor = evaluate_check_sensor(instance, alerts, cursor, defs)
        assert evaluate_check_sensor(instance, alerts, cursor, defs) == cursor  # no second alert
    (post,) = hook.posts
    assert (post["kind"], post["asset"], post["check"]) == (
        "check_failure",
        "clickstream/fact_page_views",
        "freshness_check",
    )
    assert post["error"] == (
        "Asset is overdue for an update. The last update was 7 minutes ago, "
        "which is past the allowed distance of 5 minutes ago."
    )
