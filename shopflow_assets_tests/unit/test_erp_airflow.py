"""The Airflow wrapper DAG `erp_warehouse` parses in airflow/.venv and runs the three ERP stages in order."""

import pytest

from shopflow_assets_tests.support.airflow_venv import inspect_dags

pytestmark = pytest.mark.unit

_INSPECT = r"""
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags["erp_warehouse"]
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "cron": dag.timetable._expression,
    "max_active_runs": dag.max_active_runs,
    "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids), "command": t.bash_command} for t in dag.tasks},
}))
"""


@pytest.fixture(scope="module")
def dag(tmp_path_factory):
    return inspect_dags(_INSPECT, tmp_path_factory)


def test_erp_dag_runs_ingest_transform_load_every_minute_one_at_a_time(dag):
    assert not any("erp_warehouse" in path for path in dag["errors"])
    assert dag["cron"] == "* * * * *" and dag["max_active_runs"] == 1
    tasks = dag["tasks"]
    assert tasks["ingest"]["upstream"] == []
    assert tasks["transform"]["upstream"] == ["ingest"]
    assert tasks["load"]["upstream"] == ["transform"]
    for stage in ("ingest", "transform", "load"):
        assert tasks[stage]["command"].endswith(f"shopflow erp {stage}")
