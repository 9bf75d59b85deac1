"""The ERP star-schema transforms and the source contract, on small hand-made tables (no services)."""

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from shopflow_assets.contracts.erp import expected_columns, schema_drift, source_ddl, warehouse_ddl
from shopflow_assets.domains.erp import transforms

pytestmark = pytest.mark.unit

UTC = dt.UTC
CEST = dt.timezone(dt.timedelta(hours=2))
TS = pa.timestamp("us", tz="UTC")


def _sales_orders(rows):
    columns = {
        "sales_order_id": pa.int32(),
        "design_id": pa.int32(),
        "staff_id": pa.int32(),
        "counterparty_id": pa.int32(),
        "units_sold": pa.int32(),
        "unit_price": pa.decimal128(10, 2),
        "currency_id": pa.int32(),
        "agreed_delivery_date": pa.date32(),
        "agreed_payment_date": pa.date32(),
        "agreed_delivery_location_id": pa.int32(),
        "created_at": TS,
        "last_updated": TS,
    }
    return pa.table(
        {c: [r[i] for r in rows] for i, c in enumerate(columns)}, schema=pa.schema(columns.items())
    )


def _order(order_id, price, created, updated):
    return (
        order_id,
        3,
        7,
        9,
        1000,
        Decimal(price),
        2,
        dt.date(2026, 1, 10),
        dt.date(2026, 2, 1),
        4,
        created,
        updated,
    )


def test_fact_rows_keep_every_version_split_utc_date_and_time_and_exact_decimals():
    created = dt.datetime(2026, 1, 1, 23, 30, 0, 250000, tzinfo=UTC)
    changes = _sales_orders(
        [
            _order(1, "2.35", created, created),
            # 00:15 on Jan 2 in UTC+2 is 22:15 on Jan 1 in UTC: the split must use UTC.
            # (as UTC: pyarrow ignores offsets when pandera has set PYARROW_IGNORE_TIMEZONE)
            _order(1, "3.10", created, dt.datetime(2026, 1, 2, 0, 15, tzinfo=CEST).astimezone(UTC)),
        ]
    )
    fact = transforms.fact_rows("fact_sales_order", changes).to_pylist()
    assert len(fact) == 2
    assert [r["unit_price"] for r in fact] == [Decimal("2.35"), Decimal("3.10")]
    assert fact[0]["created_date"] == dt.date(2026, 1, 1) and fact[0]["created_time"] == dt.time(
        23, 30, 0, 250000
    )
    assert fact[1]["last_updated_date"] == dt.date(2026, 1, 1) and fact[1]["last_updated_time"] == dt.time(
        22, 15
    )
    assert fact[1]["sales_staff_id"] == 7 and fact[1]["design_id"] == 3
    assert fact[1]["source_last_updated"] == dt.datetime(2026, 1, 1, 22, 15, tzinfo=UTC)
    schema = transforms.output_schema("fact_sales_order")
    assert transforms.fact_rows("fact_sales_order", changes).schema == schema
    assert schema.field("unit_price").type == pa.decimal128(10, 2)


def test_latest_versions_keeps_the_newest_row_per_id_across_snapshot_and_changes():
    t0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
    snapshot = _sales_orders([_order(1, "1.00", t0, t0), _order(2, "2.00", t0, t0)])
    changes = _sales_orders(
        [
            _order(2, "2.50", t0, t0 + dt.timedelta(seconds=5)),
            _order(3, "3.00", t0, t0 + dt.timedelta(seconds=1)),
        ]
    )
    latest = transforms.latest_versions([snapshot, changes], "sales_order_id").to_pylist()
    assert [(r["sales_order_id"], r["unit_price"]) for r in latest] == [
        (1, Decimal("1.00")),
        (2, Decimal("2.50")),
        (3, Decimal("3.00")),
    ]


def _table(columns, rows):
    return pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})


def test_dim_counterparty_takes_its_legal_address_and_dim_staff_its_department():
    t = dt.datetime(2026, 1, 1, tzinfo=UTC)
    address = _table(
        [
            "address_id",
            "address_line_1",
            "address_line_2",
            "district",
            "city",
            "postal_code",
            "country",
            "phone",
            "created_at",
            "last_updated",
        ],
        [
            (1, "1 Lane", None, "Kent", "Ashford", "TN1", "UK", "0123", t, t),
            (2, "2 Road", "Flat 3", None, "Leeds", "LS2", "UK", "0456", t, t),
        ],
    )
    address = address.cast(address.schema.set(0, pa.field("address_id", pa.int32())))
    counterparty = _table(
        [
            "counterparty_id",
            "counterparty_legal_name",
            "legal_address_id",
            "commercial_contact",
            "delivery_contact",
            "created_at",
            "last_updated",
        ],
        [(10, "Acme Ltd", 2, "A", "B", t, t)],
    )
    dim = transforms.dimension(
        "dim_counterparty", {"address": address, "counterparty": counterparty}
    ).to_pylist()
    assert dim == [
        {
            "counterparty_id": 10,
            "counterparty_legal_name": "Acme Ltd",
            "counterparty_legal_address_line_1": "2 Road",
            "counterparty_legal_address_line_2": "Flat 3",
            "counterparty_legal_district": None,
            "counterparty_legal_city": "Leeds",
            "counterparty_legal_postal_code": "LS2",
            "counterparty_legal_country": "UK",
            "counterparty_legal_phone_number": "0456",
        }
    ]
    staff = _table(
        [
            "staff_id",
            "first_name",
            "last_name",
            "department_id",
            "email_address",
            "created_at",
            "last_updated",
        ],
        [(5, "Ann", "Lee", 1, "ann@x", t, t), (6, "Bo", "Ng", 2, "bo@x", t, t)],
    )
    department = _table(
        ["department_id", "department_name", "location", "manager", "created_at", "last_updated"],
        [(1, "Sales", "Leeds", "M", t, t), (2, "Finance", "York", "N", t, t)],
    )
    rows = transforms.dimension("dim_staff", {"staff": staff, "department": department}).to_pylist()
    assert [(r["staff_id"], r["department_name"], r["location"]) for r in rows] == [
        (5, "Sales", "Leeds"),
        (6, "Finance", "York"),
    ]
    currency = _table(["currency_id", "currency_code", "created_at", "last_updated"], [(1, "GBP", t, t)])
    assert transforms.dimension("dim_currency", {"currency": currency}).to_pylist() == [
        {"currency_id": 1, "currency_code": "GBP", "currency_name": "British Pound Sterling"}
    ]


def test_dim_date_names_weekdays_months_and_quarters():
    rows = transforms.dim_date([dt.date(2026, 12, 3), dt.date(2024, 2, 29), dt.date(2026, 12, 3)]).to_pylist()
    assert rows == [
        {
            "date_id": dt.date(2024, 2, 29),
            "year": 2024,
            "month": 2,
            "day": 29,
            "day_of_week": 4,
            "day_name": "Thursday",
            "month_name": "February",
            "quarter": 1,
        },
        {
            "date_id": dt.date(2026, 12, 3),
            "year": 2026,
            "month": 12,
            "day": 3,
            "day_of_week": 4,
            "day_name": "Thursday",
            "month_name": "December",
            "quarter": 4,
        },
    ]


def test_fact_dates_collects_every_date_a_fact_refers_to():
    t = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
    fact = transforms.fact_rows("fact_sales_order", _sales_orders([_order(1, "1.00", t, t)]))
    assert transforms.fact_dates([fact]) == {dt.date(2026, 3, 1), dt.date(2026, 1, 10), dt.date(2026, 2, 1)}


def test_schema_drift_names_added_removed_and_retyped_columns():
    actual = expected_columns("currency")
    assert schema_drift("currency", actual) == []
    actual = dict(actual)
    del actual["currency_code"]
    actual["symbol"] = "text"
    actual["currency_id"] = "bigint"
    problems = schema_drift("currency", actual)
    assert "column 'currency_code' (character varying(3)) was removed" in problems
    assert "column 'symbol' (text) was added" in problems
    assert "column 'currency_id' changed type from integer to bigint" in problems


def test_ddl_has_every_table_a_trigger_and_the_fact_natural_keys():
    ddl = "\n".join(source_ddl())
    for table in (
        "address",
        "counterparty",
        "currency",
        "department",
        "design",
        "staff",
        "sales_order",
        "purchase_order",
        "payment_type",
        "payment",
        "transaction",
    ):
        assert f'CREATE TABLE IF NOT EXISTS "{table}"' in ddl
        assert f'CREATE TRIGGER "{table}_touch"' in ddl
    wh = "\n".join(warehouse_ddl())
    assert "UNIQUE (sales_order_id, source_last_updated)" in wh
    assert "sales_record_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY" in wh
