"""The Superset dashboards in headless Chromium: `shopflow dashboard` installs, provisions from the YAML in
dashboard/ and starts Superset on a demo warehouse; every chart of every provisioned dashboard renders
with data. Screenshots go to shopflow_assets_tests/e2e/out/."""

from __future__ import annotations

import secrets
from pathlib import Path

import duckdb
import pytest

from shopflow_assets.settings import PROJECT_ROOT, get_settings
from shopflow_assets_tests.support.browser import browser_page, free_port, wait_http
from shopflow_assets_tests.support.demo import demo_environment
from shopflow_assets_tests.support.superset import dashboard_cli, login, provision_module, render_board

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def dashboard(demo_home: Path, tmp_path_factory):
    """Superset on the demo warehouse, after page views and the Olist gold marts were added to it."""
    from shopflow_assets_tests.support.dashboard_data import load_dashboard_data

    settings = get_settings().model_copy(
        update={"home": demo_home, "duckdb_path": demo_home / "warehouse.duckdb", "env": "local"}
    )
    load_dashboard_data(settings, tmp_path_factory.mktemp("dashboard_data"))

    port, password = free_port(), secrets.token_urlsafe(12)
    env = demo_environment(demo_home) | {
        "SHOPFLOW_DASHBOARD_PORT": str(port),
        "SHOPFLOW_DASHBOARD_ADMIN_PASSWORD": password,
    }
    started = dashboard_cli([], env)
    try:
        assert started.returncode == 0, (started.stdout + started.stderr)[-4000:]
        assert f"http://127.0.0.1:{port}" in started.stdout
        assert password not in started.stdout  # a password the user chose is never echoed
        wait_http(f"http://127.0.0.1:{port}/health", 60)
        yield f"http://127.0.0.1:{port}", password, demo_home / "warehouse.duckdb"
    finally:
        stopped = dashboard_cli(["--stop"], env)
        assert "stopped" in stopped.stdout or "killed" in stopped.stdout, stopped.stdout + stopped.stderr


def test_every_chart_of_every_dashboard_renders_with_data(dashboard):
    base, password, warehouse = dashboard
    provision = provision_module()
    _, boards = provision.load_specs(PROJECT_ROOT / "dashboard")
    # The report dashboards (ERP, medallion) need other data: test_ui_dashboard_reports.py.
    boards = [b for b in boards if not b["_file"].startswith(("dashboards/erp/", "dashboards/medallion/"))]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (orders,) = con.execute("SELECT count(*) FROM fact_orders").fetchone()

    rendered = {}
    with browser_page(1400, 1000) as page:
        login(page, base, password)
        for board in boards:
            for name, text in render_board(page, base, board).items():
                rendered[(board["slug"], name)] = text

    # The numbers are the warehouse's: the big number of orders is the row count of fact_orders.
    total_orders = rendered[("shop-revenue", "Total orders")]
    assert str(orders) in total_orders.replace(",", ""), total_orders
    assert len(rendered) == sum(len(board["charts"]) for board in boards)
