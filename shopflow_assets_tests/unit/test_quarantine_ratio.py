"""The silver quarantine-ratio check: a run quarantining more than the set share fails at silver, naming
the main rule, its column and three raw sample values from bronze (the export whose every timestamp had
an unknown shape used to pass silver and fail three layers later at gold)."""

from __future__ import annotations

import dagster as dg
import pytest

from shopflow_assets.contracts.marketplace import INGESTION_TS, ORDERS
from shopflow_assets.domains.marketplace.quarantine_ratio import (
    quarantine_ratio_result,
    ratio_verdict,
    rule_column,
)
from shopflow_assets.domains.marketplace.transforms import split_valid, typed_with_reasons
from shopflow_assets.resources.spark import get_spark_session

pytestmark = pytest.mark.unit


def test_rule_column_and_verdict():
    columns = ORDERS.columns
    assert rule_column("unparseable_order_purchase_timestamp", columns) == "order_purchase_timestamp"
    assert rule_column("missing_key_order_id", columns) == "order_id"
    assert rule_column("missing_ingestion_timestamp", columns) is None
    assert ratio_verdict(100, 20, 0.2) == (True, 0.2)
    assert ratio_verdict(100, 21, 0.2) == (False, 0.21)
    assert ratio_verdict(0, 0, 0.2) == (True, 0.0)


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


def test_a_mostly_quarantined_batch_fails_naming_rule_column_and_samples(spark):
    columns = [*ORDERS.columns, INGESTION_TS]
    stamps = ["02.10.2017 10:56", "03.10.2017 11:00", "04.10.2017 12:00", "2017-10-05 09:00:00"]
    rows = []
    for i, stamp in enumerate(stamps):
        row = dict.fromkeys(columns)
        row.update(
            order_id=f"o{i}", customer_id="c", order_status="delivered", order_purchase_timestamp=stamp
        )
        row.update(
            order_estimated_delivery_date="2017-10-20 00:00:00", **{INGESTION_TS: "2024-01-01T00:00:00Z"}
        )
        rows.append(tuple(row[c] for c in columns))
    bronze = spark.createDataFrame(rows, ", ".join(f"`{c}` string" for c in columns))
    valid, quarantined = split_valid(typed_with_reasons(bronze, ORDERS))
    counts = {"input": 4, "quarantined": quarantined.count()}
    result = quarantine_ratio_result(
        dg.AssetKey(["m", "silver_orders"]), ORDERS, counts, quarantined, bronze, 0.2
    )
    assert not result.passed
    meta = {k: v.value for k, v in result.metadata.items()}
    assert meta["quarantined"] == 3 and meta["share"] == 0.75
    assert meta["rule"] == "unparseable_order_purchase_timestamp"
    assert meta["column"] == "order_purchase_timestamp"
    assert sorted(meta["samples"]) == sorted(stamps[:3])
    assert "75% of silver_orders input quarantined" in result.description
    fine = quarantine_ratio_result(
        dg.AssetKey(["m", "silver_orders"]), ORDERS, {"input": 4, "quarantined": 0}, None, bronze, 0.2
    )
    assert fine.passed
