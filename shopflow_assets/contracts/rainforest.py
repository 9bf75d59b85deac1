"""The rainforest marketplace app and its medallion, in one place: source tables, lake tables, reports, rules.

SOURCE_TABLES is the column contract of the 12 app tables in PostgreSQL: name -> key and columns (column,
PostgreSQL type, column constraint). The generator creates the tables from it (`source_table_sql`), the
extraction walks it, and silver keeps the newest version per `SOURCE_KEYS`. The lake tables, the report
tables of the interface and the rules that block publication are named here too, so the pipeline, the
assets, the checks and the publication read one definition. Pure data: no Spark, no Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_DATABASE = "rainforest"
CHANGED_COLUMN = "updated_ts"  # what extraction windows and newest versions go by

ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled")
CANCELLED = "cancelled"  # orders left out of both reports (their items too)
EVENT_TYPES = ("view", "impression", "checkout")

# --- the app's tables (PostgreSQL database `rainforest`) ---------------------------------------------
Column = tuple[str, str, str]
BIGINT, INTEGER, TEXT, PRICE = "bigint", "integer", "text", "numeric(10,2)"
NOT_NULL, PRIMARY_KEY = "NOT NULL", "PRIMARY KEY"
_STAMPS: tuple[Column, ...] = (
    ("created_ts", "timestamptz", NOT_NULL),
    (CHANGED_COLUMN, "timestamptz", NOT_NULL),
)


@dataclass(frozen=True)
class SourceTable:
    """One app table: its primary key and its columns in order (every table ends with the two stamps)."""

    key: tuple[str, ...]
    columns: tuple[Column, ...]


def _table(*columns: Column, key: tuple[str, ...] = ()) -> SourceTable:
    """A table keyed by its `_id` column, or by `key` (columns of a composite key)."""
    key = key or tuple(name for name, _, constraint in columns if constraint == PRIMARY_KEY)
    return SourceTable(key, (*columns, *_STAMPS))


def _id(name: str, pg_type: str = BIGINT) -> Column:
    return (name, pg_type, PRIMARY_KEY)


def _ref(name: str, table: str, pg_type: str = BIGINT, unique: bool = False) -> Column:
    """A required foreign key to `table` of the same schema."""
    return (name, pg_type, f"NOT NULL {'UNIQUE ' if unique else ''}REFERENCES {{schema}}.{table}")


def _one_of(name: str, values: tuple[str, ...]) -> Column:
    return (name, TEXT, f"NOT NULL CHECK ({name} IN ({', '.join(repr(v) for v in values)}))")


def _positive(name: str, pg_type: str) -> Column:
    return (name, pg_type, f"NOT NULL CHECK ({name} > 0)")


# In dependency order (a table only references tables above it): what --reset drops in reverse and
# extraction walks.
SOURCE_TABLES: dict[str, SourceTable] = {
    "appuser": _table(
        _id("user_id"),
        ("username", TEXT, "NOT NULL UNIQUE"),
        ("email", TEXT, NOT_NULL),
        ("is_active", "boolean", NOT_NULL),
    ),
    "buyer": _table(
        _id("buyer_id"),
        _ref("user_id", "appuser", unique=True),
        ("first_name", TEXT, NOT_NULL),
        ("last_name", TEXT, NOT_NULL),
        ("country", TEXT, NOT_NULL),
    ),
    "seller": _table(
        _id("seller_id"),
        _ref("user_id", "appuser", unique=True),
        ("store_name", TEXT, NOT_NULL),
        ("country", TEXT, NOT_NULL),
        ("rating", "numeric(2,1)", NOT_NULL),
    ),
    "brand": _table(_id("brand_id", INTEGER), ("name", TEXT, NOT_NULL), ("country", TEXT, NOT_NULL)),
    "manufacturer": _table(
        _id("manufacturer_id", INTEGER), ("name", TEXT, NOT_NULL), ("country", TEXT, NOT_NULL)
    ),
    "category": _table(_id("category_id", INTEGER), ("name", TEXT, "NOT NULL UNIQUE")),
    "product": _table(
        _id("product_id"),
        ("name", TEXT, NOT_NULL),
        _ref("brand_id", "brand", INTEGER),
        _ref("manufacturer_id", "manufacturer", INTEGER),
        _positive("base_price", PRICE),
    ),
    "product_category": _table(
        _ref("product_id", "product"),
        _ref("category_id", "category", INTEGER),
        key=("product_id", "category_id"),
    ),
    "seller_product": _table(
        _ref("seller_id", "seller"), _ref("product_id", "product"), key=("seller_id", "product_id")
    ),
    "orders": _table(
        _id("order_id"),
        _ref("buyer_id", "buyer"),
        ("order_ts", "timestamptz", NOT_NULL),
        _one_of("status", ORDER_STATUSES),
    ),
    # No foreign keys on the two large tables: they would double the COPY time; the generator keeps
    # them consistent and the pipeline's checks verify it downstream.
    "order_items": _table(
        _id("order_item_id"),
        ("order_id", BIGINT, NOT_NULL),
        ("product_id", BIGINT, NOT_NULL),
        ("seller_id", BIGINT, NOT_NULL),
        _positive("quantity", INTEGER),
        ("base_price", PRICE, NOT_NULL),
        ("actual_price", PRICE, NOT_NULL),
    ),
    "clickstream": _table(
        _id("event_id"),
        ("buyer_id", BIGINT, ""),  # null: anonymous browsing
        ("session_id", TEXT, NOT_NULL),
        ("product_id", BIGINT, NOT_NULL),
        _one_of("event_type", EVENT_TYPES),
        ("event_ts", "timestamptz", NOT_NULL),
        ("order_id", BIGINT, ""),  # the order a checkout led to
    ),
}
# Primary keys of the source tables (what "newest version" is taken per).
SOURCE_KEYS: dict[str, tuple[str, ...]] = {name: table.key for name, table in SOURCE_TABLES.items()}


def source_table_sql(table: str, schema: str) -> str:
    """The body of CREATE TABLE for `table`, foreign keys into `schema` (an already quoted identifier)."""
    spec = SOURCE_TABLES[table]
    columns = [f"{name} {pg_type} {constraint}".rstrip() for name, pg_type, constraint in spec.columns]
    if all(constraint != PRIMARY_KEY for _, _, constraint in spec.columns):
        columns.append(f"PRIMARY KEY ({', '.join(spec.key)})")
    return ", ".join(columns).replace("{schema}", schema)


# --- the lake (Delta, lakehouse/rainforest/<layer>/<table>) -------------------------------------------
# Silver facts -> the day column each is partitioned by (a run replaces exactly its days of it).
SILVER_FACTS = {
    "fact_orders": "order_date",
    "fact_order_items": "order_date",
    "fact_clickstream": "event_date",
}
# Dimensions and bridges: the newest version of every row, rebuilt whole.
SILVER_DIMS = (
    "dim_buyer",
    "dim_seller",
    "dim_category",
    "dim_product",
    "product_x_category",
    "seller_x_product",
)
SILVER_TABLES = (*SILVER_FACTS, *SILVER_DIMS)
GOLD_TABLES = ("wide_orders", "wide_order_items", "daily_category_metrics", "daily_order_metrics")
GOLD_DAY_COLUMN = "order_date"  # every gold table is partitioned by it and replaced by day

# --- the rules that block publication (checked on gold: domains/rainforest/checks.py) ----------------
MAX_MEAN_REVENUE = 100_000  # a report's mean revenue must be below this (and present)
# One item per order line: the same (order, product, seller) under two item ids is a double submission.
ORDER_LINE = ("order_id", "product_id", "seller_id")

# --- the interface (DuckDB warehouse): the report views and the tables behind them -------------------
INTERFACE_SCHEMA = "interface"
PUBLISHED_AT = "published_at"
MEAN_DECIMAL = (38, 6)  # means are decimals rounded half-up to 6 places
_TOTAL, _MEAN = "DECIMAL(38, 2)", "DECIMAL({}, {})".format(*MEAN_DECIMAL)


@dataclass(frozen=True)
class Report:
    """A report view: the gold table it publishes, whose columns (DuckDB types, all NOT NULL) and key the
    published table repeats, and the order the view shows them in."""

    gold: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    view_columns: tuple[str, ...]

    @property
    def table(self) -> str:
        return f"published_{self.gold}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


CATEGORY_REPORT = Report(
    gold="daily_category_metrics",
    columns=(
        ("order_date", "DATE"),
        ("category", "VARCHAR"),
        ("items", "BIGINT"),
        ("total_revenue", _TOTAL),
        ("mean_revenue", _MEAN),
        ("median_revenue", _MEAN),
    ),
    key=("order_date", "category"),
    view_columns=("order_date", "category", "mean_revenue", "median_revenue", "items", "total_revenue"),
)
ORDER_REPORT = Report(
    gold="daily_order_metrics",
    columns=(
        ("order_date", "DATE"),
        ("orders", "BIGINT"),
        ("total_revenue", _TOTAL),
        ("mean_revenue", _MEAN),
    ),
    key=("order_date",),
    view_columns=("order_date", "total_revenue", "mean_revenue", "orders"),
)
# view name -> report, in interface.<view>
REPORTS = {"daily_category_report": CATEGORY_REPORT, "daily_order_report": ORDER_REPORT}


def interface_ddl() -> list[str]:
    """Idempotent statements creating the interface schema, the published tables and the report views."""
    statements = [f"CREATE SCHEMA IF NOT EXISTS {INTERFACE_SCHEMA}"]
    for view, report in REPORTS.items():
        table = f"{INTERFACE_SCHEMA}.{report.table}"
        columns = [f"{name} {sql_type} NOT NULL" for name, sql_type in report.columns]
        columns += [
            f"{PUBLISHED_AT} TIMESTAMP WITH TIME ZONE NOT NULL",
            f"PRIMARY KEY ({', '.join(report.key)})",
        ]
        statements.append(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})")
        statements.append(
            f"CREATE OR REPLACE VIEW {INTERFACE_SCHEMA}.{view} AS "  # nosec B608 # constant names
            f"SELECT {', '.join(report.view_columns)} FROM {table}"
        )
    return statements
