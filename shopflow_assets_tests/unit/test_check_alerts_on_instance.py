"""The check-failure sensor on the instance `make dev` / `shopflow run` use (shopflow_assets/dagster_instance.yaml).

That instance keeps Dagster's default storage, the run-sharded SQLite event log, which refuses
`get_event_records` with an integer cursor: the sensor raised on every tick and never alerted.
"""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from shopflow_assets_tests.alerting import alert_resource, evaluate_check_sensor, webhook_server

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@dg.asset
def orders() -> int:
    return 2


@dg.asset_check(asset=orders, blocking=True)
def orders_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description="1 order with a negative total: o-2")


@dg.asset(deps=[orders])
def revenue() -> int:
    return 1


DEFS = dg.Definitions(assets=[orders, revenue], asset_checks=[orders_positive])


def assert_one_alert_per_failed_check(instance: dg.DagsterInstance) -> None:
    """A failed blocking check through the sensor's ticks on `instance`: one alert, no tick raises."""
    with webhook_server() as hook:
        alerts = alert_resource(hook=hook)
        cursor = evaluate_check_sensor(instance, alerts, None, DEFS)  # first tick: from now
        result = dg.materialize([orders, revenue, orders_positive], instance=instance, raise_on_error=False)
        assert not result.success  # blocking: revenue never ran
        cursor = evaluate_check_sensor(instance, alerts, cursor, DEFS)
        assert evaluate_check_sensor(instance, alerts, cursor, DEFS) == cursor  # no second alert
        dg.materialize([orders], instance=instance)  # a passing run, no check: nothing new
        evaluate_check_sensor(instance, alerts, cursor, DEFS)
    assert len(hook.posts) == 1
    post = hook.posts[0]
    assert (post["kind"], post["asset"], post["check"]) == ("check_failure", "orders", "orders_positive")
    assert post["run_id"] == result.run_id and post["error"] == "1 order with a negative total: o-2"


def test_a_failed_blocking_check_is_alerted_once_on_the_dagster_dev_instance(tmp_path):
    shutil.copyfile(ROOT / "shopflow_assets" / "dagster_instance.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.event_log_storage.is_run_sharded  # the storage the bug needs
        assert_one_alert_per_failed_check(instance)
