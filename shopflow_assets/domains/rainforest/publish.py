"""The interface layer in the DuckDB warehouse: published report tables and the two views stakeholders query.

Publishing days first..last replaces those days in `interface.published_*` in ONE transaction, and the
views `interface.daily_category_report` / `interface.daily_order_report` read only those tables. When a
blocking check stops publication, nothing here runs, so the views keep the content published last.
The tables and views are declared by the contract (`contracts/rainforest.py`: REPORTS, interface_ddl).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from shopflow_assets.contracts.rainforest import (
    GOLD_DAY_COLUMN,
    INTERFACE_SCHEMA,
    PUBLISHED_AT,
    REPORTS,
    interface_ddl,
)


def ensure_interface(con) -> None:
    """The schema, the published tables and the views (idempotent)."""
    for statement in interface_ddl():
        con.execute(statement)


def publish_reports(con, reports: dict[str, pa.Table], first: dt.date, last: dt.date) -> dict[str, int]:
    """Replace days first..last of both reports with the gold rows given (Arrow), atomically."""
    ensure_interface(con)
    published_at = dt.datetime.now(dt.UTC)
    rows = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for view, report in REPORTS.items():
            table = f"{INTERFACE_SCHEMA}.{report.table}"
            con.execute(f"DELETE FROM {table} WHERE {GOLD_DAY_COLUMN} BETWEEN ? AND ?", [first, last])  # nosec B608 # constant schema/table names; values are bound
            con.register("_gold_rows", reports[view])
            columns = [c for c in reports[view].column_names]
            con.execute(
                f"INSERT INTO {table} ({', '.join(columns)}, {PUBLISHED_AT}) "  # nosec B608 # constant schema/table names; values are bound
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
        [INTERFACE_SCHEMA, *REPORTS],
    ).fetchone()[0]
    if exists < len(REPORTS):
        return dict.fromkeys((f"{INTERFACE_SCHEMA}.{view}" for view in REPORTS), 0)
    return {
        f"{INTERFACE_SCHEMA}.{view}": con.execute(
            f"SELECT count(*) FROM {INTERFACE_SCHEMA}.{view} WHERE {GOLD_DAY_COLUMN} = ?",  # nosec B608 # constant names; value bound
            [day],
        ).fetchone()[0]
        for view in REPORTS
    }
