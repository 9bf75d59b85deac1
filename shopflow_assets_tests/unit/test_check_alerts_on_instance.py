"""The check-failure sensor on the instance `make dev` / `shopflow run` use (shopflow_assets/dagster_instance.yaml).

That instance keeps Dagster's default storage, the run-sharded SQLite event log, which refuses
`get_event_records` with an integer cursor: the sensor raised on every tick and never alerted.
"""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from shopflow_assets_tests.support.alerts import assert_one_alert_per_failed_check

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_a_failed_blocking_check_is_alerted_once_on_the_dagster_dev_instance(tmp_path):
    shutil.copyfile(ROOT / "shopflow_assets" / "dagster_instance.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.event_log_storage.is_run_sharded  # the storage the bug needs
        assert_one_alert_per_failed_check(instance)
