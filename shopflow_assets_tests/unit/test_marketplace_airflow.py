"""The Airflow wrapper DAG `olist_pipeline` parses in airflow/.venv and has the seed's order, schedule and retries."""

import pytest

from shopflow_assets_tests.support.airflow_venv import inspect_dags

pytestmark = pytest.mark.unit

_INSPECT = r"""
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags["olist_pipeline"]
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "cron": dag.timetable._expression,
    "retries": dag.default_args["retries"],
    "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids), "rule": str(t.trigger_rule),
                          "command": t.bash_command} for t in dag.tasks},
}))
"""


@pytest.fixture(scope="module")
def dag(tmp_path_factory):
    return inspect_dags(_INSPECT, tmp_path_factory)


def test_olist_dag_follows_the_seed_order_daily_at_six_with_two_retries(dag):
    assert not any("olist_pipeline" in path for path in dag["errors"])
    assert dag["cron"] == "0 6 * * *" and dag["retries"] == 2
    tasks = dag["tasks"]
    chain = ["check_freshness", "bronze_to_silver", "dbt_run", "dbt_test", "quality_checks"]
    for before, after in zip(chain, chain[1:], strict=False):
        assert tasks[after]["upstream"] == [before]
    assert tasks["notify_success"]["upstream"] == ["quality_checks"]
    assert "all_success" in tasks["notify_success"]["rule"].lower()
    assert "one_failed" in tasks["notify_failure"]["rule"].lower()
    assert "marketplace/silver_orders" in tasks["bronze_to_silver"]["command"]
    assert "marketplace/gold_daily_sales" in tasks["dbt_run"]["command"]
    assert "shopflow olist dbt test" in tasks["dbt_test"]["command"]
    assert "shopflow olist quality" in tasks["quality_checks"]["command"]
