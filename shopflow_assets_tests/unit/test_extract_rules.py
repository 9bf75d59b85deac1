"""The extraction component's rules that need no database: windows, identifiers, Arrow types."""

import datetime as dt

import pyarrow as pa
import pytest

from shopflow_assets.devstack.postgres import render_bootstrap_sql
from shopflow_assets.resources.extract import (
    ChangeWindow,
    ExtractError,
    InvalidIdentifierError,
    arrow_type,
    checked_identifier,
)

pytestmark = pytest.mark.unit


def test_for_day_covers_exactly_the_utc_day():
    window = ChangeWindow.for_day(dt.date(2026, 2, 28))
    start = dt.datetime(2026, 2, 28, tzinfo=dt.UTC)
    assert window.after < start <= window.up_to
    assert window.up_to < start + dt.timedelta(days=1)
    assert window.after == start - dt.timedelta(microseconds=1)
    assert window.up_to == start + dt.timedelta(days=1, microseconds=-1)


def test_bounds_are_normalised_to_utc_and_must_carry_a_zone():
    paris = dt.timezone(dt.timedelta(hours=1))
    window = ChangeWindow(after=None, up_to=dt.datetime(2026, 1, 1, 1, 0, tzinfo=paris))
    assert window.up_to == dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC)
    with pytest.raises(ExtractError, match="no time zone"):
        ChangeWindow(after=None, up_to=dt.datetime(2026, 1, 1))
    with pytest.raises(ExtractError, match="empty window"):
        ChangeWindow(
            after=dt.datetime(2026, 1, 2, tzinfo=dt.UTC), up_to=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )


@pytest.mark.parametrize("name", ["sales_order", "_x", "a1", "t" * 63])
def test_plain_identifiers_pass(name):
    assert checked_identifier(name) == name


@pytest.mark.parametrize(
    "name", ["", "Sales", "1abc", "a-b", "a b", 'a"b', "a;drop", "t" * 64, "é", None, "x\n", "a.b"]
)
def test_anything_else_is_refused_with_the_rule(name):
    with pytest.raises(InvalidIdentifierError, match="lower-case letters"):
        checked_identifier(name, "table")


def test_arrow_types_are_exact():
    assert arrow_type("numeric", 12, 2) == pa.decimal128(12, 2)
    assert arrow_type("numeric", None, None) == pa.decimal128(38, 10)
    assert arrow_type("timestamptz", None, None) == pa.timestamp("us", tz="UTC")
    assert arrow_type("int4", None, None) == pa.int32()
    assert arrow_type("jsonb", None, None) == pa.string()


def test_bootstrap_creates_a_read_only_reader_with_select_on_every_database():
    sql = render_bootstrap_sql(
        "shopflow",
        "pw",
        "shopflow",
        reader="shopflow_reader",
        reader_password="r'p",
        extra_databases=("totesys", "warehouse"),
    )
    # Passwords travel as SCRAM verifiers, never in clear text.
    assert 'ALTER ROLE "shopflow_reader" WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD \'SCRAM-SHA-256$' in sql
    assert "r''p" not in sql
    assert 'ALTER ROLE "shopflow_reader" SET default_transaction_read_only = on;' in sql
    for database in ("totesys", "warehouse"):
        assert f"SELECT format('CREATE DATABASE %I OWNER %I', '{database}', 'shopflow')" in sql
        assert f'\\connect "{database}"' in sql
    assert sql.count('GRANT SELECT ON TABLES TO "shopflow_reader"') == 2
    assert "GRANT INSERT" not in sql and "GRANT ALL" not in sql
    assert 'GRANT pg_read_all_stats TO "shopflow_reader";' in sql  # sees open transactions' start times
    # Nobody but the owner and the roles granted CONNECT may connect: not the reader to shopflow.
    for database in ("shopflow", "totesys", "warehouse", "postgres"):
        assert f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC;' in sql
    for database in ("shopflow", "totesys", "warehouse"):
        assert f'GRANT CONNECT ON DATABASE "{database}" TO "shopflow";' in sql
    reader_connects = [
        line for line in sql.splitlines() if line.startswith("GRANT CONNECT") and "reader" in line
    ]
    assert reader_connects == [
        'GRANT CONNECT ON DATABASE "totesys" TO "shopflow_reader";',
        'GRANT CONNECT ON DATABASE "warehouse" TO "shopflow_reader";',
    ]


def test_bootstrap_lets_the_reader_read_every_schema_of_the_warehouse_only():
    sql = render_bootstrap_sql(
        "shopflow",
        "pw",
        "shopflow",
        reader="shopflow_reader",
        reader_password="rp",
        extra_databases=("totesys", "warehouse"),
        reporting_databases=("warehouse",),
    )
    warehouse_part = sql.split('\\connect "warehouse"')[-1]
    assert (
        'ALTER DEFAULT PRIVILEGES FOR ROLE "shopflow" GRANT USAGE ON SCHEMAS TO "shopflow_reader";'
        in warehouse_part
    )
    assert (
        'ALTER DEFAULT PRIVILEGES FOR ROLE "shopflow" GRANT SELECT ON TABLES TO "shopflow_reader";'
        in warehouse_part
    )
    assert "GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I" in warehouse_part  # schemas that exist already
    assert sql.count("GRANT USAGE ON SCHEMAS") == 1  # not in the source databases
    assert "GRANT INSERT" not in sql and "GRANT ALL" not in sql
