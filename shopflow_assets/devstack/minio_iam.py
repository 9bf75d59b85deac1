"""MinIO's least-privilege pipeline user and the protection of `raw-data`, set up with the root key.

The pipeline (every flow, test and bench) signs with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: a MinIO
user with the `shopflow-pipeline` policy. The root key (MINIO_ROOT_*) only creates buckets, protects
`raw-data` and (re)creates that user and policy, on every `shopflow services up`. The policies are the
JSON files in infra/policies/, which infra/terraform applies to AWS unchanged.

What the server enforces on `raw-data`:
- no delete: the pipeline's policy and the bucket policy deny DeleteObject and DeleteObjectVersion, so no
  raw object and no version of one can be removed; neither can versioning, lifecycle rules or the bucket
  itself be changed;
- no silent overwrite: versioning keeps every version, so a PUT over an existing key (only possible with a
  plain PUT; the pipeline writes with `If-None-Match: *`, which the server refuses with 412 when the key
  exists) adds a version and the original stays readable by its version id;
- Object Lock (governance, RAW_RETENTION_DAYS): every version is retained; only root may bypass it.
S3 policies cannot tell a create from an overwrite, so "refused" means the conditional write and the
denied deletes; the kept, locked versions are the safety net for a writer that omits the condition.
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Any

from shopflow_assets.settings import PROJECT_ROOT, Settings

RAW_BUCKET = "raw-data"
PIPELINE_POLICY = "shopflow-pipeline"
DASHBOARD_POLICY = "shopflow-dashboard"
# The policy documents, shared with infra/terraform: MinIO enforces the very files AWS gets. Each is a
# template whose only placeholder is ${bucket_prefix} (empty here: the buckets are settings.BUCKETS).
POLICY_DIR = PROJECT_ROOT / "infra" / "policies"
PIPELINE_POLICY_FILE = POLICY_DIR / "pipeline.json"
DASHBOARD_POLICY_FILE = POLICY_DIR / "dashboard.json"
RAW_BUCKET_POLICY_FILE = POLICY_DIR / "raw-data-bucket.json"
# Object Lock default retention (governance) of each raw-data object version locally; root can bypass it
# (purge_with_root), the pipeline cannot. Production sets its own (raw_retention_days in Terraform).
RAW_RETENTION_DAYS = 30


def load_policy(path: Path, bucket_prefix: str = "") -> dict[str, Any]:
    """A policy file with its placeholder filled in, parsed; a leftover placeholder is an error."""
    return json.loads(Template(path.read_text()).substitute(bucket_prefix=bucket_prefix))


def pipeline_policy() -> dict[str, Any]:
    """Full access to the working buckets; read and create-only on raw-data; nothing else."""
    return load_policy(PIPELINE_POLICY_FILE)


def dashboard_policy() -> dict[str, Any]:
    return load_policy(DASHBOARD_POLICY_FILE)


def raw_bucket_policy() -> dict[str, Any]:
    """raw-data's bucket policy: nobody deletes a raw object or changes its versioning or lifecycle."""
    return load_policy(RAW_BUCKET_POLICY_FILE)


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


def raw_object_lock(s3_admin) -> dict[str, Any] | None:
    """raw-data's Object Lock configuration, or None when the bucket was created without a lock."""
    from botocore.exceptions import ClientError

    try:
        return s3_admin.get_object_lock_configuration(Bucket=RAW_BUCKET)["ObjectLockConfiguration"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ObjectLockConfigurationNotFoundError":
            return None
        raise


def protect_raw_bucket(s3_admin) -> bool:
    """Versioning, the default governance retention (when the bucket has a lock) and the bucket policy
    on raw-data. Returns False when raw-data has no Object Lock: a bucket created before the lock cannot
    get one (MinIO only enables it at creation), and its data is never deleted to fix that."""
    enable_raw_versioning(s3_admin)
    locked = raw_object_lock(s3_admin) is not None
    if locked:
        s3_admin.put_object_lock_configuration(
            Bucket=RAW_BUCKET,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": RAW_RETENTION_DAYS}},
            },
        )
    s3_admin.put_bucket_policy(Bucket=RAW_BUCKET, Policy=json.dumps(raw_bucket_policy()))
    return locked


def ensure_pipeline_user(settings: Settings) -> None:
    """(Re)create the policy and the user with the current AWS_* key; idempotent, run on every `up`."""
    admin = admin_client(settings)
    admin.policy_add(PIPELINE_POLICY, policy=pipeline_policy())
    # No user holds it locally; MinIO still validates the document the dashboard gets on AWS.
    admin.policy_add(DASHBOARD_POLICY, policy=dashboard_policy())
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
            # Root may lift raw-data's governance lock; the pipeline may not (s3:BypassGovernanceRetention).
            root.delete_object(
                Bucket=bucket,
                Key=version["Key"],
                VersionId=version["VersionId"],
                BypassGovernanceRetention=True,
            )
            removed += 1
    return removed
