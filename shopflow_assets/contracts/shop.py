"""Contracts of the shop daily batch: raw CSV layouts, cleaning rules, cleaned and modelled tables.

The cleaning rules are the ones in docs/requirements.md; the rule names are shared with the generator's
manifest (`shopflow_assets.datagen.shop`) so quarantine can be checked row by row against it.
"""

from __future__ import annotations

import datetime as dt

from shopflow_assets.contracts.dataset import DatasetContract, register_dataset
from shopflow_assets.contracts.dataset import lazy_pandera as pa  # built on first use: no pandera at load

# The shop's daily partitions begin with its first business day. Code, not a setting: partitions are part
# of the asset graph, fixed when the code location loads; move it back if your history starts earlier.
FIRST_BUSINESS_DAY = dt.date(2025, 1, 1)

# --- raw files ----------------------------------------------------------------------------------------
# Column order of each raw CSV as the generator writes it (the header is checked before upload).
RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("user_id", "signup_date", "country"),
    "products": ("product_id", "category", "price"),
    # `order_ts` is ours: the source layout gives orders no timestamp (see docs/shop-batch.md).
    "orders": ("order_id", "user_id", "product_id", "quantity", "total_amount", "order_ts"),
}
# File name the generator writes for each dataset, and the primary key of each.
RAW_FILE_NAMES = {"users": "Users.csv", "products": "Products.csv", "orders": "Orders.csv"}
PRIMARY_KEYS = {"users": "user_id", "products": "product_id", "orders": "order_id"}
SHOP_DATASETS = ("users", "products", "orders")


def raw_object_key(day: dt.date, dataset: str) -> str:
    """THE raw landing key: raw-data/YYYY/MM/DD/<users|products|orders>.csv."""
    return f"{day:%Y/%m/%d}/{dataset}.csv"


def parse_raw_object_key(key: str) -> tuple[dt.date, str] | None:
    """raw-data key -> (day, dataset), or None for a key that is not a shop raw object."""
    parts = key.split("/")
    if len(parts) != 4 or not parts[3].endswith(".csv"):
        return None
    try:
        day = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None
    return day, parts[3].removesuffix(".csv")


# --- cleaning rules, in order of precedence (a row is quarantined for the first rule it breaks) ---------
MISSING_VALUE = "missing_value"
BAD_TYPE = "bad_type"
NON_POSITIVE_PRICE = "non_positive_price"
BAD_QUANTITY = "bad_quantity"
NEGATIVE_TOTAL_AMOUNT = "negative_total_amount"
UNKNOWN_USER = "unknown_user"
UNKNOWN_PRODUCT = "unknown_product"
DUPLICATE_KEY = "duplicate_key"
# a number or time the warehouse types cannot hold (or Infinity): it would fail the whole day's load
OUT_OF_RANGE = "out_of_range"
QUARANTINE_RULES = (
    MISSING_VALUE,
    BAD_TYPE,
    NON_POSITIVE_PRICE,
    BAD_QUANTITY,
    NEGATIVE_TOTAL_AMOUNT,
    UNKNOWN_USER,
    UNKNOWN_PRODUCT,
    DUPLICATE_KEY,
    OUT_OF_RANGE,
)

# The blocking check on the cleaned tables, and the share of a day's rows it lets be quarantined by default.
QUARANTINE_RATIO_CHECK = "quarantine_ratio"
DEFAULT_MAX_QUARANTINE_SHARE = 0.2

_ID = pa.Column(str, nullable=False)
_TIMESTAMP = pa.Column("datetime64[ns]", nullable=False, coerce=True)
_DATE = pa.Column(
    "datetime64[ns]", pa.Check(lambda s: (s == s.dt.normalize()).all(), name="is_date"), coerce=True
)
_MONEY = "DECIMAL(12,2)"
MONEY_LIMIT = 10_000_000_000  # DECIMAL(12,2) holds less than this
# times outside this window are typos (9999-01-01) and do not fit pandas' nanosecond timestamps
EARLIEST_TIME, LATEST_TIME = "1970-01-01", "2100-01-01"


def _unique_id() -> pa.Column:
    return pa.Column(str, nullable=False, unique=True, checks=pa.Check.str_length(min_value=1))


# --- cleaned tables (Parquet in s3://staging/shop/<table>/date=YYYY-MM-DD/) -----------------------------
CLEAN_USERS = register_dataset(
    "shop.clean_users",
    "Users of one day that passed every cleaning rule; one row per user_id.",
    {"user_id": _unique_id(), "signup_date": _TIMESTAMP, "country": pa.Column(str, nullable=False)},
    primary_key=("user_id",),
)

CLEAN_PRODUCTS = register_dataset(
    "shop.clean_products",
    "Products of one day that passed every cleaning rule; one row per product_id.",
    {
        "product_id": _unique_id(),
        "category": pa.Column(str, nullable=False),
        "price": pa.Column(float, pa.Check.gt(0), nullable=False, coerce=True),
    },
    primary_key=("product_id",),
)

CLEAN_ORDERS = register_dataset(
    "shop.clean_orders",
    "Orders of one day that passed every cleaning rule, foreign keys included.",
    {
        "order_id": _unique_id(),
        "user_id": _ID,
        "product_id": _ID,
        "quantity": pa.Column("int64", pa.Check.ge(1), nullable=False, coerce=True),
        "total_amount": pa.Column(float, pa.Check.ge(0), nullable=False, coerce=True),
        "order_ts": _TIMESTAMP,
    },
    primary_key=("order_id",),
)

QUARANTINE = register_dataset(
    "shop.quarantine",
    "Every raw row that was not loaded, with the rule it broke (s3://quarantine/shop/...).",
    {
        "dataset": pa.Column(str, pa.Check.isin(SHOP_DATASETS)),
        "source": pa.Column(str, nullable=False),
        "row_number": pa.Column("int64", pa.Check.ge(1), coerce=True),
        "record_id": pa.Column(str, nullable=True),
        "rule": pa.Column(str, pa.Check.isin(QUARANTINE_RULES)),
        "detail": pa.Column(str, nullable=False),
        "raw_record": pa.Column(str, nullable=False),
    },
    unique=["dataset", "row_number"],
    primary_key=("dataset", "row_number"),
)

# --- warehouse tables (DuckDB by default) ---------------------------------------------------------------
_LAST_SEEN = "last_seen_date"


def _dimension(name: str, description: str, key: str, attributes: dict) -> DatasetContract:
    """A dimension keeping the newest version of each key: its attributes from the newest day it was seen."""
    return register_dataset(
        name,
        description,
        {key: (_unique_id(), "VARCHAR"), **attributes, _LAST_SEEN: (_DATE, "DATE")},
        primary_key=(key,),
        version_column=_LAST_SEEN,
    )


DIM_USERS = _dimension(
    "shop.dim_users",
    "One row per user: the attributes from the newest day the user appeared in.",
    "user_id",
    {"signup_date": (_TIMESTAMP, "TIMESTAMP"), "country": (pa.Column(str, nullable=False), "VARCHAR")},
)
DIM_PRODUCTS = _dimension(
    "shop.dim_products",
    "One row per product: category and list price from the newest day the product appeared in.",
    "product_id",
    {
        "category": (pa.Column(str, nullable=False), "VARCHAR"),
        "price": (pa.Column(float, pa.Check.gt(0), coerce=True), _MONEY),
    },
)

DIM_DATE = register_dataset(
    "shop.dim_date",
    "One row per business day.",
    {
        "date_key": (
            pa.Column("int64", pa.Check.in_range(19000101, 29991231), unique=True, coerce=True),
            "INTEGER",
        ),
        "date": (_DATE, "DATE"),
        "year": (pa.Column("int64", coerce=True), "INTEGER"),
        "quarter": (pa.Column("int64", pa.Check.in_range(1, 4), coerce=True), "INTEGER"),
        "month": (pa.Column("int64", pa.Check.in_range(1, 12), coerce=True), "INTEGER"),
        "day": (pa.Column("int64", pa.Check.in_range(1, 31), coerce=True), "INTEGER"),
        "day_of_week": (pa.Column("int64", pa.Check.in_range(1, 7), coerce=True), "INTEGER"),
        "day_name": (pa.Column(str), "VARCHAR"),
        "month_name": (pa.Column(str), "VARCHAR"),
        "is_weekend": (pa.Column(bool, coerce=True), "BOOLEAN"),
    },
    primary_key=("date_key",),
    partition_column="date",
)

FACT_ORDERS = register_dataset(
    "shop.fact_orders",
    (
        "One row per clean order of the business day, joined to its user and product "
        "(unit_price is the product's price that day). Revenue of a day = sum(total_amount)."
    ),
    {
        "order_id": (_unique_id(), "VARCHAR"),
        "order_date": (_DATE, "DATE"),
        "date_key": (pa.Column("int64", coerce=True), "INTEGER"),
        "order_ts": (_TIMESTAMP, "TIMESTAMP"),
        "user_id": (_ID, "VARCHAR"),
        "product_id": (_ID, "VARCHAR"),
        "quantity": (pa.Column("int64", pa.Check.ge(1), coerce=True), "INTEGER"),
        "unit_price": (pa.Column(float, pa.Check.gt(0), coerce=True), _MONEY),
        "total_amount": (pa.Column(float, pa.Check.ge(0), coerce=True), _MONEY),
    },
    primary_key=("order_id",),
    partition_column="order_date",
)

# The contract of each asset the shop domain stores through a contract-checked IO manager.
CLEAN_CONTRACTS = {"users": CLEAN_USERS, "products": CLEAN_PRODUCTS, "orders": CLEAN_ORDERS}
STAR_CONTRACTS = {
    "dim_users": DIM_USERS,
    "dim_products": DIM_PRODUCTS,
    "dim_date": DIM_DATE,
    "fact_orders": FACT_ORDERS,
}
