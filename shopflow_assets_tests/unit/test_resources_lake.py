"""The lake's local backend, its path scheme, its error reporting and the S3 client's retry mode (no services)."""

from __future__ import annotations

import pytest

from shopflow_assets.resources.lake import (
    LakeConflictError,
    LakeError,
    LakeKeyNotFoundError,
    LocalLake,
    S3Lake,
    build_lake,
)
from shopflow_assets.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture
def lake(tmp_path):
    return LocalLake(tmp_path / "lake")


def test_put_if_absent_writes_once_and_accepts_identical_bytes(lake):
    assert lake.put_if_absent("raw-data", "2024/01/01/Users.csv", b"user_id\n1\n") is True
    assert lake.put_if_absent("raw-data", "2024/01/01/Users.csv", b"user_id\n1\n") is False
    assert lake.get_bytes("raw-data", "2024/01/01/Users.csv") == b"user_id\n1\n"


def test_put_if_absent_refuses_different_bytes_and_keeps_the_original(lake):
    lake.put_if_absent("raw-data", "2024/01/01/Users.csv", b"user_id\n1\n")
    with pytest.raises(LakeConflictError) as excinfo:
        lake.put_if_absent("raw-data", "2024/01/01/Users.csv", b"user_id\n2\n")
    message = str(excinfo.value)
    assert "raw-data/2024/01/01/Users.csv" in message
    assert "local lake at" in message
    assert lake.get_bytes("raw-data", "2024/01/01/Users.csv") == b"user_id\n1\n"


def test_put_file_if_absent_and_put_bytes_overwrites(lake, tmp_path):
    source = tmp_path / "Orders.csv"
    source.write_bytes(b"order_id\n7\n")
    assert lake.put_file_if_absent("raw-data", "2024/01/02/Orders.csv", source) is True
    uri = lake.put_bytes("staging", "orders/part-0.csv", b"a")
    lake.put_bytes("staging", "orders/part-0.csv", b"b")
    assert lake.get_bytes("staging", "orders/part-0.csv") == b"b"
    assert uri == str(lake.root / "staging" / "orders" / "part-0.csv")


def test_no_temporary_files_left_behind(lake):
    lake.put_if_absent("raw-data", "a/b.csv", b"1")
    lake.put_if_absent("raw-data", "a/b.csv", b"1")
    lake.put_bytes("raw-data", "a/b.csv", b"2")
    assert sorted(p.name for p in (lake.root / "raw-data" / "a").iterdir()) == ["b.csv"]


def test_listing_follows_s3_prefix_semantics(lake):
    for key in [
        "2024/01/01/Users.csv",
        "2024/01/01/Orders.csv",
        "2024/01/02/Users.csv",
        "2024/02/01/Users.csv",
    ]:
        lake.put_bytes("raw-data", key, b"x")
    lake.put_bytes("staging", "2024/01/01/other.parquet", b"x")
    assert lake.list_keys("raw-data", "2024/01/") == [
        "2024/01/01/Orders.csv",
        "2024/01/01/Users.csv",
        "2024/01/02/Users.csv",
    ]
    # A prefix may end inside a name, as on S3.
    assert lake.list_keys("raw-data", "2024/01/01/U") == ["2024/01/01/Users.csv"]
    assert lake.list_keys("raw-data", "2024/0") == lake.list_keys("raw-data")
    assert len(lake.list_keys("raw-data")) == 4
    assert lake.list_keys("raw-data", "2030/") == []
    assert lake.list_keys("events") == []  # bucket directory not created yet


def test_exists_and_missing_key(lake):
    assert lake.exists("raw-data", "nope.csv") is False
    lake.put_bytes("raw-data", "yes.csv", b"1")
    assert lake.exists("raw-data", "yes.csv") is True
    with pytest.raises(LakeKeyNotFoundError, match=r"raw-data/nope\.csv"):
        lake.get_bytes("raw-data", "nope.csv")


@pytest.mark.parametrize("key", ["/abs.csv", "a/../b.csv", "a//b.csv", ""])
def test_invalid_keys_are_rejected(lake, key):
    with pytest.raises(LakeError, match="invalid key"):
        lake.put_bytes("raw-data", key, b"1")


def test_unknown_bucket_is_rejected_with_the_bucket_list(lake):
    with pytest.raises(LakeError, match=r"unknown bucket 'rawdata'.*raw-data, staging, lakehouse"):
        lake.put_bytes("rawdata", "a.csv", b"1")


def test_uri_scheme_local(lake):
    root = lake.root
    assert lake.uri("lakehouse", "bronze/orders", "spark") == f"file://{root}/lakehouse/bronze/orders"
    assert lake.spark_uri("lakehouse", "bronze/orders") == f"file://{root}/lakehouse/bronze/orders"
    assert lake.duckdb_uri("lakehouse", "bronze/orders") == f"{root}/lakehouse/bronze/orders"
    assert lake.uri("lakehouse", "bronze/orders") == f"{root}/lakehouse/bronze/orders"
    assert lake.uri("lakehouse", engine="spark") == f"file://{root}/lakehouse"


def test_uri_scheme_s3_needs_no_network():
    lake = S3Lake("http://127.0.0.1:1", "key", "secret")
    assert lake.uri("lakehouse", "bronze/orders", "spark") == "s3a://lakehouse/bronze/orders"
    assert lake.duckdb_uri("lakehouse", "bronze/orders") == "s3://lakehouse/bronze/orders"
    assert lake.uri("raw-data", "2024/01/01/Users.csv") == "s3://raw-data/2024/01/01/Users.csv"


def test_build_lake_follows_settings_env(tmp_path):
    local = build_lake(Settings(_env_file=None, SHOPFLOW_HOME=str(tmp_path), SHOPFLOW_ENV="local"))
    assert isinstance(local, LocalLake)
    assert local.root == tmp_path / "lake"
    docker = build_lake(
        Settings(
            _env_file=None,
            SHOPFLOW_HOME=str(tmp_path),
            SHOPFLOW_ENV="docker",
            AWS_ACCESS_KEY_ID="k",
            AWS_SECRET_ACCESS_KEY="s",
            LAKE_RETRY_ATTEMPTS="6",
        )
    )
    assert isinstance(docker, S3Lake)
    assert docker.retry_attempts == 6
    with pytest.raises(RuntimeError, match="AWS_ACCESS_KEY_ID is not set"):
        build_lake(Settings(_env_file=None, SHOPFLOW_HOME=str(tmp_path), SHOPFLOW_ENV="docker"))


def test_s3_client_retries_with_botocore_standard_mode_and_the_configured_attempts():
    lake = S3Lake("http://127.0.0.1:1", "key", "secret", retry_attempts=5)
    retries = lake.client.meta.config.retries
    assert retries == {"total_max_attempts": 5, "mode": "standard"}


class FlakyLake(LocalLake):
    """A local lake whose writes fail a given number of times (failure injection)."""

    def __init__(self, root, failures: int):
        super().__init__(root)
        self.failures = failures
        self.calls = 0

    def _put(self, bucket, key, data):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionResetError("connection reset by peer")
        super()._put(bucket, key, data)


def test_permanent_failures_are_not_retried(tmp_path):
    lake = FlakyLake(tmp_path, failures=0)
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "x.csv").mkdir()  # a directory where the object should go
    with pytest.raises(LakeError, match=r"put staging/x\.csv failed"):
        lake.put_bytes("staging", "x.csv", b"1")
    assert lake.calls == 1
