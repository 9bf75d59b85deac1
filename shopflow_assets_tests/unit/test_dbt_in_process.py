"""dbt in the run's process (dbtRunner) yields the Dagster events the `dbt` subprocess does, and fails the same.

`shop_dbt_models` runs through Dagster on a tiny star schema written straight into a temporary DuckDB
warehouse (one business day: two users, two products, three orders), once per way of running dbt.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from shopflow_assets.domains.dbt import DbtResource, dbt_executable, dbt_in_process
from shopflow_assets.resources.warehouse import WarehouseResource

pytestmark = pytest.mark.unit

DAY = dt.date(2025, 3, 3)
STAR_SCHEMA = """
create table dim_date as select 20250303 as date_key, date '2025-03-03' as "date", 2025 as year, 1 as quarter,
    3 as month, 3 as day, 1 as day_of_week, 'Monday' as day_name, 'March' as month_name, false as is_weekend;
create table dim_users (user_id varchar, signup_date date, country varchar, last_seen_date date);
insert into dim_users values ('u1', '2025-01-01', 'DE', '2025-03-03'), ('u2', '2025-02-01', 'FR', '2025-03-03');
create table dim_products (product_id varchar, category varchar, price decimal(12, 2), last_seen_date date);
insert into dim_products values ('p1', 'books', 10.00, '2025-03-03'), ('p2', 'toys', 4.50, '2025-03-03');
create table fact_orders (order_id varchar, order_date date, order_ts timestamp, user_id varchar,
    product_id varchar, quantity integer, unit_price decimal(12, 2), total_amount decimal(12, 2));
insert into fact_orders values
    ('o1', '2025-03-03', '2025-03-03 09:00', 'u1', 'p1', 2, 10.00, 20.00),
    ('o2', '2025-03-03', '2025-03-03 10:00', 'u2', 'p2', 1, 4.50, 4.50),
    ('o3', '2025-03-03', '2025-03-03 11:00', 'u2', 'p1', QUANTITY, 10.00, 10.00);
"""


def _warehouse(path: Path, *, third_order_quantity: int = 1) -> WarehouseResource:
    with duckdb.connect(str(path)) as conn:
        conn.execute(STAR_SCHEMA.replace("QUANTITY", str(third_order_quantity)))
    return WarehouseResource(duckdb_path=str(path))


def _run_shop_dbt(warehouse: WarehouseResource, *, in_process: bool) -> dg.ExecuteInProcessResult:
    from shopflow_assets.domains.shop.assets import shop_dbt_models

    return dg.materialize(
        [shop_dbt_models],
        partition_key=DAY.isoformat(),
        resources={
            # In process the `dbt` executable is never started: `false` in its place proves it.
            "dbt": DbtResource(
                dbt_executable=shutil.which("false") if in_process else dbt_executable(),
                in_process=in_process,
            ),
            "warehouse": warehouse,
        },
        raise_on_error=False,
    )


def _events(result: dg.ExecuteInProcessResult) -> tuple[dict, dict]:
    """Materializations (key -> dbt's status and node) and check results (key -> passed, failed rows)."""
    materialized = {
        e.asset_key.to_user_string(): (e.metadata["status"].value, e.metadata["unique_id"].value)
        for e in result.get_asset_materialization_events()
        for e in [e.materialization]
    }
    checks = {
        (e.asset_key.to_user_string(), e.check_name): (
            e.passed,
            e.metadata["dagster_dbt/failed_row_count"].value,
        )
        for e in result.get_asset_check_evaluations()
    }
    return materialized, checks


def test_in_process_dbt_yields_what_the_subprocess_yields(tmp_path):
    by_way = {}
    for way, in_process in (("subprocess", False), ("in_process", True)):
        warehouse = _warehouse(tmp_path / f"{way}.duckdb")
        result = _run_shop_dbt(warehouse, in_process=in_process)
        assert result.success, way
        by_way[way] = _events(result)
        # dbt released the warehouse: this process (and any other) opens it for writing again.
        with duckdb.connect(warehouse.duckdb_path) as conn:
            daily = conn.execute(
                "select order_date, orders, units, customers, revenue from shop_daily_revenue"
            )
            assert daily.fetchall() == [(DAY, 3, 4, 2, Decimal("34.50"))], way

    materialized, checks = by_way["in_process"]
    assert by_way["subprocess"] == by_way["in_process"]
    assert {
        "shop/stg_shop__orders",
        "shop/int_shop__order_lines",
        "shop/shop_daily_revenue",
        "shop/shop_top_products",
    } <= set(materialized)
    assert materialized["shop/stg_shop__orders"] == ("success", "model.shopflow.stg_shop__orders")
    assert len(checks) >= 10
    assert all(passed and failed_rows == 0 for passed, failed_rows in checks.values())


def test_a_failing_dbt_test_fails_the_step_with_dbts_message(tmp_path):
    warehouse = _warehouse(tmp_path / "warehouse.duckdb", third_order_quantity=0)
    result = _run_shop_dbt(warehouse, in_process=True)

    assert not result.success
    failed = {
        name: e.metadata["dagster_dbt/failed_row_count"].value
        for e in result.get_asset_check_evaluations()
        if not e.passed
        for name in [e.check_name]
    }
    assert failed == {"shop_at_least_stg_shop__orders_quantity__1": 1}
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error.to_string()
    assert "failed with exit code `1`" in error
    assert "Failure in test shop_at_least_stg_shop__orders_quantity__1" in error
    # dbt skips what depends on the failed test: no gold model was built.
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "shop/shop_daily_revenue" not in materialized


def test_in_process_is_the_default_and_the_variable_switches_back(monkeypatch):
    monkeypatch.delenv("SHOPFLOW_DBT_IN_PROCESS", raising=False)
    assert dbt_in_process() is True
    for off in ("0", "false", "OFF", "no"):
        monkeypatch.setenv("SHOPFLOW_DBT_IN_PROCESS", off)
        assert dbt_in_process() is False
    monkeypatch.setenv("SHOPFLOW_DBT_IN_PROCESS", "1")
    assert dbt_in_process() is True
