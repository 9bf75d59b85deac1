"""The rainforest medallion through Dagster on the real PostgreSQL, MinIO (S3A Delta) and Spark.

Three days of app data are generated into their own schema of the `rainforest` database (enough for
per-day reports, a re-run of the middle day and a day appended after them; the month this used to load
cost ten times the Spark time and covered nothing more). The assets run over it with the read-only role,
the lake under a fresh namespace and a fresh DuckDB warehouse file. The
expected reports are computed independently, in SQL, by PostgreSQL over the source tables.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import uuid
from decimal import Decimal

import dagster as dg
import pytest
from psycopg import sql

from shopflow_assets.contracts.rainforest import GOLD_TABLES, SILVER_FACTS
from shopflow_assets.datagen.rainforest import generate_rainforest
from shopflow_assets.domains.rainforest.assets import (
    rainforest_bronze,
    rainforest_gold,
    rainforest_interface,
    rainforest_silver,
)
from shopflow_assets.domains.rainforest.pipeline import RainforestLake
from shopflow_assets.resources.lake import LakeResource, build_lake
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.resources.spark import SparkResource, get_spark_session
from shopflow_assets.resources.warehouse import WarehouseResource, connect_warehouse
from shopflow_assets.settings import get_settings

pytestmark = pytest.mark.stack

FIRST, LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 3)
DAYS = (LAST - FIRST).days + 1
NEXT_DAY = LAST + dt.timedelta(days=1)
ORDERS_PER_DAY = 40
ASSETS = [rainforest_bronze, rainforest_silver, rainforest_gold, rainforest_interface]
OPS = ("rainforest_bronze", "rainforest_silver", "rainforest_gold", "rainforest_interface")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Test schema, lake namespace and warehouse file; everything removed afterwards."""
    run_id = uuid.uuid4().hex[:10]
    warehouse = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    previous = os.environ.get("SHOPFLOW_DUCKDB_PATH")
    os.environ["SHOPFLOW_DUCKDB_PATH"] = str(warehouse)
    get_settings.cache_clear()
    settings = get_settings()
    if settings.postgres_password is None or not settings.aws_access_key_id:
        pytest.fail("no service credentials in settings: run `uv run shopflow services up` first")
    schema = f"t_{run_id}"
    owner = PostgresResource.from_settings(
        settings, role="owner", database="rainforest"
    ).process_config_and_initialize()
    with owner.connect() as conn:
        generate_rainforest(
            conn, FIRST, DAYS, ORDERS_PER_DAY, schema=schema,
            reader_role=settings.postgres_reader_user,
        )  # fmt: skip
    s3 = build_lake(settings.model_copy(update={"env": "docker"}))
    namespace = f"_tests/{run_id}"
    yield {
        "schema": schema,
        "namespace": namespace,
        "owner": owner,
        "lake": RainforestLake(s3.uri, namespace),
        "settings": settings,
    }
    with owner.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    for key in s3.list_keys("lakehouse", f"{namespace}/"):
        s3.client.delete_object(Bucket="lakehouse", Key=key)
    if previous is None:
        os.environ.pop("SHOPFLOW_DUCKDB_PATH", None)
    else:
        os.environ["SHOPFLOW_DUCKDB_PATH"] = previous
    get_settings.cache_clear()


def run(env, first: dt.date, last: dt.date) -> dg.ExecuteInProcessResult:
    config = {"namespace": env["namespace"], "source_schema": env["schema"]}
    return dg.materialize(
        ASSETS,
        resources={
            "spark": SparkResource(),
            "lake": LakeResource(backend="s3"),
            "warehouse": WarehouseResource(),
            "postgres_reader": PostgresResource.from_settings(
                env["settings"], role="reader", database="rainforest"
            ),
        },
        run_config={"ops": {op: {"config": config} for op in OPS}},
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        raise_on_error=False,
    )


def views() -> dict[str, list[tuple]]:
    with connect_warehouse(read_only=True) as con:
        return {
            "category": con.execute(
                "SELECT order_date, category, items, total_revenue, mean_revenue, median_revenue "
                "FROM interface.daily_category_report ORDER BY 1, 2"
            ).fetchall(),
            "order": con.execute(
                "SELECT order_date, orders, total_revenue, mean_revenue FROM interface.daily_order_report ORDER BY 1"
            ).fetchall(),
        }


def expected(env) -> dict[str, list[tuple]]:
    """Both reports straight from the source tables, in PostgreSQL's own SQL."""
    s = sql.Identifier(env["schema"])
    live = sql.SQL(
        "SELECT order_id, (order_ts AT TIME ZONE 'UTC')::date AS order_date FROM {}.orders "
        "WHERE status <> 'cancelled' AND order_ts >= %(first)s AND order_ts < %(end)s"
    ).format(s)
    category = sql.SQL(
        """WITH live AS ({live}),
        revenue AS (
            SELECT live.order_date, c.name AS category, i.actual_price * i.quantity AS revenue
            FROM {s}.order_items i JOIN live USING (order_id)
            JOIN {s}.product_category pc ON pc.product_id = i.product_id
            JOIN {s}.category c ON c.category_id = pc.category_id)
        SELECT order_date, category, count(*), sum(revenue), round(avg(revenue), 6),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY revenue)
        FROM revenue GROUP BY 1, 2 ORDER BY 1, 2"""
    ).format(live=live, s=s)
    orders = sql.SQL(
        """WITH live AS ({live}),
        per_order AS (SELECT order_id, sum(actual_price * quantity) AS revenue FROM {s}.order_items GROUP BY 1)
        SELECT order_date, count(*), sum(coalesce(revenue, 0)), round(sum(coalesce(revenue, 0)) / count(*), 6)
        FROM live LEFT JOIN per_order USING (order_id) GROUP BY 1 ORDER BY 1"""
    ).format(live=live, s=s)
    params = {"first": FIRST, "end": LAST + dt.timedelta(days=1)}
    with env["owner"].connect() as conn:
        return {
            "category": conn.execute(category, params).fetchall(),
            "order": conn.execute(orders, params).fetchall(),
        }


def gold_snapshot(env) -> dict[str, list[tuple]]:
    spark = get_spark_session()
    lake = env["lake"]
    tables = {f"gold/{t}": lake.path("gold", t) for t in GOLD_TABLES}
    tables |= {f"silver/{t}": lake.path("silver", t) for t in SILVER_FACTS}
    out = {}
    for name, path in tables.items():
        frame = spark.read.format("delta").load(path)
        out[name] = sorted(tuple(str(v) for v in row) for row in frame.collect())
    return out


@pytest.fixture(scope="module")
def loaded(env):
    result = run(env, FIRST, LAST)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def test_reports_equal_independent_sql(env, loaded):
    got, want = views(), expected(env)
    assert len(want["order"]) == DAYS and len(got["order"]) == DAYS
    assert [(d, n, t, m) for d, n, t, m in got["order"]] == want["order"]
    assert len(got["category"]) == len(want["category"]) > DAYS
    for g, w in zip(got["category"], want["category"], strict=True):
        assert g[:5] == w[:5]  # day, category, items, total, mean: exact decimals
        assert math.isclose(float(g[5]), w[5], rel_tol=0, abs_tol=1e-9), (g, w)  # exact median
    # Every published mean is what its check requires.
    assert all(row[4] < 100_000 for row in got["category"]) and all(row[3] < 100_000 for row in got["order"])


def test_an_item_with_two_categories_counts_in_both(env, loaded):
    s = sql.Identifier(env["schema"])
    with env["owner"].connect() as conn:
        order_date, order_id, revenue, categories = conn.execute(
            sql.SQL(
                """SELECT (o.order_ts AT TIME ZONE 'UTC')::date, o.order_id, i.actual_price * i.quantity,
                          array_agg(c.name ORDER BY c.name)
                   FROM {s}.orders o JOIN {s}.order_items i USING (order_id)
                   JOIN {s}.product_category pc USING (product_id) JOIN {s}.category c USING (category_id)
                   WHERE o.status <> 'cancelled'
                   GROUP BY 1, 2, i.order_item_id HAVING count(*) = 2 ORDER BY 2 LIMIT 1"""
            ).format(s=s)
        ).fetchone()
        # The same day and categories without that order: the report must differ by exactly its item.
        without = dict(
            conn.execute(
                sql.SQL(
                    """SELECT c.name, sum(i.actual_price * i.quantity) FROM {s}.orders o
                       JOIN {s}.order_items i USING (order_id) JOIN {s}.product_category pc USING (product_id)
                       JOIN {s}.category c USING (category_id)
                       WHERE o.status <> 'cancelled' AND o.order_id <> %(order)s AND c.name = ANY(%(cats)s)
                         AND o.order_ts >= %(day)s AND o.order_ts < %(day)s + interval '1 day'
                       GROUP BY 1"""
                ).format(s=s),
                {"order": order_id, "cats": categories, "day": order_date},
            ).fetchall()
        )
    report = {(d, c): total for d, c, _, total, _, _ in views()["category"]}
    assert len(categories) == 2
    item_total_in_order = report[(order_date, categories[0])] - without.get(categories[0], Decimal(0))
    assert item_total_in_order >= revenue > 0
    assert report[(order_date, categories[1])] - without.get(categories[1], Decimal(0)) >= revenue


def test_rerun_of_one_day_changes_nothing(env, loaded):
    before_views, before_tables = views(), gold_snapshot(env)
    day = dt.date(2026, 10, 2)
    result = run(env, day, day)
    assert result.success
    assert views() == before_views
    assert gold_snapshot(env) == before_tables


def test_duplicate_item_blocks_publication_and_views_keep_previous_content(env, loaded):
    before = views()
    schema = env["schema"]
    with env["owner"].connect() as conn:
        generate_rainforest(conn, NEXT_DAY, 1, ORDERS_PER_DAY, schema=schema)
        # The app double-submits an order line: same order, product and seller under a new item id.
        duplicated = conn.execute(
            sql.SQL(
                """INSERT INTO {s}.order_items
                   SELECT (SELECT max(order_item_id) + 1 FROM {s}.order_items), order_id, product_id, seller_id,
                          quantity, base_price, actual_price, created_ts, updated_ts
                   FROM {s}.order_items WHERE created_ts >= %(day)s ORDER BY order_item_id LIMIT 1
                   RETURNING order_id, product_id, seller_id"""
            ).format(s=sql.Identifier(schema)),
            {"day": NEXT_DAY},
        ).fetchone()
        conn.commit()
    result = run(env, NEXT_DAY, NEXT_DAY)
    assert not result.success
    evaluations = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    failed = evaluations["no_duplicate_items"]
    assert failed.passed is False
    message = failed.description
    order_id, product_id, seller_id = duplicated
    assert "FAILED" in message and "blocked" in message
    assert f"order_id={order_id}, product_id={product_id}, seller_id={seller_id}, copies=2" in message
    assert evaluations["no_duplicate_orders"].passed and evaluations["mean_revenue_below_100000"].passed
    # The interface never ran: the views still show exactly what was published before.
    assert not [
        e for e in result.get_asset_materialization_events() if "daily_order_report" in str(e.asset_key)
    ]
    assert views() == before
    assert NEXT_DAY not in {row[0] for row in views()["order"]}
