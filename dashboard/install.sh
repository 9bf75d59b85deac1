#!/usr/bin/env bash
# Installs Apache Superset (with duckdb-engine and psycopg2-binary) into dashboard/.venv with uv (idempotent; ~700 MB).
# `shopflow dashboard` calls it when the environment is missing; CI calls it before the tests.
set -euo pipefail
cd "$(dirname "$0")"
uv_cmd() { if command -v uv >/dev/null 2>&1; then uv "$@"; else python3 -m uv "$@"; fi; }
# Reading the installed versions from metadata is instant; importing superset takes seconds.
installed() {
  .venv/bin/python - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(not (version("apache-superset") == "6.1.0" and version("duckdb") == "1.5.5" and version("duckdb-engine") and version("psycopg2-binary") == "2.9.13"))
PY
}

if [ -x .venv/bin/python ] && installed; then
  echo "dashboard/.venv: Superset $(.venv/bin/python -c 'from importlib.metadata import version; print(version("apache-superset"))') already installed"
  exit 0
fi
uv_cmd venv --quiet --allow-existing --python 3.11 .venv
uv_cmd pip install --quiet --python .venv/bin/python -r requirements.txt
echo "dashboard/.venv: Superset $(.venv/bin/python -c 'from importlib.metadata import version; print(version("apache-superset"))') installed"
