"""The Airflow wrapper DAG `olist_pipeline` parses in airflow/.venv and has the seed's order, schedule and retries."""

import json
import subprocess

import pytest

from shopflow_assets.settings import PROJECT_ROOT

AIRFLOW_PYTHON = PROJECT_ROOT / "airflow" / ".venv" / "bin" / "python"
DAGS_DIR = PROJECT_ROOT / "airflow" / "dags"

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
    if not AIRFLOW_PYTHON.exists():
        pytest.skip(
            f"Airflow is not installed in {AIRFLOW_PYTHON.parent.parent}: run `bash airflow/install.sh`"
        )
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", _INSPECT, str(DAGS_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


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
