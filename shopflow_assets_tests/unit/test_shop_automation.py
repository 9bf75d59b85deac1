"""Partitions, dbt vars, schedule, sensor and blocking checks of the shop batch, without services."""

import datetime as dt

import dagster as dg
import duckdb
import pytest

from shopflow_assets.domains.dbt import partition_env, partition_vars
from shopflow_assets.domains.shop.assets import check_header
from shopflow_assets.domains.shop.automation import complete_days, plan_runs
from shopflow_assets.domains.shop.checks import CHECK_SPECS, evaluate_checks
from shopflow_assets.domains.shop.definitions import days_between, shop_definitions
from shopflow_assets.domains.shop.transforms import parse_raw_object_key, raw_object_key

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def repository():
    return shop_definitions().get_repository_def()


def test_partition_window_becomes_half_open_dbt_vars():
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert partition_vars(start, start + dt.timedelta(days=1)) == {
        "min_date": "2026-01-01",
        "max_date": "2026-01-02",
    }
    assert partition_vars(dt.date(2026, 1, 1), dt.date(2026, 1, 8))["max_date"] == "2026-01-08"
    assert partition_env(dt.date(2026, 1, 1), dt.date(2026, 1, 2)) == {
        "SHOPFLOW_DBT_MIN_DATE": "2026-01-01",
        "SHOPFLOW_DBT_MAX_DATE": "2026-01-02",
    }
    with pytest.raises(ValueError, match="empty partition window"):
        partition_vars(dt.date(2026, 1, 2), dt.date(2026, 1, 2))


def test_raw_object_keys_round_trip():
    assert raw_object_key(dt.date(2026, 3, 9), "orders") == "2026/03/09/orders.csv"
    assert parse_raw_object_key("2026/03/09/orders.csv") == (dt.date(2026, 3, 9), "orders")
    assert parse_raw_object_key("2026/13/09/orders.csv") is None
    assert parse_raw_object_key("_tests/x/orders.csv") is None


def test_sensor_runs_each_complete_day_once():
    keys = [
        "2026/01/01/users.csv",
        "2026/01/01/products.csv",
        "2026/01/01/orders.csv",
        "2026/01/02/users.csv",  # incomplete: no run yet
        "2026/01/03/users.csv",
        "2026/01/03/products.csv",
        "2026/01/03/orders.csv",
        "other/file.txt",
    ]
    assert complete_days(keys) == ["2026-01-01", "2026-01-03"]
    days, cursor = plan_runs(keys, None)
    assert days == ["2026-01-01", "2026-01-03"]
    assert plan_runs(keys, cursor) == ([], cursor)
    more = [*keys, "2026/01/02/products.csv", "2026/01/02/orders.csv"]
    assert plan_runs(more, cursor)[0] == ["2026-01-02"]
    assert plan_runs(more, None, valid_partitions={"2026-01-03"})[0] == ["2026-01-03"]


def test_sensor_requests_a_run_per_new_day_against_a_local_lake(repository, tmp_path, monkeypatch):
    from shopflow_assets.resources.lake import LakeResource
    from shopflow_assets.settings import reload_settings

    monkeypatch.setenv("SHOPFLOW_LAKE_DIR", str(tmp_path))
    monkeypatch.setenv("SHOPFLOW_ENV", "local")
    reload_settings()
    try:
        for name in ("users", "products", "orders"):
            (tmp_path / "raw-data/2025/02/03").mkdir(parents=True, exist_ok=True)
            (tmp_path / f"raw-data/2025/02/03/{name}.csv").write_text("x\n")
        sensor = repository.get_sensor_def("shop_raw_data_sensor")
        with dg.instance_for_test() as instance:
            resources = {"lake": LakeResource(backend="local")}
            context = dg.build_sensor_context(instance=instance, resources=resources)
            requests = list(sensor(context))
            assert [r.partition_key for r in requests] == ["2025-02-03"]
            assert requests[0].run_key == "shop-raw-2025-02-03"
            again = sensor(
                dg.build_sensor_context(instance=instance, cursor=context.cursor, resources=resources)
            )
            assert isinstance(again, dg.SkipReason)
    finally:
        monkeypatch.undo()
        reload_settings()


def test_sensor_leaves_a_day_that_a_run_of_the_batch_already_covers(repository, tmp_path, monkeypatch):
    """The schedule's run uploads its day's raw objects itself; the sensor must not start the day again
    (a soak saw two runs per partition). A failed run does not cover its day."""
    from dagster._core.storage.dagster_run import DagsterRun

    from shopflow_assets.resources.lake import LakeResource
    from shopflow_assets.settings import reload_settings

    monkeypatch.setenv("SHOPFLOW_LAKE_DIR", str(tmp_path))
    monkeypatch.setenv("SHOPFLOW_ENV", "local")
    reload_settings()
    try:
        for day in ("2025/02/03", "2025/02/04", "2025/02/05"):
            for name in ("users", "products", "orders"):
                (tmp_path / "raw-data" / day).mkdir(parents=True, exist_ok=True)
                (tmp_path / "raw-data" / day / f"{name}.csv").write_text("x\n")
        with dg.instance_for_test() as instance:
            for day, status in (("2025-02-03", "STARTED"), ("2025-02-04", "FAILURE")):
                instance.add_run(
                    DagsterRun(
                        job_name="ecommerce_daily_batch",
                        tags={"dagster/partition": day},
                        status=dg.DagsterRunStatus[status],
                    )
                )
            sensor = repository.get_sensor_def("shop_raw_data_sensor")
            context = dg.build_sensor_context(
                instance=instance, resources={"lake": LakeResource(backend="local")}
            )
            requests = list(sensor(context))
            assert [r.partition_key for r in requests] == ["2025-02-04", "2025-02-05"]
            # The covered day is not asked for again later either.
            again = sensor(
                dg.build_sensor_context(
                    instance=instance,
                    cursor=context.cursor,
                    resources={"lake": LakeResource(backend="local")},
                )
            )
            assert isinstance(again, dg.SkipReason)
    finally:
        monkeypatch.undo()
        reload_settings()


def test_schedule_runs_at_two_utc_for_the_previous_day(repository):
    schedule = repository.get_schedule_def("ecommerce_daily_batch_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == "ecommerce_daily_batch"
    tick = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
    requests = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick)).run_requests
    assert [r.partition_key for r in requests] == ["2026-03-09"]


def test_lineage_runs_from_landing_csvs_to_dbt_gold(repository):
    graph = repository.asset_graph
    key = dg.AssetKey.from_user_string
    assert key("shop/landing_orders_csv") in graph.get(key("shop/raw_orders")).parent_keys
    assert key("shop/raw_orders") in graph.get(key("shop/clean_orders")).parent_keys
    assert key("shop/clean_orders") in graph.get(key("shop/fact_orders")).parent_keys
    assert key("shop/fact_orders") in graph.get(key("shop/stg_shop__orders")).parent_keys
    assert key("shop/int_shop__order_lines") in graph.get(key("shop/shop_daily_revenue")).parent_keys
    for gold in (
        "shop_daily_revenue",
        "shop_revenue_by_country",
        "shop_revenue_by_category",
        "shop_top_products",
    ):
        node = graph.get(key(f"shop/{gold}"))
        assert node.partitions_def is not None and node.group_name == "shop"
    checks = {check.name for check in graph.asset_check_keys}
    assert "unique_shop_daily_revenue_order_date" in checks  # dbt tests are asset checks
    assert {spec.name for spec in CHECK_SPECS} <= checks
    assert all(spec.blocking for spec in CHECK_SPECS)


def test_job_selects_every_materializable_shop_asset(repository):
    job = repository.get_job("ecommerce_daily_batch")
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {
        "shop/raw_orders",
        "shop/clean_orders",
        "shop/quarantine",
        "shop/fact_orders",
        "shop/shop_top_products",
    } <= selected
    assert "shop/landing_orders_csv" not in selected


def test_star_schema_checks_find_each_violation():
    conn = duckdb.connect()
    conn.execute("CREATE TABLE dim_users AS SELECT * FROM (VALUES ('u1'), ('u1')) t(user_id)")
    conn.execute(
        "CREATE TABLE dim_products AS SELECT * FROM (VALUES ('p1', 5.00), ('p2', -1.00)) t(product_id, price)"
    )
    conn.execute("CREATE TABLE dim_date AS SELECT 20260101 AS date_key")
    conn.execute(
        "CREATE TABLE fact_orders AS SELECT * FROM (VALUES "
        "('o1', DATE '2026-01-01', 20260101, 'u1', 'p1', 5.00, 5.00), "
        "('o1', DATE '2026-01-01', 20260101, 'u1', 'p1', 5.00, -5.00), "
        "('o2', DATE '2026-01-01', 20260101, 'u9', 'p1', 5.00, 5.00)) "
        "t(order_id, order_date, date_key, user_id, product_id, unit_price, total_amount)"
    )
    results = {
        r.check_name: r for r in evaluate_checks(lambda sql, p: conn.execute(sql, p).fetchone(), "2026-01-01")
    }
    assert results["fact_orders_has_rows"].passed
    assert not results["fact_orders_no_negative_amounts"].passed
    assert not results["fact_orders_unique_order_id"].passed
    assert results["fact_orders_referential_integrity"].metadata["failing_rows"].value == 1
    assert not results["dim_products_positive_price"].passed
    assert not results["dim_users_unique_user_id"].passed
    assert results["dim_date_unique_date_key"].passed
    empty_day = {
        r.check_name: r for r in evaluate_checks(lambda sql, p: conn.execute(sql, p).fetchone(), "2026-01-02")
    }
    assert not empty_day["fact_orders_has_rows"].passed
    assert all(r.severity == dg.AssetCheckSeverity.ERROR for r in results.values())


def test_header_check_names_the_file():
    check_header(b"order_id,user_id,product_id,quantity,total_amount,order_ts\n", "orders", "Orders.csv")
    with pytest.raises(ValueError, match="Orders.csv: header 'order_id,user_id' is not the orders contract"):
        check_header(b"order_id,user_id\n", "orders", "Orders.csv")


def test_days_between_is_inclusive():
    assert days_between(dt.date(2026, 1, 30), dt.date(2026, 2, 1)) == [
        dt.date(2026, 1, 30),
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 1),
    ]


def test_dbt_environment_is_restored_after_a_dbt_call(tmp_path, monkeypatch):
    import os

    from shopflow_assets.resources.warehouse import dbt_environment
    from shopflow_assets.settings import Settings

    monkeypatch.delenv("SHOPFLOW_DUCKDB_PATH", raising=False)
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://example.invalid:9000")
    settings = Settings(_env_file=None, SHOPFLOW_HOME=str(tmp_path))
    with dbt_environment(settings):
        assert os.environ["SHOPFLOW_DUCKDB_PATH"] == str(tmp_path / "warehouse.duckdb")
        assert os.environ["SHOPFLOW_DUCKDB_EXTENSION_DIR"] == str(tmp_path / "duckdb_extensions")
    assert "SHOPFLOW_DUCKDB_PATH" not in os.environ
    assert os.environ["S3_ENDPOINT_URL"] == "http://example.invalid:9000"
