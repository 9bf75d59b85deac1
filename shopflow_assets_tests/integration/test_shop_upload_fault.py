"""MinIO stops while a shop day is being uploaded to the raw layer: the day's Users.csv is stored, then the
store goes away. The run fails with a clear error naming the store (it does not hang); with MinIO back,
the next run stores the rest, leaves the stored object as it was, and the cleaned tables account for every
row: input = loaded + quarantined, equal to the generator's counts.

The store that stops is a MinIO of this test's own (support/isolated_stack.py: a free port, a temporary
SHOPFLOW_HOME), never the shared one other tests use. Still the slow tier: fault injection
(docs/testing.md). Day 2025-08-17 belongs to this test (its raw, staging and quarantine objects are removed
before and after).
"""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg
import pytest

from shopflow_assets import devstack
from shopflow_assets.contracts.shop import RAW_FILE_NAMES, SHOP_DATASETS
from shopflow_assets.datagen.shop import generate_shop_day
from shopflow_assets.domains.shop.assets import PARQUET_IO, shop_cleaned_tables, shop_raw_objects
from shopflow_assets.domains.shop.transforms import raw_object_key
from shopflow_assets.io_managers import PanderaParquetIOManager
from shopflow_assets.resources import build_resources
from shopflow_assets.resources.lake import LakeResource, build_lake
from shopflow_assets.settings import reload_settings
from shopflow_assets_tests.support.isolated_stack import isolated_stack
from shopflow_assets_tests.support.shop import forget_day as _forget_day

pytestmark = pytest.mark.slow

DAY = dt.date(2025, 8, 17)


@pytest.fixture
def stack():
    """MinIO of this test's own; the test process's Spark (the cleaning step) reads it."""
    with isolated_stack(["minio"], spark=True, prefix="shopflow-shopfault-") as stack:
        yield stack


def _materialize(assets, settings):
    # the shop domain's own IO manager for the cleaned tables, as its definitions wire it
    resources = build_resources(settings) | {
        PARQUET_IO: PanderaParquetIOManager(lake=LakeResource(), bucket="staging")
    }
    return dg.materialize(assets, partition_key=DAY.isoformat(), resources=resources, raise_on_error=False)


def _metadata(result, key_suffix: str) -> dict:
    for event in result.get_asset_materialization_events():
        if event.asset_key.path[-1] == key_suffix:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    raise AssertionError(f"no materialization of {key_suffix}")


def test_minio_stopped_mid_upload_then_the_next_run_loads_every_row_once(stack, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPFLOW_ENV", "docker")
    monkeypatch.setenv("SHOPFLOW_SHOP_LANDING_DIR", str(tmp_path / "incoming"))
    monkeypatch.setenv("LAKE_RETRY_ATTEMPTS", "2")
    settings = reload_settings()
    assert settings.home == stack.home  # the MinIO stopped below is this test's own
    if not settings.aws_access_key_id:
        pytest.fail("no service credentials in settings: the isolated MinIO generated none")
    lake = build_lake(settings)
    _forget_day(lake, DAY)
    landing = settings.shop_landing_root / DAY.isoformat()
    manifest = generate_shop_day(DAY, landing, orders=300, seed=5)
    try:
        # the upload got as far as the first file, then the store went away
        users_bytes = (landing / RAW_FILE_NAMES["users"]).read_bytes()
        assert lake.put_if_absent("raw-data", raw_object_key(DAY, "users"), users_bytes)
        devstack.down(["minio"], settings, devstack.quiet_reporter())
        try:
            started = time.monotonic()
            failed = _materialize([shop_raw_objects], settings)
            failed_after = time.monotonic() - started
        finally:
            devstack.up(["minio"], settings, devstack.quiet_reporter())
        assert not failed.success and failed_after < 120  # a failure, not a hang
        errors = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        assert errors and settings.s3_endpoint_url.split("//")[-1] in str(errors[0].event_specific_data.error)

        result = _materialize([shop_raw_objects, shop_cleaned_tables], settings)
        assert result.success
        statuses = {ds: _metadata(result, f"raw_{ds}")["status"] for ds in SHOP_DATASETS}
        assert statuses["users"].startswith("unchanged") and statuses["products"] == "uploaded"
        assert statuses["orders"] == "uploaded"
        for dataset in SHOP_DATASETS:  # exactly the landing bytes, one object per file
            stored = lake.get_bytes("raw-data", raw_object_key(DAY, dataset))
            assert stored == (landing / RAW_FILE_NAMES[dataset]).read_bytes()
        assert len(lake.list_keys("raw-data", f"{DAY:%Y/%m/%d}/")) == len(SHOP_DATASETS)

        for dataset in SHOP_DATASETS:
            counts = _metadata(result, f"clean_{dataset}")
            file_rows = manifest.files[RAW_FILE_NAMES[dataset]].rows
            assert counts["records_in"] == file_rows
            assert counts["records_in"] == counts["records_loaded"] + counts["records_quarantined"]
            assert counts["records_quarantined"] == len(manifest.dirty_rows_of(RAW_FILE_NAMES[dataset]))
    finally:
        _forget_day(build_lake(settings), DAY)
        reload_settings()
