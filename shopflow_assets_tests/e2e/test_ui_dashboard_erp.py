"""The ERP reports dashboard in headless Chromium, over a PostgreSQL warehouse the ERP flow filled.

The ERP flow runs for real (generated totesys history -> raw Parquet in MinIO -> star schema -> the
warehouse) on databases and a lake prefix of this test only (erp_support.erp_stack), with the read-only
role granted what `shopflow services up` grants it on the stack's warehouse. `shopflow dashboard` then
reads that warehouse through the read-only role; every ERP chart renders with data and the figures
equal the ERP flow's report queries run on the warehouse. Needs `shopflow services up`.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from shopflow_assets.devstack.postgres import reporting_reader_grants
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.settings import PROJECT_ROOT, get_settings
from shopflow_assets_tests.e2e.browser import browser_page, free_port, wait_http
from shopflow_assets_tests.e2e.conftest import demo_environment
from shopflow_assets_tests.e2e.test_ui_dashboard import _cli, _login, _provision_module, render_board
from shopflow_assets_tests.integration.erp_support import erp_stack, rows

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

QUERIES = PROJECT_ROOT / "sql" / "erp_dashboard_queries.sql"


@pytest.fixture(scope="module")
def erp_warehouse():
    """An ERP warehouse database loaded by one run of the ERP flow; its name and the stack."""
    settings = get_settings()
    if settings.postgres_password is None or settings.postgres_reader_password is None:
        pytest.fail("no PostgreSQL credentials in settings: run `uv run shopflow services up` first")
    with erp_stack(settings) as stack:
        with stack.warehouse() as conn:
            for statement in reporting_reader_grants(settings.postgres_user, settings.postgres_reader_user):
                conn.execute(statement)
        loaded = stack.run()
        assert loaded.batches, "the ERP flow loaded nothing"
        yield stack


@pytest.fixture(scope="module")
def erp_dashboard(erp_warehouse, tmp_path_factory):
    """Superset (own SHOPFLOW_HOME) whose ERP connection points at the test's warehouse database."""
    settings = erp_warehouse.settings
    home = tmp_path_factory.mktemp("erp_dashboard")
    port, password = free_port(), secrets.token_urlsafe(12)
    env = demo_environment(home) | {
        "SHOPFLOW_DASHBOARD_PORT": str(port),
        "SHOPFLOW_DASHBOARD_ADMIN_PASSWORD": password,
        "SHOPFLOW_DASHBOARD_ERP_DATABASE": erp_warehouse.warehouse_db,
        # The stack's credentials live in this checkout's generated.env, not in the test's home.
        "POSTGRES_PORT": str(settings.postgres_port),
        "POSTGRES_READER_USER": settings.postgres_reader_user,
        "POSTGRES_READER_PASSWORD": settings.postgres_reader_password.get_secret_value(),
    }
    started = _cli([], env)
    try:
        assert started.returncode == 0, (started.stdout + started.stderr)[-4000:]
        provision_log = (home / "dashboard" / "provision.log").read_text()
        assert "skipped database 'ERP warehouse'" not in provision_log, provision_log
        assert settings.postgres_reader_password.get_secret_value() not in provision_log
        wait_http(f"http://127.0.0.1:{port}/health", 60)
        yield f"http://127.0.0.1:{port}", password, home
    finally:
        stopped = _cli(["--stop"], env)
        assert "stopped" in stopped.stdout or "killed" in stopped.stdout, stopped.stdout + stopped.stderr


def _number(text: str) -> int:
    """The first whole number in a chart's text (Superset writes 1,234 or 1.23k for large ones)."""
    match = re.search(r"\d[\d,]*", text)
    assert match, text
    return int(match.group().replace(",", ""))


def test_every_erp_chart_renders_with_the_warehouse_figures(erp_warehouse, erp_dashboard):
    base, password, home = erp_dashboard
    provision = _provision_module()
    _, boards = provision.load_specs(PROJECT_ROOT / "dashboard")
    (board,) = [b for b in boards if b["database"] == "ERP warehouse"]

    # The same report queries, run on the warehouse through the read-only role, as the dashboard does.
    reader = PostgresResource.from_settings(erp_warehouse.settings, role="reader")
    with reader.connect(database=erp_warehouse.warehouse_db) as conn:
        sales = rows(conn, provision.named_query(QUERIES, "sales_by_month_and_currency"))
        top = rows(conn, provision.named_query(QUERIES, "top_counterparties"))
        locations = rows(conn, provision.named_query(QUERIES, "purchase_vs_sales_by_location"))
    with erp_warehouse.source() as src:
        (source_orders,) = rows(src, "SELECT count(*) FROM sales_order")[0]
    assert sales and top and locations
    orders = sum(r[4] for r in sales)
    assert orders == source_orders  # every generated order reached the warehouse once (latest version)

    with browser_page(1400, 1200) as page:
        _login(page, base, password)
        rendered = render_board(page, base, board)
    assert set(rendered) == {chart["name"] for chart in board["charts"]}

    assert _number(rendered["Sales orders"]) == orders
    # The tables show the query's rows: every ranked counterparty and every delivery city.
    top_text = rendered["Top counterparties per currency"]
    assert all(name in top_text and currency in top_text for currency, _, _, name, *_ in top)
    locations_text = rendered["Purchase vs sales by location"]
    assert all(city in locations_text for _, city, *_ in locations)
    assert Path(PROJECT_ROOT / "shopflow_assets_tests" / "e2e" / "out" / "dashboard-erp-reports.png").exists()
