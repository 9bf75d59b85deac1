#!/usr/bin/env bash
# Installs Apache Airflow into airflow/.venv with uv (idempotent; ~260 MB). CI calls it before the tests;
# shopflow_assets_tests/unit/test_airflow_dag.py parses the DAGs with this environment's Python.
set -euo pipefail
cd "$(dirname "$0")"
uv_cmd() { if command -v uv >/dev/null 2>&1; then uv "$@"; else python3 -m uv "$@"; fi; }

if [ -x .venv/bin/python ] && .venv/bin/python -c "import airflow, sys; sys.exit(airflow.__version__ != '3.3.2')" 2>/dev/null; then
  echo "airflow/.venv: Airflow $(.venv/bin/python -c 'import airflow; print(airflow.__version__)') already installed"
  exit 0
fi
uv_cmd venv --quiet --allow-existing --python 3.11 .venv
uv_cmd pip install --quiet --python .venv/bin/python -r requirements.txt
echo "airflow/.venv: Airflow $(.venv/bin/python -c 'import airflow; print(airflow.__version__)') installed"
