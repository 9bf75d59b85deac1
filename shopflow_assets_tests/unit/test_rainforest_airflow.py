"""The Airflow wrapper DAG `rainforest_medallion` parses in airflow/.venv, runs after the shop batch and
triggers the Dagster job for the day that ended."""

import pytest

from shopflow_assets_tests.support.airflow_venv import inspect_dags

pytestmark = pytest.mark.unit

_INSPECT = r"""
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags["rainforest_medallion"]
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "cron": dag.timetable._expression,
    "catchup": dag.catchup,
    "retries": dag.default_args["retries"],
    "tasks": {t.task_id: {"type": type(t).__name__, "upstream": sorted(t.upstream_task_ids),
                          "command": t.bash_command} for t in dag.tasks},
}))
"""


@pytest.fixture(scope="module")
def dag(tmp_path_factory):
    return inspect_dags(_INSPECT, tmp_path_factory)


def test_rainforest_dag_waits_runs_the_job_then_checks_the_views(dag):
    assert not any("rainforest_medallion" in path for path in dag["errors"])
    assert dag["cron"] == "0 3 * * *" and dag["catchup"] is False and dag["retries"] == 2
    tasks = dag["tasks"]
    assert tasks["wait_for_source"]["upstream"] == [] and tasks["wait_for_source"]["type"] == "BashSensor"
    assert tasks["medallion"]["upstream"] == ["wait_for_source"]
    assert tasks["reports_published"]["upstream"] == ["medallion"]
    day = "{{ macros.ds_add(ds, -1) }}"
    assert f"shopflow rainforest landed --date {day}" in tasks["wait_for_source"]["command"]
    assert (
        "dagster job execute -m shopflow_assets.definitions -j rainforest_medallion"
        in tasks["medallion"]["command"]
    )
    assert '{"dagster/partition": "' + day + '"}' in tasks["medallion"]["command"]
    assert f"shopflow rainforest published --date {day}" in tasks["reports_published"]["command"]
