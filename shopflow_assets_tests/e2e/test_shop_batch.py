"""The shop daily batch end to end on the real stack: MinIO (S3), Spark, DuckDB and dbt.

Runs job `ecommerce_daily_batch` with SHOPFLOW_ENV=docker against `shopflow services up`. Days
2025-06-01 and 2025-06-02 belong to this test: their raw, staging and quarantine objects are removed
before it starts, so every run begins from an empty lake for those days.
"""

import csv
import datetime as dt
import hashlib
import io
from decimal import Decimal

import pandas as pd
import pytest

from shopflow_assets.datagen.shop import ShopManifest, generate_shop_day
from shopflow_assets.domains.shop.definitions import run_days
from shopflow_assets.domains.shop.transforms import raw_object_key
from shopflow_assets.resources.lake import build_lake
from shopflow_assets.resources.warehouse import connect_warehouse
from shopflow_assets.settings import get_settings, reload_settings
from shopflow_assets_tests.support.shop import forget_day as _forget_day

pytestmark = pytest.mark.stack

DAY = dt.date(2025, 6, 1)
EMPTY_DAY = dt.date(2025, 6, 2)
GOLD = ("shop_daily_revenue", "shop_revenue_by_country", "shop_revenue_by_category", "shop_top_products")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("shop_e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHOPFLOW_ENV", "docker")
        mp.setenv("SHOPFLOW_DUCKDB_PATH", str(base / "warehouse.duckdb"))
        mp.setenv("SHOPFLOW_SHOP_LANDING_DIR", str(base / "incoming"))
        settings = reload_settings()
        if not settings.aws_access_key_id or settings.aws_secret_access_key is None:
            pytest.fail("no S3 credentials in settings: run `uv run shopflow services up` first")
        lake = build_lake(settings)
        try:
            lake.list_keys("raw-data", "0000/")
        except Exception as exc:  # a clear failure, not a skip: e2e tests need the stack
            pytest.fail(f"MinIO is not usable ({exc}): run `uv run shopflow services up` first")
        for day in (DAY, EMPTY_DAY):
            _forget_day(lake, day)
        manifest = generate_shop_day(DAY, settings.shop_landing_root / DAY.isoformat(), orders=4000, seed=11)
        (first,) = run_days([DAY], raise_on_error=False, log_level="WARNING")
        yield {"settings": settings, "lake": lake, "manifest": manifest, "first_run": first, "mp": mp}
        for day in (DAY, EMPTY_DAY):
            _forget_day(lake, day)
    reload_settings()


def _independent_clean_revenue(settings, manifest: ShopManifest) -> Decimal:
    """Σ total_amount of Orders.csv rows the manifest does not list as dirty, read with the csv module."""
    dirty = {row.row for row in manifest.dirty_rows_of("Orders.csv")}
    path = settings.shop_landing_root / DAY.isoformat() / "Orders.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return sum(
        (Decimal(r["total_amount"]) for n, r in enumerate(rows, start=1) if n not in dirty), Decimal(0)
    )


def _metadata(result, asset: str) -> dict:
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == f"shop/{asset}"
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _warehouse_snapshot(settings) -> dict:
    with connect_warehouse(settings, read_only=True) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for table in ("fact_orders", "dim_users", "dim_products", "dim_date", *GOLD)
        }


def test_the_day_runs_green_and_lands_in_every_layer(stack):
    result, lake = stack["first_run"], stack["lake"]
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    for dataset, name in (("users", "Users.csv"), ("products", "Products.csv"), ("orders", "Orders.csv")):
        landed = (stack["settings"].shop_landing_root / DAY.isoformat() / name).read_bytes()
        assert lake.get_bytes("raw-data", raw_object_key(DAY, dataset)) == landed
    staged = lake.get_bytes("staging", "shop/clean_orders/date=2025-06-01/part-0.parquet")
    assert len(pd.read_parquet(io.BytesIO(staged))) == stack["manifest"].files["Orders.csv"].clean_rows


def test_revenue_in_fact_orders_equals_the_generators_clean_rows(stack):
    settings, manifest = stack["settings"], stack["manifest"]
    expected = _independent_clean_revenue(settings, manifest)
    assert expected == Decimal(manifest.expected_revenue_cents) / 100
    with connect_warehouse(settings, read_only=True) as conn:
        revenue, orders = conn.execute(
            "SELECT sum(total_amount), count(*) FROM fact_orders WHERE order_date = ?", [DAY]
        ).fetchone()
        gold = conn.execute(
            "SELECT revenue, orders FROM shop_daily_revenue WHERE order_date = ?", [DAY]
        ).fetchone()
        by_country = conn.execute(
            "SELECT sum(revenue) FROM shop_revenue_by_country WHERE order_date = ?", [DAY]
        ).fetchone()
    assert revenue == expected  # DECIMAL(12,2): exact, not approximately
    assert orders == manifest.files["Orders.csv"].clean_rows
    assert gold == (expected, orders)
    assert by_country == (expected,)


def test_dirty_rows_land_in_quarantine_with_their_rule(stack):
    lake, manifest, result = stack["lake"], stack["manifest"], stack["first_run"]
    data = lake.get_bytes("quarantine", "shop/quarantine/date=2025-06-01/part-0.parquet")
    quarantine = pd.read_parquet(io.BytesIO(data))
    files = {"Users.csv": "users", "Products.csv": "products", "Orders.csv": "orders"}
    expected = {(files[r.file], r.row, r.id, r.rule) for r in manifest.dirty_rows}
    got = set(
        zip(quarantine.dataset, quarantine.row_number, quarantine.record_id, quarantine.rule, strict=True)
    )
    assert got == expected and len(quarantine) == len(expected)
    assert quarantine["detail"].str.len().min() > 0
    assert set(quarantine["source"]) == {
        f"s3://raw-data/2025/06/01/{d}.csv" for d in ("users", "products", "orders")
    }
    for dataset, name in files.items():
        counts = _metadata(result, f"clean_{name}")
        assert counts["records_in"] == counts["records_loaded"] + counts["records_quarantined"]
        assert counts["records_quarantined"] == len(manifest.dirty_rows_of(dataset))


def test_a_rerun_changes_nothing(stack):
    settings, lake = stack["settings"], stack["lake"]
    raw_before = {
        d: hashlib.sha256(lake.get_bytes("raw-data", raw_object_key(DAY, d))).hexdigest()
        for d in ("users", "products", "orders")
    }
    warehouse_before = _warehouse_snapshot(settings)
    (rerun,) = run_days([DAY], raise_on_error=False, log_level="WARNING")
    assert rerun.success
    assert _metadata(rerun, "raw_orders")["status"].startswith("unchanged")
    raw_after = {
        d: hashlib.sha256(lake.get_bytes("raw-data", raw_object_key(DAY, d))).hexdigest() for d in raw_before
    }
    assert raw_after == raw_before
    assert _warehouse_snapshot(settings) == warehouse_before


def test_different_content_for_a_stored_day_fails_loudly(stack):
    settings, lake = stack["settings"], stack["lake"]
    path = settings.shop_landing_root / DAY.isoformat() / "Orders.csv"
    original = path.read_bytes()
    stored = lake.get_bytes("raw-data", raw_object_key(DAY, "orders"))
    try:
        path.write_bytes(original + b"ord-extra,usr1,prd1,1,1.00,2025-06-01T23:59:00Z\n")
        (result,) = run_days([DAY], raise_on_error=False, log_level="CRITICAL")
    finally:
        path.write_bytes(original)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "differs from the raw object already stored for 2025-06-01" in failure.message or (
        "differs from the raw object already stored" in str(failure.event_specific_data.error)
    )
    assert lake.get_bytes("raw-data", raw_object_key(DAY, "orders")) == stored


def test_an_unreachable_store_is_retried_then_fails_clearly(stack):
    mp = stack["mp"]
    with pytest.MonkeyPatch.context() as local:
        local.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
        local.setenv("LAKE_RETRY_ATTEMPTS", "3")
        reload_settings()
        try:
            (result,) = run_days([DAY], raise_on_error=False, log_level="CRITICAL")
        finally:
            local.undo()
            reload_settings()
    assert mp is not None
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = str(failure.event_specific_data.error)
    assert "S3 store at http://127.0.0.1:9" in error
    assert "failed after 3 attempts (botocore standard retry mode)" in error
    assert not any(
        e.asset_key.to_user_string() == "shop/fact_orders" for e in result.get_asset_materialization_events()
    )


def test_a_failed_blocking_check_stops_the_gold_models(stack):
    settings = get_settings()
    out_dir = settings.shop_landing_root / EMPTY_DAY.isoformat()
    generate_shop_day(EMPTY_DAY, out_dir, orders=200, seed=3)
    (out_dir / "Orders.csv").write_text("order_id,user_id,product_id,quantity,total_amount,order_ts\n")
    (result,) = run_days([EMPTY_DAY], raise_on_error=False, log_level="CRITICAL")
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {"fact_orders_has_rows"}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "shop/fact_orders" in materialized
    assert not materialized & {f"shop/{gold}" for gold in GOLD}
    with connect_warehouse(settings, read_only=True) as conn:
        assert conn.execute(
            "SELECT count(*) FROM shop_daily_revenue WHERE order_date = ?", [EMPTY_DAY]
        ).fetchone() == (0,)
