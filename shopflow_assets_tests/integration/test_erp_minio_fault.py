"""The ERP flow when MinIO stops mid run: no watermark moves, and the next run delivers exactly the missed
rows.

The ERP source, warehouse and lake are on a PostgreSQL and a MinIO of this module's own
(support/isolated_stack.py: free ports, a temporary SHOPFLOW_HOME), so stopping MinIO never touches the
shared stack other tests use. Still the slow tier: fault injection (docs/testing.md); the rest of the ERP
flow is in test_erp_flow.py (stack tier).
"""

from __future__ import annotations

import pytest

from shopflow_assets import devstack
from shopflow_assets.resources.lake import LakeError
from shopflow_assets_tests.support.erp import erp_stack, rows
from shopflow_assets_tests.support.isolated_stack import isolated_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings():
    """PostgreSQL and MinIO of this module's own."""
    with isolated_stack(["minio", "postgres"], prefix="shopflow-erpfault-") as stack:
        yield stack.settings


@pytest.fixture
def erp(settings):
    """A throw-away ERP source, warehouse and lake prefix, as for the other ERP tests, on this module's stack."""
    with erp_stack(settings) as stack:
        yield stack


def test_stopped_minio_leaves_the_watermark_and_the_next_run_delivers_exactly_the_missed_rows(erp, settings):
    erp.run()
    marks = erp.watermarks()
    with erp.source() as src:
        src.execute("UPDATE payment SET paid = NOT paid WHERE payment_id IN (1, 2, 3)")
        src.execute("UPDATE design SET design_name = 'Storm' WHERE design_id = 1")
    devstack.down(["minio"], settings, devstack.quiet_reporter())
    try:
        with pytest.raises(LakeError):
            erp.ingest()
        assert erp.watermarks() == marks  # nothing advanced
    finally:
        devstack.up(["minio"], settings, devstack.quiet_reporter())
    result = erp.ingest()
    assert {t: r.rows for t, r in result.written.items()} == {"payment": 3, "design": 1}
    erp.transform()
    erp.load()
    with erp.warehouse() as wh:
        assert rows(
            wh,
            "SELECT payment_id, count(*) FROM erp.fact_payment WHERE payment_id <= 4 GROUP BY 1 ORDER BY 1",
        ) == [(1, 2), (2, 2), (3, 2), (4, 1)]
        assert rows(wh, "SELECT design_name FROM erp.dim_design WHERE design_id = 1") == [("Storm",)]
    with erp.source() as src:
        total_versions = rows(src, "SELECT count(*) + 3 FROM payment")[0][0]
    with erp.warehouse() as wh:
        assert rows(wh, "SELECT count(*) FROM erp.fact_payment")[0][0] == total_versions
