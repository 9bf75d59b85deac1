"""The Superset dashboards in headless Chromium: `shopflow dashboard` installs, provisions from the YAML in
dashboard/ and starts Superset on a demo warehouse; every chart of every provisioned dashboard renders
with data. Screenshots go to shopflow_assets_tests/e2e/out/."""

from __future__ import annotations

import importlib.util
import secrets
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from shopflow_assets.settings import PROJECT_ROOT, get_settings
from shopflow_assets_tests.e2e.browser import browser_page, free_port, screenshot, wait_http
from shopflow_assets_tests.e2e.conftest import demo_environment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

EMPTY_MARKERS = ("No results", "No data", "Data error", "Unexpected error", "error occurred")


def _provision_module():
    spec = importlib.util.spec_from_file_location(
        "dashboard_provision", PROJECT_ROOT / "dashboard" / "provision.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shopflow_assets.cli", "dashboard", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.fixture(scope="module")
def dashboard(demo_home: Path, tmp_path_factory):
    """Superset on the demo warehouse, after page views and the Olist gold marts were added to it."""
    from shopflow_assets_tests.e2e.dashboard_data import load_dashboard_data

    settings = get_settings().model_copy(
        update={"home": demo_home, "duckdb_path": demo_home / "warehouse.duckdb", "env": "local"}
    )
    load_dashboard_data(settings, tmp_path_factory.mktemp("dashboard_data"))

    port, password = free_port(), secrets.token_urlsafe(12)
    env = demo_environment(demo_home) | {
        "SHOPFLOW_DASHBOARD_PORT": str(port),
        "SHOPFLOW_DASHBOARD_ADMIN_PASSWORD": password,
    }
    started = _cli([], env)
    try:
        assert started.returncode == 0, (started.stdout + started.stderr)[-4000:]
        assert f"http://127.0.0.1:{port}" in started.stdout
        assert password not in started.stdout  # a password the user chose is never echoed
        wait_http(f"http://127.0.0.1:{port}/health", 60)
        yield f"http://127.0.0.1:{port}", password, demo_home / "warehouse.duckdb"
    finally:
        stopped = _cli(["--stop"], env)
        assert "stopped" in stopped.stdout or "killed" in stopped.stdout, stopped.stdout + stopped.stderr


def _login(page, base: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#username", "admin")
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()
    # Signed in = redirected to the welcome page. Its full load (a large bundle served by the development
    # server) took over a minute on a loaded CI machine and is not what the tests look at: wait for the
    # redirect to commit only, with room for a slow machine.
    page.wait_for_url("**/superset/welcome/**", wait_until="commit", timeout=180_000)


def _chart_holder(page, name: str):
    return page.locator(".dashboard-component-chart-holder").filter(has=page.get_by_text(name, exact=True))


DRAWN = {
    "table": "table tbody tr",
    "big_number": ".header-line",
    "line": "canvas, svg",
    "bar": "canvas, svg",
    "pie": "canvas, svg",
}


def render_board(page, base: str, board: dict) -> dict[str, str]:
    """Open a provisioned dashboard, wait for every chart to draw with data; {chart name: its text}.
    Leaves a screenshot `dashboard-<slug>.png`."""
    rendered = {}
    page.goto(f"{base}/superset/dashboard/{board['slug']}/")
    for chart in board["charts"]:
        holder = _chart_holder(page, chart["name"])
        holder.wait_for()
        # A chart is done when its loading spinner is gone and something was drawn.
        kind = chart["type"]
        holder.locator(DRAWN[kind]).first.wait_for(timeout=120_000)
        text = holder.inner_text()
        assert not any(marker in text for marker in EMPTY_MARKERS), (
            f"{board['title']} / {chart['name']}: {text}"
        )
        if kind == "table":
            assert holder.locator("table tbody tr").count() > 0, chart["name"]
        rendered[chart["name"]] = text
    # ECharts draws lines with an animation of about a second: let it finish for the screenshot.
    page.wait_for_timeout(3000)
    screenshot(page, f"dashboard-{board['slug']}")
    return rendered


def test_every_chart_of_every_dashboard_renders_with_data(dashboard):
    base, password, warehouse = dashboard
    provision = _provision_module()
    _, boards = provision.load_specs(PROJECT_ROOT / "dashboard")
    # The report dashboards (ERP, medallion) need other data: test_ui_dashboard_reports.py.
    boards = [b for b in boards if not b["_file"].startswith(("dashboards/erp/", "dashboards/medallion/"))]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (orders,) = con.execute("SELECT count(*) FROM fact_orders").fetchone()

    rendered = {}
    with browser_page(1400, 1000) as page:
        _login(page, base, password)
        for board in boards:
            for name, text in render_board(page, base, board).items():
                rendered[(board["slug"], name)] = text

    # The numbers are the warehouse's: the big number of orders is the row count of fact_orders.
    total_orders = rendered[("shop-revenue", "Total orders")]
    assert str(orders) in total_orders.replace(",", ""), total_orders
    assert len(rendered) == sum(len(board["charts"]) for board in boards)
