"""Superset in the dashboard tests: `shopflow dashboard` started and stopped, the provisioned dashboard
specs read from dashboard/, a signed-in browser page that renders a dashboard and checks that every chart
drew with data, and the small medallion gold metrics the report dashboards are published from."""

from __future__ import annotations

import datetime as dt
import importlib.util
import statistics
import subprocess
import sys
from decimal import Decimal

import pyarrow as pa

from shopflow_assets.settings import PROJECT_ROOT
from shopflow_assets_tests.support.browser import screenshot

EMPTY_MARKERS = ("No results", "No data", "Data error", "Unexpected error", "error occurred")

DAY = dt.date(2026, 11, 2)
# Item revenues per (day, category) and order revenues per day: the medallion's gold metrics of three days.
ITEM_REVENUES = {
    (DAY, "books"): ["12.50", "30.00", "7.25"],
    (DAY, "garden"): ["99.99", "15.00"],
    (DAY + dt.timedelta(1), "books"): ["8.00", "22.00"],
    (DAY + dt.timedelta(1), "garden"): ["45.10", "5.90", "60.00", "12.00"],
    (DAY + dt.timedelta(2), "books"): ["19.99"],
}
ORDER_REVENUES = {
    DAY: ["42.50", "15.00", "107.24"],
    DAY + dt.timedelta(1): ["30.00", "123.00"],
    DAY + dt.timedelta(2): ["19.99", "0"],
}


def _mean(values: list[Decimal]) -> Decimal:
    return (sum(values) / len(values)).quantize(Decimal("0.000001"))


def gold_metrics() -> dict[str, pa.Table]:
    categories = [
        {
            "order_date": day,
            "category": category,
            "items": len(values),
            "total_revenue": sum(values),
            "mean_revenue": _mean(values),
            "median_revenue": statistics.median(values),
        }
        for (day, category), texts in ITEM_REVENUES.items()
        for values in [[Decimal(t) for t in texts]]
    ]
    orders = [
        {
            "order_date": day,
            "orders": len(values),
            "total_revenue": sum(values),
            "mean_revenue": _mean(values),
        }
        for day, texts in ORDER_REVENUES.items()
        for values in [[Decimal(t) for t in texts]]
    ]
    money, mean = pa.decimal128(38, 2), pa.decimal128(38, 6)
    return {
        "daily_category_report": pa.Table.from_pylist(
            categories,
            pa.schema(
                [
                    ("order_date", pa.date32()),
                    ("category", pa.string()),
                    ("items", pa.int64()),
                    ("total_revenue", money),
                    ("mean_revenue", mean),
                    ("median_revenue", mean),
                ]
            ),
        ),
        "daily_order_report": pa.Table.from_pylist(
            orders,
            pa.schema(
                [
                    ("order_date", pa.date32()),
                    ("orders", pa.int64()),
                    ("total_revenue", money),
                    ("mean_revenue", mean),
                ]
            ),
        ),
    }


def provision_module():
    spec = importlib.util.spec_from_file_location(
        "dashboard_provision", PROJECT_ROOT / "dashboard" / "provision.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboard_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shopflow_assets.cli", "dashboard", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def board_spec(database: str, folder: str) -> dict:
    _, boards = provision_module().load_specs(PROJECT_ROOT / "dashboard")
    (board,) = [
        b for b in boards if b["database"] == database and b["_file"].startswith(f"dashboards/{folder}/")
    ]
    return board


def login(page, base: str, password: str) -> None:
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
