"""Loading the code location imports none of the heavy runtime libraries: every run, sensor tick and the
webserver loads it, so they are imported where they are used (docs/runtime.md, "Loading the code location").

A fresh interpreter, because this test process has imported most of them already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

# Top-level packages the definitions must not import (dbt: dbt-core, which dagster-dbt's package imports).
HEAVY = ("pyspark", "dbt", "dagster_dbt", "pandas", "pandera", "deltalake", "delta", "boto3", "botocore")
HEAVY += ("pyarrow", "duckdb", "psycopg", "confluent_kafka", "matplotlib", "faker", "numpy")

PROBE = """
import json, sys
import shopflow_assets.definitions as d
keys = d.defs.resolve_asset_graph().get_all_asset_keys()
print(json.dumps({"assets": len(keys), "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_definitions_load_without_the_heavy_libraries():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["assets"] > 0
    assert sorted(set(HEAVY) & set(loaded["modules"])) == []
