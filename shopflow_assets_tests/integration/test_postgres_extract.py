"""The one PostgreSQL extraction component and the read-only role, on the real PostgreSQL of the stack."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest

from shopflow_assets.resources.extract import (
    ChangeWindow,
    ExtractError,
    InvalidIdentifierError,
    extract_changes,
    server_now,
    source_columns,
)
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.settings import SOURCE_DATABASES, WAREHOUSE_DATABASE, get_settings

pytestmark = pytest.mark.stack

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def settings():
    settings = get_settings()
    if settings.postgres_password is None or settings.postgres_reader_password is None:
        pytest.fail("no PostgreSQL credentials in settings: run `uv run shopflow services up` first")
    return settings


@pytest.fixture
def table(settings):
    """A fresh table in the totesys source database, owned by the owner role, dropped afterwards."""
    name = f"extract_test_{uuid.uuid4().hex[:10]}"
    owner = PostgresResource.from_settings(settings, role="owner", database="totesys")
    with owner.connect(autocommit=True) as conn:
        conn.execute(
            f"create table {name} (id int primary key, label text, amount numeric(12,2), big bigint, "
            "day date, seen timestamp, last_updated timestamptz not null, flag boolean, ratio double precision)"
        )
        conn.execute(
            f"insert into {name} values "
            "(1, 'a', 10.10, 9007199254740993, '2026-03-01', '2026-03-01 08:00', %(t1)s, true, 0.5),"
            "(2, 'b', 99999999.99, null, null, null, %(t2)s, false, null),"
            "(3, 'c''s', 0.01, 1, '2026-03-02', '2026-03-02 00:00', %(t3)s, null, 1.25),"
            "(4, null, null, null, null, null, %(t4)s, null, null)",
            {
                "t1": T0,
                "t2": T0 + dt.timedelta(minutes=1),
                "t3": T0 + dt.timedelta(minutes=2),
                "t4": dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC),
            },
        )
    yield name
    with owner.connect(autocommit=True) as conn:
        conn.execute(f"drop table if exists {name}")


@pytest.fixture
def reader(settings):
    return PostgresResource.from_settings(settings, role="reader", database="totesys")


def test_the_stack_creates_the_source_and_warehouse_databases(settings):
    owner = PostgresResource.from_settings(settings, role="owner")
    with owner.connect() as conn:
        names = {row[0] for row in conn.execute("select datname from pg_database")}
    assert set(SOURCE_DATABASES) | {WAREHOUSE_DATABASE} <= names


def test_a_window_extracts_exactly_its_rows_with_exact_types(table, reader):
    window = ChangeWindow(after=T0, up_to=T0 + dt.timedelta(minutes=2))  # excludes id 1, includes 2 and 3
    with reader.connect() as conn:
        rows = extract_changes(conn, table, changed_column="last_updated", window=window)
    assert rows.column("id").to_pylist() == [2, 3]
    assert rows.schema.field("amount").type == pa.decimal128(12, 2)
    assert rows.column("amount").to_pylist() == [Decimal("99999999.99"), Decimal("0.01")]
    assert rows.schema.field("last_updated").type == pa.timestamp("us", tz="UTC")
    assert rows.schema.field("seen").type == pa.timestamp("us")
    assert rows.schema.field("day").type == pa.date32()
    assert rows.schema.field("big").type == pa.int64()
    assert rows.column("label").to_pylist() == ["b", "c's"]
    assert rows.column("flag").to_pylist() == [False, None]


def test_from_the_beginning_and_a_column_subset(table, reader):
    with reader.connect() as conn:
        rows = extract_changes(
            conn,
            table,
            changed_column="last_updated",
            window=ChangeWindow(after=None, up_to=T0 + dt.timedelta(days=2)),
            columns=["id", "big"],
        )
    assert rows.column_names == ["id", "big"]
    assert rows.column("big").to_pylist() == [9007199254740993, None, 1, None]  # beyond float precision


def test_for_day_is_exactly_one_utc_day(table, reader):
    with reader.connect() as conn:
        first = extract_changes(
            conn, table, changed_column="last_updated", window=ChangeWindow.for_day(T0.date())
        )
        second = extract_changes(
            conn, table, changed_column="last_updated", window=ChangeWindow.for_day(dt.date(2026, 3, 2))
        )
    assert first.column("id").to_pylist() == [1, 2, 3]
    assert second.column("id").to_pylist() == [4]  # midnight belongs to the day it starts


def test_an_empty_window_keeps_the_schema_and_small_batches_add_up(table, reader):
    with reader.connect() as conn:
        empty = extract_changes(
            conn,
            table,
            changed_column="last_updated",
            window=ChangeWindow(after=T0 - dt.timedelta(hours=2), up_to=T0 - dt.timedelta(hours=1)),
        )
        batched = extract_changes(
            conn,
            table,
            changed_column="last_updated",
            window=ChangeWindow(after=None, up_to=T0 + dt.timedelta(days=2)),
            batch_rows=1,
        )
    assert empty.num_rows == 0 and empty.schema.field("amount").type == pa.decimal128(12, 2)
    assert batched.column("id").to_pylist() == [1, 2, 3, 4]


def test_the_reader_role_cannot_write(table, reader):
    with reader.connect() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute(f"delete from {table}")
    with reader.connect() as conn:
        conn.execute("set transaction read write")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"delete from {table}")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"table": "sales_order; drop table staff"}, InvalidIdentifierError),
        ({"table": 'x" ; drop table staff; --'}, InvalidIdentifierError),
        ({"changed_column": "last_updated or 1=1"}, InvalidIdentifierError),
        ({"columns": ["id", "(select pg_sleep(5))"]}, InvalidIdentifierError),
        ({"schema": "pg_catalog, public"}, InvalidIdentifierError),
        ({"columns": ["id", "no_such_column"]}, ExtractError),
    ],
)
def test_crafted_names_are_refused_and_change_nothing(table, reader, settings, kwargs, error):
    arguments = {"table": table, "changed_column": "last_updated", **kwargs}
    with reader.connect() as conn, pytest.raises(error):
        extract_changes(conn, window=ChangeWindow(after=None, up_to=T0 + dt.timedelta(days=9)), **arguments)
    owner = PostgresResource.from_settings(settings, role="owner", database="totesys")
    with owner.connect() as conn:
        assert conn.execute(f"select count(*) from {table}").fetchone() == (4,)


def test_a_crafted_value_is_only_ever_a_value(table, reader):
    # A bound parameter cannot carry SQL: a timestamp bound is a timestamp or an error, never a statement.
    with reader.connect() as conn, pytest.raises(ExtractError):
        ChangeWindow(after=None, up_to=dt.datetime(2026, 1, 1))  # naive bounds are refused
    with reader.connect() as conn:
        rows = extract_changes(
            conn,
            table,
            changed_column="last_updated",
            window=ChangeWindow(after=None, up_to=server_now(conn)),
        )
    assert rows.num_rows == 4


def test_source_columns_report_types_for_drift_checks(table, reader):
    with reader.connect() as conn:
        columns = source_columns(conn, table)
        with pytest.raises(ExtractError, match="does not exist"):
            source_columns(conn, "no_such_table")
    assert list(columns)[:3] == ["id", "label", "amount"]
    assert columns["amount"] == "numeric(12,2)" and columns["last_updated"] == "timestamp with time zone"


TRICKY_TEXTS = [
    'comma, "quotes" and\nnew\r\nlines',
    "back\\slash \\N \\x41",
    "",
    "naïve 東京 🚀",
    '"',
    "NULL",
]


@pytest.fixture
def tricky_table(settings):
    """Values a text transfer could get wrong, one row per text, with the other types alongside."""
    name = f"extract_tricky_{uuid.uuid4().hex[:10]}"
    owner = PostgresResource.from_settings(settings, role="owner", database="totesys")
    with owner.connect(autocommit=True) as conn:
        conn.execute(
            f"create table {name} (id int, label text, code varchar(8), amount numeric(38,10), "
            "ratio double precision, at timestamptz, local_at timestamp, on_day date, flag boolean, "
            "doc jsonb, changed timestamptz not null)"
        )
        rows = [
            (
                index,
                text,
                text[:8],
                Decimal("1234567890123456789012345678.0123456789") * (-1 if index % 2 else 1),
                [0.1, 1e-300, -2.5e300, 1 / 3, 2**53 + 1.0, -0.0][index],
                dt.datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=5))),
                dt.datetime(2026, 3, 1, 0, 0, 0, 1),
                dt.date(2026, 2, 28),
                [True, False, None][index % 3],
                '{"a": [1, "x,y"]}',
                T0 + dt.timedelta(seconds=index),
            )
            for index, text in enumerate(TRICKY_TEXTS)
        ]
        with conn.cursor() as cur:
            cur.executemany(f"insert into {name} values ({', '.join(['%s'] * 11)})", rows)
            cur.execute(
                f"insert into {name} (id, changed) values (%s, %s)", (99, T0 + dt.timedelta(minutes=1))
            )
    yield name, rows
    with owner.connect(autocommit=True) as conn:
        conn.execute(f"drop table if exists {name}")


def test_values_a_text_transfer_could_get_wrong_arrive_exactly(tricky_table, reader):
    name, rows = tricky_table
    with reader.connect() as conn:
        # A caller's own session settings must not change what arrives, and must survive the call.
        conn.execute("set datestyle = 'SQL, DMY'")
        conn.execute("set timezone = 'America/Sao_Paulo'")
        conn.execute("set extra_float_digits = -3")
        got = extract_changes(
            conn,
            name,
            changed_column="changed",
            window=ChangeWindow(after=None, up_to=T0 + dt.timedelta(hours=1)),
            batch_rows=1,
        )
        assert conn.execute("show timezone").fetchone() == ("America/Sao_Paulo",)
        assert conn.execute("show datestyle").fetchone() == ("SQL, DMY",)
    assert got.schema.field("amount").type == pa.decimal128(38, 10)
    assert got.schema.field("at").type == pa.timestamp("us", tz="UTC")
    values = got.to_pylist()
    assert len(values) == len(rows) + 1
    for row, value in zip(rows, values, strict=False):
        assert value["label"] == row[1] and value["code"] == row[2]
        assert value["amount"] == row[3]
        assert value["ratio"] == row[4] and str(value["ratio"]) == str(row[4])  # bit-exact, -0.0 too
        assert value["at"] == row[5] and value["at"].microsecond == 999_999
        assert value["at"].utcoffset() == dt.timedelta(0)
        assert value["local_at"] == row[6] and value["on_day"] == row[7]
        assert value["flag"] is row[8]
    assert values[2]["label"] == "" and values[2]["code"] == ""  # an empty string is not NULL
    assert values[0]["doc"] == '{"a": [1, "x,y"]}'  # other types arrive as PostgreSQL's own text
    assert values[-1]["id"] == 99
    assert all(values[-1][column] is None for column in ("label", "amount", "ratio", "at", "flag", "doc"))


def test_a_single_null_column_keeps_every_row(tricky_table, reader):
    # In CSV a row with one NULL column is an empty line: it must stay a row.
    name, rows = tricky_table
    with reader.connect() as conn:
        got = extract_changes(
            conn,
            name,
            changed_column="changed",
            columns=["flag"],
            window=ChangeWindow(after=None, up_to=T0 + dt.timedelta(hours=1)),
        )
    assert got.column("flag").to_pylist() == [row[8] for row in rows] + [None]
