"""The ERP source ("totesys"): its schema, a consistent fake history, and a live-application simulator.

`generate_erp` fills empty tables with tens of staff and counterparties, thousands of sales and purchase
orders, one transaction and one payment per order, three currencies; values are fake but consistent (every
foreign key exists, a payment's amount is its order's total in its order's currency, a SALE transaction
points at a sales order only). `simulate_erp` then behaves like the application: each change is its own
transaction, inserting an order with its transaction and payment, or updating a price, a date, an address,
a name or a payment's `paid` flag.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from faker import Faker

from shopflow_assets.contracts.erp import SOURCE_TABLES, primary_key, source_ddl

CURRENCIES = ("GBP", "USD", "EUR")
PAYMENT_TYPES = ("SALES_RECEIPT", "SALES_REFUND", "PURCHASE_PAYMENT", "PURCHASE_REFUND")
DEPARTMENTS = (
    "Sales",
    "Purchasing",
    "Production",
    "Dispatch",
    "Finance",
    "Facilities",
    "Communications",
    "HR",
)


@dataclass(frozen=True)
class ErpSizes:
    addresses: int
    counterparties: int
    departments: int
    designs: int
    staff: int
    sales_orders: int
    purchase_orders: int

    @classmethod
    def for_scale(cls, scale: float) -> ErpSizes:
        def n(base: int, floor: int) -> int:
            return max(floor, round(base * scale))

        return cls(
            addresses=n(30, 3),
            counterparties=n(20, 2),
            departments=len(DEPARTMENTS),
            designs=n(120, 3),
            staff=n(25, 2),
            sales_orders=n(3000, 5),
            purchase_orders=n(1500, 5),
        )


class ErpSourceError(RuntimeError):
    """The source database is not in the state the command needs (named, with what to do)."""


def ensure_source_schema(conn: Any) -> None:
    """Create the 11 tables, keys, foreign keys and last_updated triggers if missing (idempotent)."""
    with conn.cursor() as cur:
        for statement in source_ddl():
            cur.execute(statement)


def table_counts(conn: Any) -> dict[str, int]:
    from psycopg import sql

    with conn.cursor() as cur:
        return {
            table: cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
            for table in SOURCE_TABLES
        }


def reset_source(conn: Any) -> None:
    from psycopg import sql

    names = sql.SQL(", ").join(sql.Identifier(t) for t in SOURCE_TABLES)
    conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))


class _Fake:
    """Value factories shared by the generator and the simulator (one seeded RNG and Faker)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.faker = Faker("en_GB")
        self.faker.seed_instance(seed)

    def money(self, low: float, high: float) -> Decimal:
        return Decimal(f"{self.rng.uniform(low, high):.2f}")

    def address(self) -> dict[str, Any]:
        f = self.faker
        return {
            "address_line_1": f.street_address()[:100],
            "address_line_2": f.secondary_address() if self.rng.random() < 0.4 else None,
            "district": f.county() if self.rng.random() < 0.6 else None,
            "city": f.city(),
            "postal_code": f.postcode(),
            "country": f.country()[:100],
            "phone": f.phone_number()[:30],
        }

    def person(self) -> tuple[str, str]:
        return self.faker.first_name(), self.faker.last_name()

    def agreed_dates(self, created: dt.datetime) -> dict[str, dt.date]:
        delivery = created.date() + dt.timedelta(days=self.rng.randint(1, 60))
        return {
            "agreed_delivery_date": delivery,
            "agreed_payment_date": delivery + dt.timedelta(days=self.rng.randint(0, 30)),
        }


def _copy(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    from psycopg import sql

    if not rows:
        return
    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
    # Explicit ids were written: move the identity on so the application's inserts do not collide.
    cur = conn.execute(
        sql.SQL("SELECT setval(pg_get_serial_sequence({}, {}), (SELECT max({}) FROM {}))").format(
            sql.Literal(f'"{table}"'),
            sql.Literal(primary_key(table)),
            sql.Identifier(primary_key(table)),
            sql.Identifier(table),
        )
    )
    cur.close()


def generate_erp(
    conn: Any, sizes: ErpSizes, seed: int = 42, now: dt.datetime | None = None
) -> dict[str, int]:
    """Fill the (empty) source tables in one transaction; returns rows per table."""
    counts = table_counts(conn)
    if any(counts.values()):
        filled = ", ".join(f"{t} ({n})" for t, n in counts.items() if n)
        raise ErpSourceError(f"totesys already holds data in {filled}: use --reset to start again")
    fake = _Fake(seed)
    rng = fake.rng
    now = now or dt.datetime.now(dt.UTC)

    def created() -> dt.datetime:
        return now - dt.timedelta(seconds=rng.randint(3600, 365 * 86400))

    rows: dict[str, list[dict[str, Any]]] = {}
    rows["address"] = [
        {"address_id": i, **fake.address(), "created_at": created()} for i in range(1, sizes.addresses + 1)
    ]
    rows["counterparty"] = [
        {
            "counterparty_id": i,
            "counterparty_legal_name": fake.faker.company()[:200],
            "legal_address_id": rng.randint(1, sizes.addresses),
            "commercial_contact": fake.faker.name(),
            "delivery_contact": fake.faker.name(),
            "created_at": created(),
        }
        for i in range(1, sizes.counterparties + 1)
    ]
    rows["currency"] = [
        {"currency_id": i, "currency_code": code, "created_at": created()}
        for i, code in enumerate(CURRENCIES, 1)
    ]
    rows["department"] = [
        {
            "department_id": i,
            "department_name": name,
            "location": fake.faker.city(),
            "manager": fake.faker.name(),
            "created_at": created(),
        }
        for i, name in enumerate(DEPARTMENTS[: sizes.departments], 1)
    ]
    rows["design"] = []
    for i in range(1, sizes.designs + 1):
        word = fake.faker.word()
        rows["design"].append(
            {
                "design_id": i,
                "design_name": word.title(),
                "file_location": f"/{fake.faker.word()}/{word}",
                "file_name": f"{word}-{fake.faker.hexify('^^^^^^^^')}.json",
                "created_at": created(),
            }
        )
    rows["staff"] = []
    for i in range(1, sizes.staff + 1):
        first, last = fake.person()
        rows["staff"].append(
            {
                "staff_id": i,
                "first_name": first,
                "last_name": last,
                "department_id": rng.randint(1, sizes.departments),
                "email_address": f"{first}.{last}{i}@terrifictotes.com".lower(),
                "created_at": created(),
            }
        )
    rows["payment_type"] = [
        {"payment_type_id": i, "payment_type_name": name, "created_at": created()}
        for i, name in enumerate(PAYMENT_TYPES, 1)
    ]
    rows["sales_order"] = []
    for i in range(1, sizes.sales_orders + 1):
        at = created()
        rows["sales_order"].append(
            {
                "sales_order_id": i,
                "design_id": rng.randint(1, sizes.designs),
                "staff_id": rng.randint(1, sizes.staff),
                "counterparty_id": rng.randint(1, sizes.counterparties),
                "units_sold": rng.randint(1000, 100_000),
                "unit_price": fake.money(2, 4),
                "currency_id": rng.randint(1, len(CURRENCIES)),
                **fake.agreed_dates(at),
                "agreed_delivery_location_id": rng.randint(1, sizes.addresses),
                "created_at": at,
            }
        )
    rows["purchase_order"] = []
    for i in range(1, sizes.purchase_orders + 1):
        at = created()
        rows["purchase_order"].append(
            {
                "purchase_order_id": i,
                "staff_id": rng.randint(1, sizes.staff),
                "counterparty_id": rng.randint(1, sizes.counterparties),
                "item_code": fake.faker.bothify("???####").upper(),
                "item_quantity": rng.randint(1, 1000),
                "item_unit_price": fake.money(1, 1000),
                "currency_id": rng.randint(1, len(CURRENCIES)),
                **fake.agreed_dates(at),
                "agreed_delivery_location_id": rng.randint(1, sizes.addresses),
                "created_at": at,
            }
        )
    rows["transaction"], rows["payment"] = [], []
    orders = [("SALE", o) for o in rows["sales_order"]] + [("PURCHASE", o) for o in rows["purchase_order"]]
    for transaction_id, (kind, order) in enumerate(orders, 1):
        rows["transaction"].append(_transaction_row(transaction_id, kind, order))
        rows["payment"].append(_payment_row(fake, transaction_id, transaction_id, kind, order))

    with conn.transaction():
        for table in SOURCE_TABLES:
            _copy(conn, table, rows[table])
    return {table: len(rows[table]) for table in SOURCE_TABLES}


def _transaction_row(transaction_id: int, kind: str, order: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "transaction_type": kind,
        "sales_order_id": order.get("sales_order_id") if kind == "SALE" else None,
        "purchase_order_id": order.get("purchase_order_id") if kind == "PURCHASE" else None,
        "created_at": order["created_at"],
    }


def _payment_row(fake: _Fake, payment_id: int | None, transaction_id: int, kind: str, order: dict) -> dict:
    if kind == "SALE":
        amount = order["unit_price"] * order["units_sold"]
    else:
        amount = order["item_unit_price"] * order["item_quantity"]
    row = {
        "payment_id": payment_id,
        "transaction_id": transaction_id,
        "counterparty_id": order["counterparty_id"],
        "payment_amount": amount.quantize(Decimal("0.01")),
        "currency_id": order["currency_id"],
        "payment_type_id": 1 if kind == "SALE" else 3,
        "paid": fake.rng.random() < 0.7,
        "payment_date": order["agreed_payment_date"],
        "company_ac_number": fake.rng.randint(10_000_000, 99_999_999),
        "counterparty_ac_number": fake.rng.randint(10_000_000, 99_999_999),
        "created_at": order["created_at"],
    }
    if payment_id is None:
        del row["payment_id"]
    return row


# --- the live application ---------------------------------------------------------------------------
CHANGE_KINDS = (
    "new_sales_order",
    "new_purchase_order",
    "sales_order_price",
    "sales_order_dates",
    "purchase_order_price",
    "payment_paid",
    "address",
    "counterparty_name",
    "staff_name",
    "design_name",
)
_WEIGHTS = (30, 15, 15, 8, 8, 10, 5, 3, 3, 3)


def _insert(conn: Any, table: str, row: dict[str, Any], returning: str) -> int:
    from psycopg import sql

    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in row),
        sql.SQL(", ").join(sql.Placeholder(c) for c in row),
        sql.Identifier(returning),
    )
    return conn.execute(statement, row).fetchone()[0]


def _random_id(conn: Any, table: str) -> int:
    from psycopg import sql

    key = sql.Identifier(primary_key(table))
    # Uniform over existing ids without scanning: pick within [min, max], take the next existing one.
    row = conn.execute(
        sql.SQL(
            "SELECT {key} FROM {t} WHERE {key} >= (SELECT min({key}) + floor(random() * "
            "(max({key}) - min({key}) + 1))::int FROM {t}) ORDER BY {key} LIMIT 1"
        ).format(key=key, t=sql.Identifier(table))
    ).fetchone()
    if row is None:
        raise ErpSourceError(f"totesys table {table} is empty: run `shopflow generate erp` first")
    return row[0]


def apply_change(conn: Any, fake: _Fake, kind: str) -> None:
    """One application change, in its own transaction."""
    rng = fake.rng
    with conn.transaction():
        if kind in ("new_sales_order", "new_purchase_order"):
            now = dt.datetime.now(dt.UTC)
            common = {
                "staff_id": _random_id(conn, "staff"),
                "counterparty_id": _random_id(conn, "counterparty"),
                "currency_id": _random_id(conn, "currency"),
                **fake.agreed_dates(now),
                "agreed_delivery_location_id": _random_id(conn, "address"),
            }
            if kind == "new_sales_order":
                order = {
                    "design_id": _random_id(conn, "design"),
                    **common,
                    "units_sold": rng.randint(1000, 100_000),
                    "unit_price": fake.money(2, 4),
                }
                order["sales_order_id"] = _insert(conn, "sales_order", order, "sales_order_id")
                transaction_kind = "SALE"
            else:
                order = {
                    **common,
                    "item_code": fake.faker.bothify("???####").upper(),
                    "item_quantity": rng.randint(1, 1000),
                    "item_unit_price": fake.money(1, 1000),
                }
                order["purchase_order_id"] = _insert(conn, "purchase_order", order, "purchase_order_id")
                transaction_kind = "PURCHASE"
            order["created_at"] = now
            transaction = _transaction_row(0, transaction_kind, order)
            del transaction["transaction_id"], transaction["created_at"]
            transaction_id = _insert(conn, "transaction", transaction, "transaction_id")
            payment = _payment_row(fake, None, transaction_id, transaction_kind, order)
            del payment["created_at"]
            _insert(conn, "payment", payment, "payment_id")
        elif kind == "sales_order_price":
            conn.execute(
                "UPDATE sales_order SET unit_price = %s, units_sold = %s WHERE sales_order_id = %s",
                (fake.money(2, 4), rng.randint(1000, 100_000), _random_id(conn, "sales_order")),
            )
        elif kind == "sales_order_dates":
            conn.execute(
                "UPDATE sales_order SET agreed_delivery_date = agreed_delivery_date + %s, "
                "agreed_payment_date = agreed_payment_date + %s WHERE sales_order_id = %s",
                (rng.randint(1, 14), rng.randint(1, 14), _random_id(conn, "sales_order")),
            )
        elif kind == "purchase_order_price":
            conn.execute(
                "UPDATE purchase_order SET item_unit_price = %s WHERE purchase_order_id = %s",
                (fake.money(1, 1000), _random_id(conn, "purchase_order")),
            )
        elif kind == "payment_paid":
            conn.execute(
                "UPDATE payment SET paid = NOT paid WHERE payment_id = %s", (_random_id(conn, "payment"),)
            )
        elif kind == "address":
            address = fake.address()
            conn.execute(
                "UPDATE address SET address_line_1 = %s, phone = %s WHERE address_id = %s",
                (address["address_line_1"], address["phone"], _random_id(conn, "address")),
            )
        elif kind == "counterparty_name":
            conn.execute(
                "UPDATE counterparty SET counterparty_legal_name = %s WHERE counterparty_id = %s",
                (fake.faker.company()[:200], _random_id(conn, "counterparty")),
            )
        elif kind == "staff_name":
            conn.execute(
                "UPDATE staff SET last_name = %s WHERE staff_id = %s",
                (fake.faker.last_name(), _random_id(conn, "staff")),
            )
        elif kind == "design_name":
            conn.execute(
                "UPDATE design SET design_name = %s WHERE design_id = %s",
                (fake.faker.word().title(), _random_id(conn, "design")),
            )
        else:
            raise ValueError(f"unknown change kind {kind!r}: one of {', '.join(CHANGE_KINDS)}")


def simulate_erp(
    connect: Callable[[], AbstractContextManager[Any]],
    changes_per_minute: float,
    duration_seconds: float,
    seed: int = 7,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Counter[str]:
    """Apply changes at `changes_per_minute` for `duration_seconds`; returns how many of each kind."""
    if changes_per_minute <= 0 or duration_seconds < 0:
        raise ValueError("changes per minute must be > 0 and the duration >= 0")
    fake = _Fake(seed)
    done: Counter[str] = Counter()
    interval = 60.0 / changes_per_minute
    with connect() as conn:
        conn.autocommit = True
        start = clock()
        for index in _ticks(start, interval, duration_seconds, clock, sleep):
            kind = fake.rng.choices(CHANGE_KINDS, _WEIGHTS)[0]
            apply_change(conn, fake, kind)
            done[kind] += 1
            del index
    return done


def _ticks(
    start: float, interval: float, duration: float, clock: Callable[[], float], sleep
) -> Iterator[int]:
    index = 0
    while index * interval < duration:
        wait = start + index * interval - clock()
        if wait > 0:
            sleep(wait)
        yield index
        index += 1
