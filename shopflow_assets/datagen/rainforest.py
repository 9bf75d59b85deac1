"""The `rainforest` marketplace app database: its schema and a fast, reproducible generator.

The app's tables (users with a buyer or a seller role, brands, manufacturers, categories, products with
1-3 categories, the sellers offering each product, orders, order items and clickstream events) are
created in one PostgreSQL schema, as the contract declares them (`contracts/rainforest.py`).
`generate_rainforest` fills them day by day with consistent data: reference rows once (on the first day),
then every day a few dimension updates, the orders of the day, their items and the click events that led
to them. Rows are built with numpy and streamed with COPY, so 100,000 orders a day take seconds.

Every generated order and item has `updated_ts` on its order day (app rows are written when the order
is placed); every table has `created_ts`/`updated_ts`, which is what extraction windows use.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from shopflow_assets.contracts.rainforest import (
    CHANGED_COLUMN,
    EVENT_TYPES,
    ORDER_STATUSES,
    SOURCE_KEYS,
    SOURCE_TABLES,
    source_table_sql,
)
from shopflow_assets.resources.extract import checked_identifier

ORDER_STATUS_WEIGHTS = (0.24, 0.30, 0.40, 0.06)  # of ORDER_STATUSES, in order
CATEGORIES = (
    "books", "electronics", "home", "garden", "toys", "sports", "beauty", "fashion", "grocery", "music",
    "games", "office", "pets", "baby", "automotive", "health", "tools", "jewelry", "outdoors", "kitchen",
)  # fmt: skip
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "IN", "JP")
FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Eva", "Farid", "Grace", "Hugo", "Ines", "Jun", "Kai", "Lena")
LAST_NAMES = ("Smith", "Garcia", "Müller", "Rossi", "Dubois", "Silva", "Khan", "Tanaka", "Novak", "Berg")
DISCOUNTS = np.array([0.0, 0.0, 0.0, 0.05, 0.10, 0.20])


class RainforestError(RuntimeError):
    """A generation request that cannot be honoured (names the schema, table and reason)."""


@dataclass(frozen=True)
class Sizes:
    """Reference-table sizes for a number of orders a day (proportional, with floors for tiny runs)."""

    orders_per_day: int
    buyers: int
    sellers: int
    products: int
    brands: int
    manufacturers: int

    @classmethod
    def for_orders(cls, orders_per_day: int) -> Sizes:
        if orders_per_day < 1:
            raise RainforestError(f"--orders-per-day must be at least 1, got {orders_per_day}")
        return cls(
            orders_per_day=orders_per_day,
            buyers=max(50, orders_per_day // 2),
            # Sellers per product are picked with strides up to 3 * 13; more sellers keep them distinct.
            sellers=max(60, orders_per_day // 50),
            products=max(100, orders_per_day // 10),
            brands=40,
            manufacturers=25,
        )


@dataclass
class GenerationReport:
    schema: str
    days: list[dt.date] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCE_TABLES, 0))


def _ident(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def create_schema(conn, schema: str = "public", reader_role: str | None = None, reset: bool = False) -> None:
    """Create the app's tables in `schema` (idempotent); `reset` drops them first.

    `reader_role` gets read access to the schema's tables (the extraction role); in `public` the
    stack's default privileges already grant it.
    """
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        if reset:
            for table in reversed(SOURCE_TABLES):
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(_ident(schema, table)))
        for table in SOURCE_TABLES:
            body = source_table_sql(table, sql.Identifier(schema).as_string(conn))
            cur.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} (").format(_ident(schema, table))
                + sql.SQL(body)  # the contract's fixed DDL text, the schema quoted as an identifier
                + sql.SQL(")")
            )
            cur.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                    sql.Identifier(f"{table}_{CHANGED_COLUMN}"),
                    _ident(schema, table),
                    sql.Identifier(CHANGED_COLUMN),
                )
            )
        if reader_role:
            cur.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                    sql.Identifier(schema), sql.Identifier(reader_role)
                )
            )
            cur.execute(
                sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                    sql.Identifier(schema), sql.Identifier(reader_role)
                )
            )


def _copy(conn, schema: str, table: str, frame: pd.DataFrame) -> int:
    """COPY a frame (columns named like the table's) in CSV: the fastest path into PostgreSQL."""
    if frame.empty:
        return 0
    # Arrow's C++ CSV writer is ~10x faster than pandas' on timestamps; naive times are UTC here.
    rows = pa.Table.from_pandas(frame, preserve_index=False)
    for i, column in enumerate(rows.schema):
        if pa.types.is_timestamp(column.type) and column.type.tz is None:
            rows = rows.set_column(i, column.name, rows.column(i).cast(pa.timestamp("us", tz="UTC")))
    buffer = io.BytesIO()
    pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False))
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    with (
        conn.cursor() as cur,
        cur.copy(
            sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(_ident(schema, table), columns)
        ) as copy,
    ):
        copy.write(buffer.getbuffer())
    return len(frame)


def _times(rng: np.random.Generator, day: dt.date, n: int) -> pd.DatetimeIndex:
    """n instants uniformly within the UTC day, never exactly midnight (no window-boundary ambiguity)."""
    start = pd.Timestamp(day)
    return pd.DatetimeIndex(start + pd.to_timedelta(rng.integers(1, 86_400_000_000, n), unit="us"))


def _stamped(frame: pd.DataFrame, created, updated=None) -> pd.DataFrame:
    frame["created_ts"] = created
    frame["updated_ts"] = created if updated is None else updated
    return frame


def seller_ids_for(product_ids: np.ndarray, sellers: int, k: np.ndarray | int) -> np.ndarray:
    """The k-th seller (k = 0..2) offering a product: distinct for distinct k when sellers > 39."""
    return (product_ids * 7 + np.asarray(k) * 13) % sellers + 1


def sellers_per_product(product_ids: np.ndarray) -> np.ndarray:
    return product_ids % 3 + 1  # 1 to 3 sellers offer each product


def categories_per_product(product_ids: np.ndarray) -> np.ndarray:
    return (product_ids * 5) % 3 + 1  # 1 to 3 categories per product


def _reference(rng: np.random.Generator, sizes: Sizes, day: dt.date) -> dict[str, pd.DataFrame]:
    """Users, buyers, sellers, brands, manufacturers, categories, products and the two bridges."""
    n_users = sizes.buyers + sizes.sellers
    user_ids = np.arange(1, n_users + 1)
    users = pd.DataFrame(
        {
            "user_id": user_ids,
            "username": [f"user{i}" for i in user_ids],
            "email": [f"user{i}@rainforest.example" for i in user_ids],
            "is_active": rng.random(n_users) > 0.02,
        }
    )
    # Buyers own the first user ids, sellers the rest: a buyer and a seller are never the same user.
    buyer_ids = np.arange(1, sizes.buyers + 1)
    buyers = pd.DataFrame(
        {
            "buyer_id": buyer_ids,
            "user_id": buyer_ids,
            "first_name": rng.choice(FIRST_NAMES, sizes.buyers),
            "last_name": rng.choice(LAST_NAMES, sizes.buyers),
            "country": rng.choice(COUNTRIES, sizes.buyers),
        }
    )
    seller_ids = np.arange(1, sizes.sellers + 1)
    sellers = pd.DataFrame(
        {
            "seller_id": seller_ids,
            "user_id": sizes.buyers + seller_ids,
            "store_name": [f"Store {i}" for i in seller_ids],
            "country": rng.choice(COUNTRIES, sizes.sellers),
            "rating": np.round(rng.uniform(2.5, 5.0, sizes.sellers), 1),
        }
    )
    brands = pd.DataFrame(
        {
            "brand_id": np.arange(1, sizes.brands + 1),
            "name": [f"Brand {i}" for i in range(1, sizes.brands + 1)],
            "country": rng.choice(COUNTRIES, sizes.brands),
        }
    )
    manufacturers = pd.DataFrame(
        {
            "manufacturer_id": np.arange(1, sizes.manufacturers + 1),
            "name": [f"Manufacturer {i}" for i in range(1, sizes.manufacturers + 1)],
            "country": rng.choice(COUNTRIES, sizes.manufacturers),
        }
    )
    categories = pd.DataFrame({"category_id": np.arange(1, len(CATEGORIES) + 1), "name": CATEGORIES})
    product_ids = np.arange(1, sizes.products + 1)
    products = pd.DataFrame(
        {
            "product_id": product_ids,
            "name": [f"Product {i}" for i in product_ids],
            "brand_id": rng.integers(1, sizes.brands + 1, sizes.products),
            "manufacturer_id": rng.integers(1, sizes.manufacturers + 1, sizes.products),
            "base_price": np.round(rng.lognormal(3.5, 0.9, sizes.products).clip(1, 5000), 2),
        }
    )
    n_cat = categories_per_product(product_ids)
    cat_product = np.repeat(product_ids, n_cat)
    cat_rank = np.concatenate([np.arange(n) for n in n_cat])
    # Distinct categories per product: a product-specific start and consecutive offsets.
    product_category = pd.DataFrame(
        {
            "product_id": cat_product,
            "category_id": (cat_product * 3 + cat_rank) % len(CATEGORIES) + 1,
        }
    )
    n_sel = sellers_per_product(product_ids)
    sel_product = np.repeat(product_ids, n_sel)
    sel_rank = np.concatenate([np.arange(n) for n in n_sel])
    seller_product = pd.DataFrame(
        {"seller_id": seller_ids_for(sel_product, sizes.sellers, sel_rank), "product_id": sel_product}
    )
    frames = {
        "appuser": users,
        "buyer": buyers,
        "seller": sellers,
        "brand": brands,
        "manufacturer": manufacturers,
        "category": categories,
        "product": products,
        "product_category": product_category,
        "seller_product": seller_product,
    }
    created = pd.Timestamp(day) + pd.Timedelta(seconds=1)  # before any order of the day
    for frame in frames.values():
        _stamped(frame, created)
    return frames


def _next_id(conn, schema: str, table: str) -> int:
    """The next free id of a table keyed by one generated id."""
    (column,) = SOURCE_KEYS[table]
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT coalesce(max({}), 0) + 1 FROM {}").format(
                sql.Identifier(column), _ident(schema, table)
            )
        )
        return int(cur.fetchone()[0])


def _count(conn, schema: str, table: str) -> int:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(schema, table)))
        return int(cur.fetchone()[0])


def _update_dimensions(conn, schema: str, rng: np.random.Generator, day: dt.date, sizes: Sizes) -> None:
    """A realistic trickle of changes: ~1% of products reprice, ~0.5% of buyers move country."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    with conn.cursor() as cur:
        products = rng.choice(np.arange(1, sizes.products + 1), max(1, sizes.products // 100), replace=False)
        cur.execute(
            sql.SQL(
                "UPDATE {} SET base_price = round(base_price * %(factor)s::numeric, 2), "
                "updated_ts = %(at)s WHERE product_id = ANY(%(ids)s)"
            ).format(_ident(schema, "product")),
            {"factor": 1.05, "at": start + dt.timedelta(minutes=5), "ids": products.tolist()},
        )
        buyers = rng.choice(np.arange(1, sizes.buyers + 1), max(1, sizes.buyers // 200), replace=False)
        cur.execute(
            sql.SQL(
                "UPDATE {} SET country = %(country)s, updated_ts = %(at)s WHERE buyer_id = ANY(%(ids)s)"
            ).format(_ident(schema, "buyer")),
            {
                "country": str(rng.choice(COUNTRIES)),
                "at": start + dt.timedelta(minutes=7),
                "ids": buyers.tolist(),
            },
        )


def _product_prices(conn, schema: str) -> np.ndarray:
    """Current base price per product id (index = product_id), as the app would price a new item."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT product_id, base_price FROM {}").format(_ident(schema, "product")))
        rows = cur.fetchall()
    prices = np.zeros(max(r[0] for r in rows) + 1)
    for product_id, price in rows:
        prices[product_id] = float(price)
    return prices


def _day_facts(
    rng: np.random.Generator,
    day: dt.date,
    sizes: Sizes,
    prices: np.ndarray,
    first_order: int,
    first_item: int,
    first_event: int,
) -> dict[str, pd.DataFrame]:
    n = sizes.orders_per_day
    order_ids = np.arange(first_order, first_order + n)
    order_ts = _times(rng, day, n)
    orders = pd.DataFrame(
        {
            "order_id": order_ids,
            "buyer_id": rng.integers(1, sizes.buyers + 1, n),
            "order_ts": order_ts,
            "status": rng.choice(ORDER_STATUSES, n, p=ORDER_STATUS_WEIGHTS),
        }
    )
    _stamped(orders, order_ts)

    # 1-4 items per order, each a distinct product (a random start plus consecutive products).
    per_order = rng.integers(1, 5, n)
    item_order = np.repeat(np.arange(n), per_order)
    rank = np.concatenate([np.arange(k) for k in per_order])
    start_product = rng.integers(0, sizes.products, n)
    product = (start_product[item_order] + rank) % sizes.products + 1
    seller_rank = rng.integers(0, 3, len(product)) % sellers_per_product(product)
    base = prices[product]
    actual = np.round(base * (1 - rng.choice(DISCOUNTS, len(product))), 2)
    items = pd.DataFrame(
        {
            "order_item_id": np.arange(first_item, first_item + len(product)),
            "order_id": order_ids[item_order],
            "product_id": product,
            "seller_id": seller_ids_for(product, sizes.sellers, seller_rank),
            "quantity": rng.integers(1, 4, len(product)),
            "base_price": np.round(base, 2),
            "actual_price": actual,
        }
    )
    _stamped(items, order_ts[item_order])

    # Per order: a view and an impression of its first product before ordering, then the checkout;
    # plus anonymous browsing (no buyer, no order) for half as many events as orders.
    lead = pd.to_timedelta(rng.integers(1, 1_800_000_000, n), unit="us")
    day_start = pd.Timestamp(day)
    before = pd.Series(order_ts - lead).clip(lower=day_start + pd.Timedelta(seconds=1))
    first_products = start_product + 1
    anonymous = n // 2
    events = pd.DataFrame(
        {
            "buyer_id": np.concatenate([np.tile(orders["buyer_id"].to_numpy(), 3), np.full(anonymous, -1)]),
            "session_id": np.concatenate(
                [
                    np.tile(np.char.add("s", order_ids.astype(str)), 3),
                    np.char.add("anon", rng.integers(1, 10**9, anonymous).astype(str)),
                ]
            ),
            "product_id": np.concatenate(
                [np.tile(first_products, 3), rng.integers(1, sizes.products + 1, anonymous)]
            ),
            "event_type": np.concatenate(
                [np.repeat(np.array(EVENT_TYPES), n), rng.choice(EVENT_TYPES[:2], anonymous)]
            ),
            "event_ts": np.concatenate(
                [
                    before.to_numpy(),
                    before.to_numpy(),
                    order_ts.to_numpy(),
                    _times(rng, day, anonymous).to_numpy(),
                ]
            ),
            "order_id": np.concatenate([np.full(2 * n, -1), order_ids, np.full(anonymous, -1)]),
        }
    )
    events = events.sort_values("event_ts", kind="stable").reset_index(drop=True)
    events.insert(0, "event_id", np.arange(first_event, first_event + len(events)))
    # -1 marks "none" while numpy builds the columns; PostgreSQL gets NULL (an empty CSV field).
    for column in ("buyer_id", "order_id"):
        events[column] = events[column].astype("Int64").mask(events[column] == -1)
    _stamped(events, events["event_ts"])
    return {"orders": orders, "order_items": items, "clickstream": events}


def generate_rainforest(
    conn,
    first_day: dt.date,
    days: int,
    orders_per_day: int,
    *,
    seed: int = 42,
    schema: str = "public",
    reset: bool = False,
    reader_role: str | None = None,
) -> GenerationReport:
    """Fill the app database for `days` consecutive days; one transaction per day.

    Reference rows are written on the first day the schema is empty; a day whose orders already exist
    is refused (use `reset` to start over), so a second call never doubles a day.
    """
    if days < 1:
        raise RainforestError(f"--days must be at least 1, got {days}")
    checked_identifier(schema, "schema")
    sizes = Sizes.for_orders(orders_per_day)
    report = GenerationReport(schema=schema)
    create_schema(conn, schema, reader_role, reset)
    conn.commit()
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        rng = np.random.default_rng([seed, day.toordinal()])
        with conn.transaction():
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL(
                        "SELECT count(*) FROM {} WHERE order_ts >= %(day)s AND order_ts < %(next)s"
                    ).format(_ident(schema, "orders")),
                    {"day": day, "next": day + dt.timedelta(days=1)},
                )
                if cur.fetchone()[0]:
                    raise RainforestError(
                        f"{schema}.orders already holds orders of {day}: pass --reset to regenerate"
                    )
            if _count(conn, schema, "appuser") == 0:
                for table, frame in _reference(rng, sizes, day).items():
                    report.rows[table] += _copy(conn, schema, table, frame)
            else:
                existing = Sizes(
                    orders_per_day,
                    _count(conn, schema, "buyer"),
                    _count(conn, schema, "seller"),
                    _count(conn, schema, "product"),
                    sizes.brands,
                    sizes.manufacturers,
                )
                sizes = existing
                _update_dimensions(conn, schema, rng, day, sizes)
            facts = _day_facts(
                rng,
                day,
                sizes,
                _product_prices(conn, schema),
                _next_id(conn, schema, "orders"),
                _next_id(conn, schema, "order_items"),
                _next_id(conn, schema, "clickstream"),
            )
            for table, frame in facts.items():
                report.rows[table] += _copy(conn, schema, table, frame)
        report.days.append(day)
    with conn.cursor() as cur:
        for table in SOURCE_TABLES:
            cur.execute(sql.SQL("ANALYZE {}").format(_ident(schema, table)))
    conn.commit()
    return report
