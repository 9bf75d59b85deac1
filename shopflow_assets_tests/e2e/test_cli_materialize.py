"""`dagster asset materialize` for one partition, as a user or CI runs it, on the embedded defaults."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.stack

DAY = "2025-03-01"


def test_dagster_cli_materializes_the_shop_lineage_for_a_partition(tmp_path):
    env = {
        **os.environ,
        "SHOPFLOW_HOME": str(tmp_path),
        "SHOPFLOW_ENV": "local",
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    (tmp_path / "dagster").mkdir()
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [bin_dir / "shopflow", "generate", "shop", "--date", DAY, "--scale", "0.1"],
        env=env,
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [
            bin_dir / "dagster",
            "asset",
            "materialize",
            "-m",
            "shopflow_assets.definitions",
            "--select",
            "group:shop",
            "--partition",
            DAY,
        ],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "RUN_SUCCESS" in result.stderr + result.stdout

    manifest = json.loads((tmp_path / "incoming" / "shop" / DAY / "manifest.json").read_text())
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as warehouse:
        orders, revenue = warehouse.sql(
            "select count(*), sum(total_amount) from fact_orders where order_date = ?", params=[DAY]
        ).fetchone()
        gold_revenue = warehouse.sql(
            "select revenue from shop_daily_revenue where order_date = ?", params=[DAY]
        ).fetchone()[0]
    assert orders == manifest["files"]["Orders.csv"]["clean_rows"]
    assert revenue == Decimal(str(manifest["expected_revenue"]))
    assert Decimal(str(gold_revenue)) == Decimal(str(manifest["expected_revenue"]))
