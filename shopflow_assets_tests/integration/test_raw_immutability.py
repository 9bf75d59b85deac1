"""raw-data is protected by the server, not only by our client, with the very policy files Terraform
applies to AWS (infra/policies/): the pipeline signs with a least-privilege MinIO user (not root),
raw-data is versioned and under Object Lock (governance), and with the pipeline key an overwrite with the
conditional write is refused (412), any delete is refused (AccessDenied), lifting the lock is refused, and
a plain PUT over a key cannot lose the original, which stays readable by its version id. Even a user
allowed everything cannot delete a locked version. raw-data's bucket policy is the file AWS gets; MinIO
stores it but applies bucket policies to anonymous requests only (see the test below).

Runs on its own MinIO (temporary SHOPFLOW_HOME, free ports), so the checks see a bucket created by
today's `services up`, whatever the shared stack's raw-data was created with; the shared stack is not
touched."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from shopflow_assets import devstack
from shopflow_assets.devstack import minio_iam
from shopflow_assets.devstack.credentials import CREDENTIAL_FIELDS
from shopflow_assets.devstack.minio import RAW_UNLOCKED_HINT, s3_client
from shopflow_assets.settings import reload_settings

pytestmark = pytest.mark.stack


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="module")
def settings():
    home = Path(tempfile.mkdtemp(prefix="shopflow-raw-", dir="/tmp"))
    s3, console = _free_ports(2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_HOME", str(home))
        patch.setenv("S3_ENDPOINT_URL", f"http://127.0.0.1:{s3}")
        patch.setenv("MINIO_CONSOLE_ADDRESS", f"127.0.0.1:{console}")
        for name in CREDENTIAL_FIELDS:  # the isolated MinIO generates its own
            patch.delenv(name, raising=False)
        isolated = reload_settings()
        try:
            devstack.up(["minio"], settings=isolated, reporter=devstack.quiet_reporter())
            yield reload_settings()
        finally:
            devstack.down(["minio"], settings=reload_settings(), reporter=devstack.quiet_reporter())
            shutil.rmtree(home, ignore_errors=True)
    reload_settings()


@pytest.fixture
def raw_key(settings):
    key = f"_tests/{uuid.uuid4().hex}/2024/01/01/Orders.csv"
    yield key
    minio_iam.purge_with_root(settings, "raw-data", key)  # only root may clean raw-data up


def _tomorrow() -> datetime:
    """Sooner than the default retention: setting it would shorten the lock."""
    return datetime.now(UTC) + timedelta(days=1)


def _code(call) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["Error"]["Code"]


def test_the_pipeline_is_not_root(settings):
    assert settings.aws_access_key_id != settings.minio_root_user
    assert s3_client(settings).get_bucket_versioning(Bucket="raw-data")["Status"] == "Enabled"


def test_minio_holds_the_very_policy_files(settings):
    admin = minio_iam.admin_client(settings)
    for name, expected in (
        (minio_iam.PIPELINE_POLICY, minio_iam.pipeline_policy()),
        (minio_iam.DASHBOARD_POLICY, minio_iam.dashboard_policy()),
    ):
        stored = json.loads(admin.policy_info(name))
        stored = stored.get("Policy", stored)  # some MinIO versions wrap the document
        assert _statements(stored) == _statements(expected), name
    root = s3_client(settings, root=True)
    stored = json.loads(root.get_bucket_policy(Bucket="raw-data")["Policy"])
    assert _statements(stored) == _statements(minio_iam.raw_bucket_policy())


def _statements(policy: dict) -> list:
    """Statements as sets, ignoring order and how MinIO spells a principal; Sids included."""

    def norm(value):
        if isinstance(value, dict):
            return tuple(sorted((k, norm(v)) for k, v in value.items() if k != "Principal"))
        if isinstance(value, list):
            return tuple(sorted(norm(v) for v in value))
        return value

    return sorted(norm(statement) for statement in policy["Statement"])


def test_raw_data_is_locked_in_governance_mode(settings, raw_key):
    pipeline = s3_client(settings)
    rule = pipeline.get_object_lock_configuration(Bucket="raw-data")["ObjectLockConfiguration"]
    assert rule["ObjectLockEnabled"] == "Enabled"
    assert rule["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": minio_iam.RAW_RETENTION_DAYS}
    written = pipeline.put_object(Bucket="raw-data", Key=raw_key, Body=b"order_id\n1\n", IfNoneMatch="*")
    retention = pipeline.get_object_retention(Bucket="raw-data", Key=raw_key, VersionId=written["VersionId"])
    assert retention["Retention"]["Mode"] == "GOVERNANCE"
    # the pipeline may not lift the lock, nor shorten it
    assert (
        _code(
            lambda: pipeline.delete_object(
                Bucket="raw-data", Key=raw_key, VersionId=written["VersionId"], BypassGovernanceRetention=True
            )
        )
        == "AccessDenied"
    )
    assert (
        _code(
            lambda: pipeline.put_object_retention(
                Bucket="raw-data",
                Key=raw_key,
                VersionId=written["VersionId"],
                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _tomorrow()},
                BypassGovernanceRetention=True,
            )
        )
        == "AccessDenied"
    )
    # the lock itself holds without any policy: root's delete of the version without the bypass fails
    root = s3_client(settings, root=True)
    assert _code(
        lambda: root.delete_object(Bucket="raw-data", Key=raw_key, VersionId=written["VersionId"])
    ) in {
        "AccessDenied",
        "InvalidRequest",
    }


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


def test_a_user_allowed_everything_cannot_lose_a_raw_version(settings, raw_key):
    """The lock on its own, for a MinIO user whose policy allows s3:* (not the pipeline's policy).

    MinIO evaluates bucket policies for anonymous requests only (cmd/auth-handler.go): it stores and
    validates raw-data-bucket.json, but a signed request is judged by the user's own policy. So here, unlike
    on S3, such a user's plain DELETE adds a delete marker; the version under it stays, locked."""
    admin = minio_iam.admin_client(settings)
    name, key, secret = f"test-admin-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:20], uuid.uuid4().hex
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}],
    }
    admin.policy_add(name, policy=everything)
    admin.user_add(key, secret)
    admin.attach_policy([name], user=key)
    try:
        broad = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name=settings.aws_region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        written = broad.put_object(Bucket="raw-data", Key=raw_key, Body=b"order_id\n1\n")
        assert _code(
            lambda: broad.delete_object(Bucket="raw-data", Key=raw_key, VersionId=written["VersionId"])
        ) in {"AccessDenied", "InvalidRequest"}
        broad.delete_object(Bucket="raw-data", Key=raw_key)  # a delete marker only
        kept = broad.get_object(Bucket="raw-data", Key=raw_key, VersionId=written["VersionId"])
        assert kept["Body"].read() == b"order_id\n1\n"
    finally:
        admin.user_remove(key)
        admin.policy_remove(name)


def test_the_pipeline_still_owns_its_working_buckets(settings):
    pipeline = s3_client(settings)
    key = f"_tests/{uuid.uuid4().hex}/part-0.parquet"
    pipeline.put_object(Bucket="staging", Key=key, Body=b"1")
    pipeline.put_object(Bucket="staging", Key=key, Body=b"2")
    assert pipeline.get_object(Bucket="staging", Key=key)["Body"].read() == b"2"
    pipeline.delete_object(Bucket="staging", Key=key)
    assert _code(lambda: pipeline.create_bucket(Bucket=f"rogue-{uuid.uuid4().hex[:8]}")) == "AccessDenied"


def test_an_old_unlocked_raw_bucket_is_kept_and_reported(settings):
    """A raw-data created before the lock (simulated: recreated without it) cannot be converted: `up`
    keeps its data and warns, `status` says what to do. Runs last: it leaves raw-data unlocked."""
    root = s3_client(settings, root=True)
    minio_iam.purge_with_root(settings, "raw-data", "")
    root.delete_bucket(Bucket="raw-data")
    root.create_bucket(Bucket="raw-data")
    root.put_object(Bucket="raw-data", Key="old/Orders.csv", Body=b"order_id\n1\n")
    # why `up` cannot fix it in place: this MinIO refuses a lock on an existing bucket, even a versioned one
    root.put_bucket_versioning(Bucket="raw-data", VersioningConfiguration={"Status": "Enabled"})
    assert (
        _code(
            lambda: root.put_object_lock_configuration(
                Bucket="raw-data", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
            )
        )
        == "InvalidBucketState"
    )

    said: list[str] = []
    reporter = devstack.quiet_reporter()
    reporter.say = lambda service, text: said.append(text)
    devstack.up(["minio"], settings=settings, reporter=reporter)

    assert any(RAW_UNLOCKED_HINT in line for line in said), said
    assert root.get_object(Bucket="raw-data", Key="old/Orders.csv")["Body"].read() == b"order_id\n1\n"
    assert minio_iam.raw_object_lock(root) is None
    # the rest of the protection is still applied
    assert root.get_bucket_versioning(Bucket="raw-data")["Status"] == "Enabled"
    assert _code(lambda: s3_client(settings).delete_object(Bucket="raw-data", Key="old/Orders.csv")) == (
        "AccessDenied"
    )
    (status,) = devstack.status(["minio"], settings=settings)
    assert status.state == "running" and status.detail == RAW_UNLOCKED_HINT
