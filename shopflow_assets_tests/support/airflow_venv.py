"""Run a script with the Python of Airflow's own environment (airflow/.venv), the way the DAG tests need."""

import json
import subprocess

import pytest

from shopflow_assets.settings import PROJECT_ROOT

AIRFLOW_PYTHON = PROJECT_ROOT / "airflow" / ".venv" / "bin" / "python"
DAGS_DIR = PROJECT_ROOT / "airflow" / "dags"


def inspect_dags(script: str, tmp_path_factory) -> dict:
    """Run `script DAGS_DIR` in Airflow's venv with a throwaway AIRFLOW_HOME; its last stdout line is JSON."""
    if not AIRFLOW_PYTHON.exists():
        pytest.skip(
            f"Airflow is not installed in {AIRFLOW_PYTHON.parent.parent}: run `bash airflow/install.sh`"
        )
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
    }
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", script, str(DAGS_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
