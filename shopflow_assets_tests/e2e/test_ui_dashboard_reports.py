"""The report dashboards in headless Chromium: ERP reports (PostgreSQL) and the rainforest medallion's
daily reports (DuckDB interface views), both on one Superset start.

ERP: the ERP flow runs for real (generated totesys history -> raw Parquet in MinIO -> star schema -> the
warehouse) on databases and a lake prefix of this test only (support.erp.erp_stack), with the read-only
role granted what `shopflow services up` grants it on the stack's warehouse. `shopflow dashboard` reads
that warehouse through the read-only role.

Medallion: the interface views are filled by the medallion's own publication step
(rainforest.publish.publish_reports) with a few days of small gold metrics; the Spark layers before it
are tested in integration/test_rainforest_medallion.py and take minutes.

Every chart renders with data and a figure of each equals the same SQL run on the warehouse. Needs
`shopflow services up`. Screenshots: shopflow_assets_tests/e2e/out/dashboard-<slug>.png.
"""

from __future__ import annotations

import re
import secrets

import duckdb
import pytest

from shopflow_assets.devstack.postgres import reporting_reader_grants
from shopflow_assets.domains.rainforest.publish import publish_reports
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.settings import PROJECT_ROOT, get_settings
from shopflow_assets_tests.support.browser import OUT_DIR, browser_page, free_port, wait_http
from shopflow_assets_tests.support.demo import demo_environment
from shopflow_assets_tests.support.erp import erp_stack, rows
from shopflow_assets_tests.support.superset import (
    ITEM_REVENUES,
    ORDER_REVENUES,
    board_spec,
    dashboard_cli,
    gold_metrics,
    login,
    provision_module,
    render_board,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

QUERIES = PROJECT_ROOT / "sql" / "erp_dashboard_queries.sql"


@pytest.fixture(scope="module")
def erp_warehouse():
    """An ERP warehouse database loaded by one run of the ERP flow (yields the stack)."""
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
def reports_dashboard(erp_warehouse, tmp_path_factory):
    """Superset on its own SHOPFLOW_HOME: the medallion interface published into that home's DuckDB
    warehouse, the ERP connection pointed at the test's PostgreSQL warehouse."""
    settings = erp_warehouse.settings
    home = tmp_path_factory.mktemp("reports_dashboard")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        published = publish_reports(con, gold_metrics(), min(ORDER_REVENUES), max(ORDER_REVENUES))
    assert published == {
        "daily_category_report": len(ITEM_REVENUES),
        "daily_order_report": len(ORDER_REVENUES),
    }

    port, password = free_port(), secrets.token_urlsafe(12)
    reader_password = settings.postgres_reader_password.get_secret_value()
    env = demo_environment(home) | {
        "SHOPFLOW_DASHBOARD_PORT": str(port),
        "SHOPFLOW_DASHBOARD_ADMIN_PASSWORD": password,
        "SHOPFLOW_DASHBOARD_ERP_DATABASE": erp_warehouse.warehouse_db,
        # The stack's credentials live in this checkout's generated.env, not in the test's home.
        "POSTGRES_PORT": str(settings.postgres_port),
        "POSTGRES_READER_USER": settings.postgres_reader_user,
        "POSTGRES_READER_PASSWORD": reader_password,
    }
    started = dashboard_cli([], env)
    try:
        assert started.returncode == 0, (started.stdout + started.stderr)[-4000:]
        provision_log = (home / "dashboard" / "provision.log").read_text()
        assert "skipped" not in provision_log, provision_log
        assert reader_password not in provision_log + started.stdout + started.stderr
        wait_http(f"http://127.0.0.1:{port}/health", 60)
        yield f"http://127.0.0.1:{port}", password, home
    finally:
        stopped = dashboard_cli(["--stop"], env)
        assert "stopped" in stopped.stdout or "killed" in stopped.stdout, stopped.stdout + stopped.stderr


def _number(text: str) -> int:
    """The first whole number in a chart's text (Superset writes 1,234 for large ones)."""
    match = re.search(r"\d[\d,]*", text)
    assert match, text
    return int(match.group().replace(",", ""))


def test_every_erp_chart_renders_with_the_warehouse_figures(erp_warehouse, reports_dashboard):
    base, password, _ = reports_dashboard
    provision = provision_module()
    board = board_spec("ERP warehouse", "erp")

    # The same report queries, run on the warehouse through the read-only role, as the dashboard does.
    reader = PostgresResource.from_settings(erp_warehouse.settings, role="reader")
    with reader.connect(database=erp_warehouse.warehouse_db) as conn:
        sales = rows(conn, provision.named_query(QUERIES, "sales_by_month_and_currency"))
        top = rows(conn, provision.named_query(QUERIES, "top_counterparties"))
        locations = rows(conn, provision.named_query(QUERIES, "purchase_vs_sales_by_location"))
    with erp_warehouse.source() as src:
        ((source_orders,),) = rows(src, "SELECT count(*) FROM sales_order")
    assert sales and top and locations
    orders = sum(r[4] for r in sales)
    assert orders == source_orders  # every generated order reached the warehouse once (latest version)

    with browser_page(1400, 1200) as page:
        login(page, base, password)
        rendered = render_board(page, base, board)
    assert set(rendered) == {chart["name"] for chart in board["charts"]}
    assert (OUT_DIR / "dashboard-erp-reports.png").exists()

    assert _number(rendered["Sales orders"]) == orders
    # The tables show the query's rows: every ranked counterparty and every delivery city.
    top_text = rendered["Top counterparties per currency"]
    assert all(name in top_text and currency in top_text for currency, _, _, name, *_ in top)
    locations_text = rendered["Purchase vs sales by location"]
    assert all(city in locations_text for _, city, *_ in locations)


def test_every_medallion_chart_renders_with_the_published_reports(reports_dashboard):
    base, password, home = reports_dashboard
    board = board_spec("ShopFlow warehouse", "medallion")
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (orders,) = con.execute("SELECT sum(orders) FROM interface.daily_order_report").fetchone()
        categories = con.execute("SELECT DISTINCT category FROM interface.daily_category_report").fetchall()

    with browser_page(1400, 1400) as page:
        login(page, base, password)
        rendered = render_board(page, base, board)
    assert set(rendered) == {chart["name"] for chart in board["charts"]}
    assert (OUT_DIR / f"dashboard-{board['slug']}.png").exists()

    assert _number(rendered["Orders in the reports"]) == orders
    assert all(category in rendered["Daily category report"] for (category,) in categories)
    # One row per published day in the order report's table, one per (day, category) in the other.
    assert rendered["Daily order report"].count("2026-11-0") >= len(ORDER_REVENUES)
