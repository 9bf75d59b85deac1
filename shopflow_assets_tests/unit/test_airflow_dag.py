"""The Airflow DAG parses with Airflow installed in its own environment (airflow/.venv) and has the seed's shape."""

from pathlib import Path

import pytest

from shopflow_assets.settings import PROJECT_ROOT
from shopflow_assets_tests.support.airflow_venv import inspect_dags

pytestmark = pytest.mark.unit

# Runs inside airflow/.venv: loads the DAG folder like the scheduler does and describes what it found.
_INSPECT = r"""
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("ecommerce_daily_batch")
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dag_ids": sorted(bag.dags)}
if dag is not None:
    timetable = dag.timetable
    out.update(
        cron=getattr(timetable, "_expression", None),
        timezone=str(getattr(timetable, "_timezone", "")),
        catchup=dag.catchup,
        tasks={
            t.task_id: {
                "type": type(t).__name__,
                "upstream": sorted(t.upstream_task_ids),
                "command": getattr(t, "bash_command", ""),
            }
            for t in dag.tasks
        },
    )
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def dag_description(tmp_path_factory):
    return inspect_dags(_INSPECT, tmp_path_factory)


def test_dag_parses_without_import_errors(dag_description):
    assert dag_description["import_errors"] == {}
    assert "ecommerce_daily_batch" in dag_description["dag_ids"]


def test_dag_runs_daily_at_two_utc(dag_description):
    assert dag_description["cron"] == "0 2 * * *"
    assert dag_description["timezone"] in ("UTC", "Timezone('UTC')")
    assert dag_description["catchup"] is False


def test_sensor_ingest_transform_quality_in_that_order(dag_description):
    tasks = dag_description["tasks"]
    assert set(tasks) == {"wait_for_raw_files", "ingest", "transform", "data_quality"}
    assert tasks["wait_for_raw_files"]["upstream"] == []
    assert tasks["ingest"]["upstream"] == ["wait_for_raw_files"]
    assert tasks["transform"]["upstream"] == ["ingest"]
    assert tasks["data_quality"]["upstream"] == ["transform"]
    assert tasks["wait_for_raw_files"]["type"] == "BashSensor"


def test_each_task_triggers_or_checks_the_dagster_job(dag_description):
    tasks = dag_description["tasks"]
    day = "{{ macros.ds_add(ds, -1) }}"
    assert f"shopflow shop landed --date {day}" in tasks["wait_for_raw_files"]["command"]
    assert "dagster asset materialize -m shopflow_assets.definitions" in tasks["ingest"]["command"]
    assert f"--partition {day}" in tasks["ingest"]["command"]
    assert (
        "dagster job execute -m shopflow_assets.definitions -j ecommerce_daily_batch"
        in tasks["transform"]["command"]
    )
    assert '{"dagster/partition": "' + day + '"}' in tasks["transform"]["command"]
    assert f"shopflow shop quality --date {day}" in tasks["data_quality"]["command"]
    for task in tasks.values():
        assert f'uv run --frozen --project "{Path(PROJECT_ROOT)}" ' in task["command"]
        # Not from the checkout: the dagster CLI would load its .env over Airflow's environment.
        assert 'cd "$DAGSTER_HOME"' in task["command"] and f'cd "{Path(PROJECT_ROOT)}"' not in task["command"]
