"""Gold freshness, the one Olist gold check outside dbt (the rules are dbt tests), on a real DuckDB table."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from shopflow_assets.domains.marketplace.checks import MAX_GOLD_AGE, evaluate_gold_freshness

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 12, 3, 6, 30)


def _gold(refreshed: list[dt.datetime]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create table gold_daily_sales (order_date date, _gold_updated_at timestamp)")
    for day, at in enumerate(refreshed):
        con.execute("insert into gold_daily_sales values (?, ?)", [dt.date(2026, 11, 1 + day), at])
    return con


def test_gold_rebuilt_within_the_window_is_fresh_and_the_newest_rebuild_counts():
    result = evaluate_gold_freshness(_gold([NOW - dt.timedelta(days=9), NOW - dt.timedelta(hours=2)]), NOW)
    assert result.passed and result.check_name == "fresh"
    assert result.asset_key.to_user_string() == "marketplace/gold_daily_sales"
    assert result.metadata["refreshed_at"].value == str(NOW - dt.timedelta(hours=2))


def test_gold_older_than_the_window_or_empty_is_not_fresh():
    stale = evaluate_gold_freshness(_gold([NOW - MAX_GOLD_AGE - dt.timedelta(minutes=1)]), NOW)
    assert not stale.passed
    assert evaluate_gold_freshness(_gold([NOW - MAX_GOLD_AGE]), NOW).passed
    empty = evaluate_gold_freshness(_gold([]), NOW)
    assert not empty.passed and empty.metadata["refreshed_at"].value == "None"
