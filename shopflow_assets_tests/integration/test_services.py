"""The shared native stack (default ports) answers real requests and reports itself healthy."""

import time
import uuid

import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from shopflow_assets import devstack
from shopflow_assets.devstack.minio import s3_client
from shopflow_assets.devstack.process import is_running
from shopflow_assets.settings import BUCKETS, reload_settings

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def settings():
    # Starts whatever is not running (fast when `shopflow services up` already ran); never stops it.
    # Settings re-read first, so no earlier test's cached settings can point this at another stack.
    settings = reload_settings()
    devstack.up(settings=settings, reporter=devstack.quiet_reporter())
    return reload_settings()


def test_kafka_answers_metadata_and_carries_a_message(settings):
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    metadata = admin.list_topics(timeout=10)
    assert [broker.id for broker in metadata.brokers.values()] == [1]

    topic = f"devstack-test-{uuid.uuid4().hex[:8]}"
    payload = uuid.uuid4().bytes
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    producer.produce(topic, value=payload, key=b"k")  # auto-created on first write
    assert producer.flush(15) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": topic,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    received = []
    deadline = time.monotonic() + 30
    try:
        while not received and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                received.append(message.value())
    finally:
        consumer.close()
    assert received == [payload]
    admin.delete_topics([topic])


def test_minio_has_all_six_buckets_and_stores_objects(settings):
    client = s3_client(settings)
    names = {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}
    assert set(BUCKETS) <= names
    assert len(BUCKETS) == 6

    key = f"devstack-test/{uuid.uuid4().hex}.txt"
    client.put_object(Bucket="quarantine", Key=key, Body=b"hello lake")
    try:
        assert client.get_object(Bucket="quarantine", Key=key)["Body"].read() == b"hello lake"
    finally:
        client.delete_object(Bucket="quarantine", Key=key)
    # Creating them again is a no-op.
    assert devstack.ensure_buckets(settings) == []


def test_minio_rejects_wrong_credentials(settings):
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.secret("aws_access_key_id"),
        aws_secret_access_key="not-the-secret",
        region_name=settings.aws_region,
    )
    with pytest.raises(ClientError):
        client.list_buckets()


def test_postgres_answers_select_1_with_password_auth(settings):
    with psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=settings.postgres_user,
        password=settings.secret("postgres_password"),
        connect_timeout=5,
    ) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        assert conn.execute("select current_user, current_database()").fetchone() == (
            settings.postgres_user,
            settings.postgres_db,
        )
        assert conn.execute("show listen_addresses").fetchone() == (settings.postgres_host,)
        assert conn.execute("show password_encryption").fetchone() == ("scram-sha-256",)


def test_postgres_rejects_a_wrong_password(settings):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=settings.postgres_host,
            port=settings.postgres_port,
            dbname=settings.postgres_db,
            user=settings.postgres_user,
            password="wrong-password",
            connect_timeout=5,
        )


def test_status_reports_every_service_running_with_its_address(settings):
    statuses = {item.name: item for item in devstack.status()}
    assert set(statuses) == {"kafka", "spark-connect", "minio", "postgres"}
    for item in statuses.values():
        assert item.state == "running", item
        assert item.pid is not None and is_running(item.pid)
    assert statuses["kafka"].address == settings.kafka_bootstrap_servers
    assert statuses["minio"].address == settings.s3_endpoint_url.rstrip("/")
    assert statuses["postgres"].address == f"{settings.postgres_host}:{settings.postgres_port}"
    assert statuses["spark-connect"].address == f"sc://127.0.0.1:{settings.spark_connect_port}"
