"""Names from run config are validated against strict patterns and quoted: an attack is refused before
any SQL is built, and the warehouse upsert of page views quotes its table."""

from __future__ import annotations

import duckdb
import pytest

from shopflow_assets.domains.clickstream.pipeline import PageViewsConfig
from shopflow_assets.domains.events.pipeline import UserActionsConfig
from shopflow_assets.identifiers import (
    UnsafeNameError,
    quote_identifier,
    quote_literal,
    safe_prefix,
    safe_table,
)

pytestmark = pytest.mark.unit

ATTACKS = [
    "x; DROP TABLE fact_orders; --",
    "a' OR '1'='1",
    'a"b',
    "../../etc",
    "a b",
    "a//b",
    "x\nDROP",
    "a" * 129,
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_are_refused_by_the_patterns(attack):
    with pytest.raises(UnsafeNameError, match="is not allowed"):
        safe_prefix(attack, "key_prefix")
    with pytest.raises(UnsafeNameError):
        safe_table(attack, "table")
    with pytest.raises(UnsafeNameError):
        PageViewsConfig().isolated(attack)
    with pytest.raises(UnsafeNameError):
        UserActionsConfig().isolated(attack)


def test_good_names_pass():
    assert safe_prefix("/_tests/3f2a-9/", "key_prefix") == "_tests/3f2a-9"
    assert safe_table("fact_page_views__tests_3f2a", "table") == "fact_page_views__tests_3f2a"
    config = PageViewsConfig().isolated("_tests/ab-12")
    assert config.warehouse_table == "fact_page_views__tests_ab_12"


def test_quoting_keeps_a_hostile_value_one_identifier_or_literal():
    con = duckdb.connect()
    name = 'evil"; DROP TABLE t; --'
    con.execute("CREATE TABLE t (x INT)")
    con.execute(f"CREATE TABLE {quote_identifier(name)} (v VARCHAR)")
    con.execute(f"INSERT INTO {quote_identifier(name)} VALUES ({quote_literal(name)})")
    assert con.execute(f"SELECT v FROM {quote_identifier(name)}").fetchall() == [(name,)]
    assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)  # t still exists


@pytest.mark.parametrize("attack", ["x'); DROP TABLE fact_orders; --", "a` UNION SELECT 1 --", "../secret"])
def test_a_crafted_marketplace_namespace_is_refused(attack):
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake

    with pytest.raises(UnsafeNameError, match="namespace"):
        MarketplaceLake(uri=lambda bucket, key, engine: f"/lake/{bucket}/{key}", namespace=attack)
    lake = MarketplaceLake(uri=lambda bucket, key, engine: f"/lake/{bucket}/{key}", namespace="/_tests/ab-1/")
    assert lake.namespace == "_tests/ab-1" and lake.paths.bronze("orders").startswith(
        "/lake/lakehouse/_tests/ab-1/"
    )


def test_the_dbt_lake_root_stays_one_duckdb_literal():
    from shopflow_assets.domains.marketplace.gold import OLIST_LAKE_ROOT_ENV, olist_dbt_env

    root = olist_dbt_env("/home/o'brien/lake/lakehouse/")[OLIST_LAKE_ROOT_ENV]
    con = duckdb.connect()
    assert con.execute(f"SELECT '{root}/silver/orders'").fetchone() == (
        "/home/o'brien/lake/lakehouse/silver/orders",
    )
