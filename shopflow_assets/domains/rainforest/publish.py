"""The interface layer in the DuckDB warehouse: published report tables and the two views stakeholders query.

Publishing days first..last replaces those days in `interface.published_*` in ONE transaction, and the
views `interface.daily_category_report` / `interface.daily_order_report` read only those tables. When a
blocking check stops publication, nothing here runs, so the views keep the content published last.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

SCHEMA = "interface"
REPORTS = {
    "daily_category_report": {
        "table": "published_daily_category_metrics",
        "columns": """order_date DATE NOT NULL, category VARCHAR NOT NULL, items BIGINT NOT NULL,
            total_revenue DECIMAL(38, 2) NOT NULL, mean_revenue DECIMAL(38, 6) NOT NULL,
            median_revenue DECIMAL(38, 6) NOT NULL, published_at TIMESTAMP WITH TIME ZONE NOT NULL,
            PRIMARY KEY (order_date, category)""",
        "view": """SELECT order_date, category, mean_revenue, median_revenue, items, total_revenue
            FROM interface.published_daily_category_metrics""",
    },
    "daily_order_report": {
        "table": "published_daily_order_metrics",
        "columns": """order_date DATE NOT NULL PRIMARY KEY, orders BIGINT NOT NULL,
            total_revenue DECIMAL(38, 2) NOT NULL, mean_revenue DECIMAL(38, 6) NOT NULL,
            published_at TIMESTAMP WITH TIME ZONE NOT NULL""",
        "view": """SELECT order_date, total_revenue, mean_revenue, orders
            FROM interface.published_daily_order_metrics""",
    },
}
GOLD_SOURCE = {"daily_category_report": "daily_category_metrics", "daily_order_report": "daily_order_metrics"}


def ensure_interface(con) -> None:
    """The schema, the published tables and the views (idempotent)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for view, spec in REPORTS.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{spec['table']} ({spec['columns']})")
        con.execute(f"CREATE OR REPLACE VIEW {SCHEMA}.{view} AS {spec['view']}")


def publish_reports(con, reports: dict[str, pa.Table], first: dt.date, last: dt.date) -> dict[str, int]:
    """Replace days first..last of both reports with the gold rows given (Arrow), atomically."""
    ensure_interface(con)
    published_at = dt.datetime.now(dt.UTC)
    rows = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for view, spec in REPORTS.items():
            table = f"{SCHEMA}.{spec['table']}"
            con.execute(f"DELETE FROM {table} WHERE order_date BETWEEN ? AND ?", [first, last])  # nosec B608 # constant schema/table names; values are bound
            con.register("_gold_rows", reports[view])
            columns = [c for c in reports[view].column_names]
            con.execute(
                f"INSERT INTO {table} ({', '.join(columns)}, published_at) "  # nosec B608 # constant schema/table names; values are bound
                f"SELECT {', '.join(columns)}, ? FROM _gold_rows",
                [published_at],
            )
            con.unregister("_gold_rows")
            rows[view] = len(reports[view])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return rows


def published_rows(con, day: dt.date) -> dict[str, int]:
    """Rows of each report view for `day` (0 when the interface was never published)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name IN (?, ?)",
        [SCHEMA, *REPORTS],
    ).fetchone()[0]
    if exists < len(REPORTS):
        return dict.fromkeys((f"{SCHEMA}.{view}" for view in REPORTS), 0)
    return {
        f"{SCHEMA}.{view}": con.execute(
            f"SELECT count(*) FROM {SCHEMA}.{view} WHERE order_date = ?",  # nosec B608 # constant names; value bound
            [day],
        ).fetchone()[0]
        for view in REPORTS
    }
