"""SQL Lab cannot reach the host through DuckDB (issue 24 item 1).

`shopflow dashboard` on a warehouse of this test only; the dashboard's SQL Lab user (admin) sends
statements through Superset's REST API `/api/v1/sqllab/execute/`, as the SQL Lab page does. Reading a
file (`read_text` of a secret file, of `/proc/self/environ` with SUPERSET_SECRET_KEY), writing one
(`COPY ... TO`) and turning external access back on with `SET` all fail; a plain SELECT of a warehouse
table still answers, and every chart of the rainforest dashboard (DuckDB views) still gets its rows from
the chart data API the dashboard page uses (no browser needed).
"""

from __future__ import annotations

import json
import secrets

import duckdb
import pytest
import requests

from shopflow_assets.domains.rainforest.publish import publish_reports
from shopflow_assets_tests.support.browser import free_port, wait_http
from shopflow_assets_tests.support.demo import demo_environment
from shopflow_assets_tests.support.superset import ORDER_REVENUES, board_spec, dashboard_cli, gold_metrics

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def sqllab(tmp_path_factory):
    """Superset on its own SHOPFLOW_HOME; yields (api session, base url, database id, home, secrets)."""
    home = tmp_path_factory.mktemp("sqllab")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        publish_reports(con, gold_metrics(), min(ORDER_REVENUES), max(ORDER_REVENUES))
        con.execute("CREATE TABLE fact_orders AS SELECT 1 AS order_id, DATE '2026-11-02' AS order_date")
    canary = secrets.token_hex(16)
    (home / "secret.env").write_text(f"SHOPFLOW_CANARY={canary}\n")
    port, password, secret_key = free_port(), secrets.token_urlsafe(12), secrets.token_hex(32)
    env = demo_environment(home) | {
        "SHOPFLOW_DASHBOARD_PORT": str(port),
        "SHOPFLOW_DASHBOARD_ADMIN_PASSWORD": password,
        "SUPERSET_SECRET_KEY": secret_key,
    }
    started = dashboard_cli([], env)
    try:
        assert started.returncode == 0, (started.stdout + started.stderr)[-4000:]
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", 60)
        api = requests.Session()
        login = api.post(
            f"{base}/api/v1/security/login",
            json={"username": "admin", "password": password, "provider": "db", "refresh": False},
            timeout=60,
        )
        login.raise_for_status()
        api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        csrf = api.get(f"{base}/api/v1/security/csrf_token/", timeout=60)
        csrf.raise_for_status()
        api.headers["X-CSRFToken"] = csrf.json()["result"]
        api.headers["Referer"] = base
        found = api.get(f"{base}/api/v1/database/", timeout=60).json()["result"]
        (database_id,) = [d["id"] for d in found if d["database_name"] == "ShopFlow warehouse"]
        yield api, base, database_id, password, {"canary": canary, "secret_key": secret_key, "home": home}
    finally:
        stopped = dashboard_cli(["--stop"], env)
        assert "stopped" in stopped.stdout or "killed" in stopped.stdout, stopped.stdout + stopped.stderr


def _execute(api: requests.Session, base: str, database_id: int, sql: str) -> tuple[int, str, dict]:
    response = api.post(
        f"{base}/api/v1/sqllab/execute/",
        json={
            "database_id": database_id,
            "sql": sql,
            "schema": "main",
            "runAsync": False,
            "client_id": secrets.token_hex(5),
            "queryLimit": 100,
        },
        timeout=120,
    )
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, response.text, body


def test_sqllab_cannot_read_or_write_host_files_and_still_selects(sqllab):
    api, base, database_id, _, secret = sqllab
    home = secret["home"]
    written = home / "written-by-sqllab.txt"
    attempts = {
        "read a secret file": f"SELECT content FROM read_text('{home / 'secret.env'}')",
        "read the process environment": "SELECT content FROM read_text('/proc/self/environ')",
        "write a file": f"COPY (SELECT 42 AS answer) TO '{written}'",
        "undo the setting, then read": (
            f"SET enable_external_access = true; SELECT content FROM read_text('{home / 'secret.env'}')"
        ),
    }
    for what, sql in attempts.items():
        status, text, body = _execute(api, base, database_id, sql)
        assert status >= 400 or body.get("status") != "success", f"{what}: {status} {text[:2000]}"
        assert secret["canary"] not in text, what
        assert secret["secret_key"] not in text, what
        assert "disabled by configuration" in text or "configuration has been locked" in text, (
            f"{what}: {status} {text[:2000]}"
        )
    assert not written.exists()

    status, text, body = _execute(api, base, database_id, "SELECT count(*) AS n FROM main.fact_orders")
    assert status == 200 and body.get("status") == "success", text[:2000]
    assert body["data"] == [{"n": 1}]


def _chart_query(chart: dict) -> dict:
    """The query the dashboard's page asks for a chart (its saved params as Superset's chart data API
    takes them): the x axis at its time grain, the groups, the metrics, the chart's filters."""
    params = json.loads(chart["params"])
    columns: list = list(params.get("groupby", []))
    if params.get("x_axis"):
        axis = params["x_axis"]
        columns.insert(
            0,
            {
                "columnType": "BASE_AXIS",
                "expressionType": "SQL",
                "sqlExpression": axis,
                "label": axis,
                "timeGrain": params["time_grain_sqla"],
            },
        )
    return {
        "columns": columns,
        "metrics": params.get("metrics") or [params["metric"]],
        "filters": [],
        "extras": {
            "where": " AND ".join(f["sqlExpression"] for f in params["adhoc_filters"] if "sqlExpression" in f)
        },
        "time_range": "No filter",
        "row_limit": 100,
        "orderby": [],
    }


def test_the_duckdb_dashboard_charts_still_get_their_data(sqllab):
    # No browser on every machine: the dashboard page draws each chart from Superset's chart data API,
    # which runs the chart's query on the locked DuckDB connection; every one answers with rows.
    api, base, _, _, _ = sqllab
    board = board_spec("ShopFlow warehouse", "medallion")
    listed = api.get(
        f"{base}/api/v1/chart/",
        params={"q": "(columns:!(id,slice_name,datasource_id,params),page_size:100)"},
        timeout=60,
    )
    listed.raise_for_status()
    charts = {c["slice_name"]: c for c in listed.json()["result"]}
    for spec in board["charts"]:
        chart = charts[spec["name"]]
        response = api.post(
            f"{base}/api/v1/chart/data",
            json={
                "datasource": {"id": chart["datasource_id"], "type": "table"},
                "force": True,
                "queries": [_chart_query(chart)],
                "result_format": "json",
                "result_type": "full",
            },
            timeout=120,
        )
        assert response.status_code == 200, f"{spec['name']}: {response.text[:2000]}"
        (result,) = response.json()["result"]
        assert result.get("error") is None and result["rowcount"] > 0, f"{spec['name']}: {result}"
