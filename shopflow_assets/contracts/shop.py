"""Contracts of the shop daily batch: raw CSV layouts, cleaning rules, cleaned and modelled tables.

The cleaning rules are the ones in docs/requirements.md; the rule names are shared with the generator's
manifest (`shopflow_assets.datagen.shop`) so quarantine can be checked row by row against it.
"""

from __future__ import annotations

import datetime as dt

import pandera.pandas as pa

from shopflow_assets.contracts.dataset import DatasetContract, register_contract

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
CLEAN_USERS = register_contract(
    DatasetContract(
        name="shop.clean_users",
        description="Users of one day that passed every cleaning rule; one row per user_id.",
        schema=pa.DataFrameSchema(
            {"user_id": _unique_id(), "signup_date": _TIMESTAMP, "country": pa.Column(str, nullable=False)},
            strict=True,
            ordered=True,
            name="shop.clean_users",
        ),
        primary_key=("user_id",),
    )
)

CLEAN_PRODUCTS = register_contract(
    DatasetContract(
        name="shop.clean_products",
        description="Products of one day that passed every cleaning rule; one row per product_id.",
        schema=pa.DataFrameSchema(
            {
                "product_id": _unique_id(),
                "category": pa.Column(str, nullable=False),
                "price": pa.Column(float, pa.Check.gt(0), nullable=False, coerce=True),
            },
            strict=True,
            ordered=True,
            name="shop.clean_products",
        ),
        primary_key=("product_id",),
    )
)

CLEAN_ORDERS = register_contract(
    DatasetContract(
        name="shop.clean_orders",
        description="Orders of one day that passed every cleaning rule, foreign keys included.",
        schema=pa.DataFrameSchema(
            {
                "order_id": _unique_id(),
                "user_id": _ID,
                "product_id": _ID,
                "quantity": pa.Column("int64", pa.Check.ge(1), nullable=False, coerce=True),
                "total_amount": pa.Column(float, pa.Check.ge(0), nullable=False, coerce=True),
                "order_ts": _TIMESTAMP,
            },
            strict=True,
            ordered=True,
            name="shop.clean_orders",
        ),
        primary_key=("order_id",),
    )
)

QUARANTINE = register_contract(
    DatasetContract(
        name="shop.quarantine",
        description="Every raw row that was not loaded, with the rule it broke (s3://quarantine/shop/...).",
        schema=pa.DataFrameSchema(
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
            strict=True,
            ordered=True,
            name="shop.quarantine",
        ),
        primary_key=("dataset", "row_number"),
    )
)

# --- warehouse tables (DuckDB by default) ---------------------------------------------------------------
DIM_USERS = register_contract(
    DatasetContract(
        name="shop.dim_users",
        description="One row per user: the attributes from the newest day the user appeared in.",
        schema=pa.DataFrameSchema(
            {
                "user_id": _unique_id(),
                "signup_date": _TIMESTAMP,
                "country": pa.Column(str, nullable=False),
                "last_seen_date": _DATE,
            },
            strict=True,
            ordered=True,
            name="shop.dim_users",
        ),
        sql_types={
            "user_id": "VARCHAR",
            "signup_date": "TIMESTAMP",
            "country": "VARCHAR",
            "last_seen_date": "DATE",
        },
        primary_key=("user_id",),
        version_column="last_seen_date",
    )
)

DIM_PRODUCTS = register_contract(
    DatasetContract(
        name="shop.dim_products",
        description="One row per product: category and list price from the newest day the product appeared in.",
        schema=pa.DataFrameSchema(
            {
                "product_id": _unique_id(),
                "category": pa.Column(str, nullable=False),
                "price": pa.Column(float, pa.Check.gt(0), coerce=True),
                "last_seen_date": _DATE,
            },
            strict=True,
            ordered=True,
            name="shop.dim_products",
        ),
        sql_types={"product_id": "VARCHAR", "category": "VARCHAR", "price": _MONEY, "last_seen_date": "DATE"},
        primary_key=("product_id",),
        version_column="last_seen_date",
    )
)

DIM_DATE = register_contract(
    DatasetContract(
        name="shop.dim_date",
        description="One row per business day.",
        schema=pa.DataFrameSchema(
            {
                "date_key": pa.Column(
                    "int64", pa.Check.in_range(19000101, 29991231), unique=True, coerce=True
                ),
                "date": _DATE,
                "year": pa.Column("int64", coerce=True),
                "quarter": pa.Column("int64", pa.Check.in_range(1, 4), coerce=True),
                "month": pa.Column("int64", pa.Check.in_range(1, 12), coerce=True),
                "day": pa.Column("int64", pa.Check.in_range(1, 31), coerce=True),
                "day_of_week": pa.Column("int64", pa.Check.in_range(1, 7), coerce=True),
                "day_name": pa.Column(str),
                "month_name": pa.Column(str),
                "is_weekend": pa.Column(bool, coerce=True),
            },
            strict=True,
            ordered=True,
            name="shop.dim_date",
        ),
        sql_types={
            "date_key": "INTEGER",
            "date": "DATE",
            "year": "INTEGER",
            "quarter": "INTEGER",
            "month": "INTEGER",
            "day": "INTEGER",
            "day_of_week": "INTEGER",
            "day_name": "VARCHAR",
            "month_name": "VARCHAR",
            "is_weekend": "BOOLEAN",
        },
        primary_key=("date_key",),
        partition_column="date",
    )
)

FACT_ORDERS = register_contract(
    DatasetContract(
        name="shop.fact_orders",
        description=(
            "One row per clean order of the business day, joined to its user and product "
            "(unit_price is the product's price that day). Revenue of a day = sum(total_amount)."
        ),
        schema=pa.DataFrameSchema(
            {
                "order_id": _unique_id(),
                "order_date": _DATE,
                "date_key": pa.Column("int64", coerce=True),
                "order_ts": _TIMESTAMP,
                "user_id": _ID,
                "product_id": _ID,
                "quantity": pa.Column("int64", pa.Check.ge(1), coerce=True),
                "unit_price": pa.Column(float, pa.Check.gt(0), coerce=True),
                "total_amount": pa.Column(float, pa.Check.ge(0), coerce=True),
            },
            strict=True,
            ordered=True,
            name="shop.fact_orders",
        ),
        sql_types={
            "order_id": "VARCHAR",
            "order_date": "DATE",
            "date_key": "INTEGER",
            "order_ts": "TIMESTAMP",
            "user_id": "VARCHAR",
            "product_id": "VARCHAR",
            "quantity": "INTEGER",
            "unit_price": _MONEY,
            "total_amount": _MONEY,
        },
        primary_key=("order_id",),
        partition_column="order_date",
    )
)

# The contract of each asset the shop domain stores through a contract-checked IO manager.
CLEAN_CONTRACTS = {"users": CLEAN_USERS, "products": CLEAN_PRODUCTS, "orders": CLEAN_ORDERS}
STAR_CONTRACTS = {
    "dim_users": DIM_USERS,
    "dim_products": DIM_PRODUCTS,
    "dim_date": DIM_DATE,
    "fact_orders": FACT_ORDERS,
}
