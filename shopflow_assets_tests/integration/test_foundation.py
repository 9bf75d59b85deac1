"""The foundation against the real services of `shopflow services up` (Kafka, MinIO, PostgreSQL).

Credentials come from settings (generated.env); nothing is mocked. Every test writes under a fresh
prefix or topic, so reruns and parallel runs do not see each other's data.
"""

from __future__ import annotations

import socket
import uuid
from decimal import Decimal

import pytest

from shopflow_assets.devstack.health import ServiceUnavailableError
from shopflow_assets.devstack.minio import s3_client
from shopflow_assets.resources.kafka import (
    KafkaResource,
    end_offsets,
    kafka_client_config,
    spark_kafka_options,
)
from shopflow_assets.resources.lake import LakeConflictError, LakeUnavailableError, S3Lake, build_lake
from shopflow_assets.resources.postgres import PostgresResource, connect_postgres, spark_jdbc_options
from shopflow_assets.resources.spark import get_spark_session
from shopflow_assets.resources.warehouse import connect_warehouse

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def s3_settings(settings):
    return settings.model_copy(update={"env": "docker"})


@pytest.fixture(scope="module")
def spark(settings):
    return get_spark_session(settings)


@pytest.fixture
def run_id(s3_settings):
    run_id = uuid.uuid4().hex[:12]
    yield run_id
    # Test objects must not linger where sensors look for new files; the lake itself never deletes, and
    # the pipeline key may not delete from versioned raw-data: the root key removes every version.
    root = s3_client(s3_settings, root=True)
    for bucket in ("raw-data", "staging", "lakehouse"):
        listing = root.list_object_versions(Bucket=bucket, Prefix=f"_tests/{run_id}/")
        for version in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
            # raw-data is under a governance lock that only root's explicit bypass lifts
            root.delete_object(
                Bucket=bucket,
                Key=version["Key"],
                VersionId=version["VersionId"],
                BypassGovernanceRetention=True,
            )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Kafka -> Spark -----------------------------------------------------------------------------


def test_message_produced_with_confluent_kafka_is_read_back_by_spark(settings, spark, run_id):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"shopflow_test_{run_id}"
    admin = AdminClient(kafka_client_config(settings, "admin"))
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
    try:
        messages = [
            (b"user-1", b'{"page": "/home", "user_id": 1}'),
            (b"user-2", b'{"page": "/cart", "user_id": 2}'),
            (b"user-1", '{"page": "/caf\u00e9", "user_id": 1}'.encode()),
        ]
        producer = Producer(kafka_client_config(settings, "producer"))
        for key, value in messages:
            producer.produce(topic, key=key, value=value)
        assert producer.flush(30) == 0

        assert end_offsets(settings, topic) == {0: 3}
        assert KafkaResource().end_offsets(topic) == {0: 3}

        rows = (
            spark.read.format("kafka")
            .options(**spark_kafka_options(settings))
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .option("endingOffsets", "latest")
            .load()
            .orderBy("offset")
            .select("key", "value", "partition", "offset")
            .collect()
        )
        assert [(bytes(r.key), bytes(r.value)) for r in rows] == messages
        assert [(r.partition, r.offset) for r in rows] == [(0, 0), (0, 1), (0, 2)]
        # Reading offsets consumed nothing and committed nothing: the watermark is unchanged.
        assert end_offsets(settings, topic) == {0: 3}
    finally:
        admin.delete_topics([topic])[topic].result(timeout=30)


# --- Spark -> MinIO (Delta, Parquet) -> DuckDB ---------------------------------------------------


def test_spark_writes_delta_on_minio_and_duckdb_reads_the_same_table(s3_settings, spark, run_id, tmp_path):
    from pyspark.sql import functions as F

    lake = build_lake(s3_settings)
    key = f"_tests/{run_id}/silver/orders"
    orders = spark.range(3_000).select(
        F.col("id").alias("order_id"),
        (F.col("id") % 7).alias("seller_id"),
        (F.col("id") * 13 % 5000 / 100).cast("decimal(12,2)").alias("amount"),
    )
    orders.write.format("delta").partitionBy("seller_id").save(lake.spark_uri("lakehouse", key))
    assert lake.spark_uri("lakehouse", key).startswith("s3a://lakehouse/")

    expected = (
        spark.read.format("delta")
        .load(lake.spark_uri("lakehouse", key))
        .agg(F.count("*"), F.sum("amount"), F.countDistinct("seller_id"))
        .first()
    )
    assert expected[0] == 3_000
    assert any(k.startswith(f"{key}/_delta_log/") for k in lake.list_keys("lakehouse", f"{key}/"))

    warehouse_settings = s3_settings.model_copy(update={"duckdb_path": tmp_path / "warehouse.duckdb"})
    with connect_warehouse(warehouse_settings) as duck:
        actual = duck.execute(
            "select count(*), sum(amount), count(distinct seller_id) "
            f"from delta_scan('{lake.duckdb_uri('lakehouse', key)}')"
        ).fetchone()
    assert actual == (3_000, expected[1], 7)
    assert isinstance(actual[1], Decimal)


def test_spark_parquet_on_minio_is_read_by_duckdb_httpfs(s3_settings, spark, run_id, tmp_path):
    from pyspark.sql import functions as F

    lake = build_lake(s3_settings)
    key = f"_tests/{run_id}/orders"
    frame = spark.range(1_000).select(F.col("id"), (F.col("id") * 2).alias("doubled"))
    frame.write.parquet(lake.spark_uri("staging", key))
    warehouse_settings = s3_settings.model_copy(update={"duckdb_path": tmp_path / "warehouse.duckdb"})
    with connect_warehouse(warehouse_settings) as duck:
        count, total = duck.execute(
            f"select count(*), sum(doubled) from read_parquet('{lake.duckdb_uri('staging', key)}/*.parquet')"
        ).fetchone()
    assert (count, total) == (1_000, 999_000)


# --- the lake's S3 backend ---------------------------------------------------------------------


def test_s3_lake_put_if_absent_and_listing_on_minio(s3_settings, run_id):
    lake = build_lake(s3_settings)
    assert isinstance(lake, S3Lake)
    prefix = f"_tests/{run_id}/2024/01/01/"
    assert lake.put_if_absent("raw-data", prefix + "Users.csv", b"user_id,name\n1,Ada\n") is True
    assert lake.put_if_absent("raw-data", prefix + "Users.csv", b"user_id,name\n1,Ada\n") is False
    with pytest.raises(LakeConflictError, match=rf"S3 store at .*raw-data/{prefix}Users\.csv already exists"):
        lake.put_if_absent("raw-data", prefix + "Users.csv", b"user_id,name\n1,Bob\n")
    assert lake.get_bytes("raw-data", prefix + "Users.csv") == b"user_id,name\n1,Ada\n"

    lake.put_bytes("raw-data", prefix + "Orders.csv", b"order_id\n1\n")
    lake.put_bytes("raw-data", f"_tests/{run_id}/2024/01/02/Users.csv", b"x")
    assert lake.list_keys("raw-data", prefix) == [prefix + "Orders.csv", prefix + "Users.csv"]
    assert len(lake.list_keys("raw-data", f"_tests/{run_id}/")) == 3
    assert lake.list_keys("raw-data", prefix + "U") == [prefix + "Users.csv"]
    assert lake.exists("raw-data", prefix + "Orders.csv") is True
    assert lake.exists("raw-data", prefix + "Products.csv") is False


def test_lake_retries_an_unreachable_endpoint_then_fails_clearly(s3_settings):
    port = _closed_port()
    lake = S3Lake(
        f"http://127.0.0.1:{port}",
        s3_settings.aws_access_key_id,
        s3_settings.secret("aws_secret_access_key"),
        retry_attempts=3,
        connect_timeout=1,
    )
    sends: list[str] = []
    lake.client.meta.events.register("before-send.s3.PutObject", lambda **_: sends.append("put"))
    with pytest.raises(LakeUnavailableError) as excinfo:
        lake.put_if_absent("raw-data", "2024/01/01/Users.csv", b"x")
    message = str(excinfo.value)
    assert f"S3 store at http://127.0.0.1:{port}" in message
    assert "raw-data/2024/01/01/Users.csv" in message
    assert "after 3 attempts" in message
    assert len(sends) == 3  # botocore's standard mode made every attempt


# --- PostgreSQL --------------------------------------------------------------------------------


def test_postgres_query_round_trips(settings, run_id):
    table = f"shopflow_test_{run_id}"
    with PostgresResource().connect() as conn:
        assert conn.execute("select %s::int + 1, current_database()", (41,)).fetchone() == (
            42,
            settings.postgres_db,
        )
        conn.execute(f"create temporary table {table} (id int primary key, amount numeric(12,2))")
        conn.execute(f"insert into {table} values (1, 10.25), (2, 4.75)")
        assert conn.execute(f"select count(*), sum(amount) from {table}").fetchone() == (2, Decimal("15.00"))


def test_spark_reads_postgres_through_jdbc(settings, spark, run_id):
    table = f"shopflow_test_{run_id}"
    with connect_postgres(settings, autocommit=True) as conn:
        conn.execute(f"create table {table} (id int primary key, amount numeric(12,2))")
        conn.execute(f"insert into {table} select g, g * 1.5 from generate_series(1, 100) g")
    try:
        frame = spark.read.format("jdbc").options(**spark_jdbc_options(settings, table)).load()
        row = frame.selectExpr("count(*) as n", "sum(amount) as total").first()
        assert (row.n, row.total) == (100, Decimal("7575.00"))
    finally:
        with connect_postgres(settings, autocommit=True) as conn:
            conn.execute(f"drop table {table}")


# --- stopped services --------------------------------------------------------------------------


def test_stopped_kafka_names_the_service_and_address(settings):
    port = _closed_port()
    stopped = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{port}"})
    with pytest.raises(ServiceUnavailableError) as excinfo:
        end_offsets(stopped, "clicks_topic")
    assert excinfo.value.service == "Kafka"
    assert str(excinfo.value).startswith(f"Kafka is not reachable at 127.0.0.1:{port}")


def test_stopped_postgres_names_the_service_and_address(settings):
    port = _closed_port()
    stopped = settings.model_copy(update={"postgres_port": port})
    with pytest.raises(ServiceUnavailableError) as excinfo, connect_postgres(stopped):
        pass
    assert str(excinfo.value).startswith(f"PostgreSQL is not reachable at 127.0.0.1:{port}")
