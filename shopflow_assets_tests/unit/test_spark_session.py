"""A local SparkSession writes Delta and Parquet; DuckDB (offline delta extension) reads the same numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shopflow_assets.resources.spark import get_spark_session
from shopflow_assets.resources.warehouse import connect_warehouse
from shopflow_assets.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def spark():
    return get_spark_session()


@pytest.fixture
def warehouse_settings(tmp_path):
    return Settings(_env_file=None, SHOPFLOW_HOME=str(tmp_path / "home"))


def _orders(spark, n: int = 2_000):
    from pyspark.sql import functions as F

    return spark.range(n).select(
        F.col("id").alias("order_id"),
        (F.col("id") % 37).alias("user_id"),
        # cents as decimal(12,2): sums must agree to the cent in both engines
        (F.col("id") * 7 % 1000 / 100 + 1).cast("decimal(12,2)").alias("amount"),
        (F.col("id") % 5 == 0).alias("is_returned"),
        F.date_add(F.lit(dt.date(2024, 1, 1)), (F.col("id") % 3).cast("int")).alias("order_date"),
    )


def test_session_is_reused_with_the_project_settings(spark):
    assert get_spark_session() is spark
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"
    assert spark.sparkContext.master.startswith("local")
    assert spark.sparkContext.uiWebUrl is None  # UI off


def test_runtime_settings_apply_to_the_running_session_and_static_ones_refuse(spark):
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        assert get_spark_session(extra_conf={"spark.sql.shuffle.partitions": "3"}) is spark
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous)
    with pytest.raises(
        RuntimeError, match=r"spark\.driver\.memory=1g can only be set when the session starts"
    ):
        get_spark_session(extra_conf={"spark.driver.memory": "1g"})


def test_duckdb_reads_the_delta_table_spark_wrote(spark, tmp_path, warehouse_settings):
    from pyspark.sql import functions as F

    path = tmp_path / "lake" / "lakehouse" / "silver" / "orders"
    orders = _orders(spark)
    orders.write.format("delta").partitionBy("order_date").save(f"file://{path}")
    # A second commit, so DuckDB must replay the log rather than read one snapshot file.
    _orders(spark, 10).withColumn("order_id", F.col("order_id") + 1_000_000).write.format("delta").mode(
        "append"
    ).save(f"file://{path}")

    expected = (
        spark.read.format("delta")
        .load(f"file://{path}")
        .agg(
            F.count("*"),
            F.sum("amount"),
            F.sum(F.col("is_returned").cast("int")),
            F.countDistinct("order_date"),
        )
        .first()
    )
    assert expected[0] == 2_010
    with connect_warehouse(warehouse_settings) as duck:
        actual = duck.execute(
            "select count(*), sum(amount), sum(is_returned::int), count(distinct order_date) "
            f"from delta_scan('{path}')"
        ).fetchone()
        per_day = duck.execute(
            f"select order_date, count(*) from delta_scan('{path}') group by 1 order by 1"
        ).fetchall()
    assert actual == (2_010, expected[1], expected[2], 3)
    assert isinstance(actual[1], Decimal)
    assert per_day == [(dt.date(2024, 1, 1), 671), (dt.date(2024, 1, 2), 670), (dt.date(2024, 1, 3), 669)]


def test_duckdb_reads_the_parquet_spark_wrote(spark, tmp_path, warehouse_settings):
    from pyspark.sql import functions as F

    path = tmp_path / "staging" / "orders"
    orders = _orders(spark, 500)
    orders.write.parquet(f"file://{path}")
    expected_total = orders.agg(F.sum("amount")).first()[0]
    with connect_warehouse(warehouse_settings) as duck:
        count, total = duck.execute(
            f"select count(*), sum(amount) from read_parquet('{path}/*.parquet')"
        ).fetchone()
    assert (count, total) == (500, expected_total)
