"""raw-data is protected by the server, not only by our client: the pipeline signs with a least-privilege
MinIO user (not root), raw-data is versioned, and with the pipeline key an overwrite with the conditional
write is refused (412), any delete is refused (AccessDenied), and a plain PUT over a key cannot lose the
original, which stays readable by its version id."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from shopflow_assets import devstack
from shopflow_assets.devstack.minio import s3_client
from shopflow_assets.settings import reload_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings():
    settings = reload_settings()
    devstack.up(["minio"], settings=settings, reporter=devstack.quiet_reporter())
    return reload_settings()


@pytest.fixture
def raw_key(settings):
    key = f"_tests/{uuid.uuid4().hex}/2024/01/01/Orders.csv"
    yield key
    root = s3_client(settings, root=True)  # only root may clean raw-data up
    for version in root.list_object_versions(Bucket="raw-data", Prefix=key).get("Versions", []):
        root.delete_object(Bucket="raw-data", Key=key, VersionId=version["VersionId"])
    for marker in root.list_object_versions(Bucket="raw-data", Prefix=key).get("DeleteMarkers", []):
        root.delete_object(Bucket="raw-data", Key=key, VersionId=marker["VersionId"])


def _code(call) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["Error"]["Code"]


def test_the_pipeline_is_not_root(settings):
    assert settings.aws_access_key_id != settings.minio_root_user
    assert s3_client(settings).get_bucket_versioning(Bucket="raw-data")["Status"] == "Enabled"


def test_the_server_refuses_overwrites_and_deletes_of_raw_objects(settings, raw_key):
    pipeline = s3_client(settings)
    first = pipeline.put_object(Bucket="raw-data", Key=raw_key, Body=b"order_id\n1\n", IfNoneMatch="*")
    # the conditional write the lake uses: refused by the server, not by a client-side check
    assert _code(
        lambda: pipeline.put_object(Bucket="raw-data", Key=raw_key, Body=b"order_id\n2\n", IfNoneMatch="*")
    ) in {"PreconditionFailed", "412"}
    assert _code(lambda: pipeline.delete_object(Bucket="raw-data", Key=raw_key)) == "AccessDenied"
    assert (
        _code(lambda: pipeline.delete_object(Bucket="raw-data", Key=raw_key, VersionId=first["VersionId"]))
        == "AccessDenied"
    )
    assert (
        _code(
            lambda: pipeline.put_bucket_versioning(
                Bucket="raw-data", VersioningConfiguration={"Status": "Suspended"}
            )
        )
        == "AccessDenied"
    )
    # a writer that skips the condition only adds a version: the original is still there
    pipeline.put_object(Bucket="raw-data", Key=raw_key, Body=b"tampered\n")
    original = pipeline.get_object(Bucket="raw-data", Key=raw_key, VersionId=first["VersionId"])
    assert original["Body"].read() == b"order_id\n1\n"
    versions = pipeline.list_object_versions(Bucket="raw-data", Prefix=raw_key)["Versions"]
    assert len(versions) == 2


def test_the_pipeline_still_owns_its_working_buckets(settings):
    pipeline = s3_client(settings)
    key = f"_tests/{uuid.uuid4().hex}/part-0.parquet"
    pipeline.put_object(Bucket="staging", Key=key, Body=b"1")
    pipeline.put_object(Bucket="staging", Key=key, Body=b"2")
    assert pipeline.get_object(Bucket="staging", Key=key)["Body"].read() == b"2"
    pipeline.delete_object(Bucket="staging", Key=key)
    assert _code(lambda: pipeline.create_bucket(Bucket=f"rogue-{uuid.uuid4().hex[:8]}")) == "AccessDenied"
