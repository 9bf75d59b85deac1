"""MinIO's least-privilege pipeline user and the protection of `raw-data`, set up with the root key.

The pipeline (every flow, test and bench) signs with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: a MinIO
user with the `shopflow-pipeline` policy. The root key (MINIO_ROOT_*) only creates buckets, turns on
versioning for `raw-data` and (re)creates that user and policy, on every `shopflow services up`.

What the server enforces on `raw-data` for the pipeline user:
- no delete: DeleteObject and DeleteObjectVersion are denied, so no raw object and no version of one can
  be removed; neither can versioning, the bucket policy, lifecycle rules or the bucket itself be changed;
- no silent overwrite: versioning keeps every version, so a PUT over an existing key (only possible with a
  plain PUT; the pipeline writes with `If-None-Match: *`, which the server refuses with 412 when the key
  exists) adds a version and the original stays readable by its version id.
S3 policies cannot tell a create from an overwrite, so "refused" means the conditional write and the
denied deletes; the kept versions are the safety net for a writer that omits the condition.
"""

from __future__ import annotations

import json
from typing import Any

from shopflow_assets.settings import BUCKETS, Settings

RAW_BUCKET = "raw-data"
PIPELINE_POLICY = "shopflow-pipeline"
# Everything that could remove or rewrite history in raw-data.
RAW_DENIED = [
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
    "s3:PutBucketVersioning",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:DeleteBucket",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:PutReplicationConfiguration",
]
RAW_ALLOWED = [
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketLocation",
    "s3:GetBucketVersioning",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
]


def _arns(bucket: str) -> list[str]:
    return [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def pipeline_policy(buckets: tuple[str, ...] = BUCKETS) -> dict[str, Any]:
    """Full access to the working buckets; read and create-only on raw-data; nothing else."""
    working = [arn for bucket in buckets if bucket != RAW_BUCKET for arn in _arns(bucket)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"],
                "Resource": ["arn:aws:s3:::*"],
            },
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": working},
            {"Effect": "Allow", "Action": RAW_ALLOWED, "Resource": _arns(RAW_BUCKET)},
            {"Effect": "Deny", "Action": RAW_DENIED, "Resource": _arns(RAW_BUCKET)},
        ],
    }


def admin_client(settings: Settings):
    from minio.credentials import StaticProvider
    from minio.minioadmin import MinioAdmin

    endpoint = settings.s3_endpoint_url.rstrip("/")
    return MinioAdmin(
        endpoint=endpoint.split("://", 1)[-1],
        credentials=StaticProvider(
            settings.secret("minio_root_user"), settings.secret("minio_root_password")
        ),
        region=settings.aws_region,
        secure=endpoint.startswith("https://"),
    )


def enable_raw_versioning(s3_admin) -> None:
    s3_admin.put_bucket_versioning(Bucket=RAW_BUCKET, VersioningConfiguration={"Status": "Enabled"})


def ensure_pipeline_user(settings: Settings) -> None:
    """(Re)create the policy and the user with the current AWS_* key; idempotent, run on every `up`."""
    admin = admin_client(settings)
    admin.policy_add(PIPELINE_POLICY, policy=pipeline_policy())
    admin.user_add(settings.secret("aws_access_key_id"), settings.secret("aws_secret_access_key"))
    try:
        admin.attach_policy([PIPELINE_POLICY], user=settings.secret("aws_access_key_id"))
    except Exception as exc:  # attaching a policy the user already has is an error in MinIO's API
        if "already" not in str(exc).lower():
            raise


def pipeline_policy_json() -> str:
    return json.dumps(pipeline_policy(), indent=1)


def purge_with_root(settings: Settings, bucket: str, prefix: str) -> int:
    """Delete every version under `prefix` with the root key: for tests and benches that must replay a
    raw day (the pipeline key cannot). Returns the versions and delete markers removed."""
    from shopflow_assets.devstack.minio import s3_client

    root = s3_client(settings, root=True)
    removed = 0
    for page in root.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            root.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
            removed += 1
    return removed
