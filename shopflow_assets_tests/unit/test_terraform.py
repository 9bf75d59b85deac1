"""infra/terraform, proven without a cloud: every .tf file is parsed and the storage invariants checked
(every lake bucket of settings.BUCKETS, private, encrypted, versioned; raw-data locked; the policies the
very files the local MinIO stack enforces). Each invariant is then deleted from a copy of the HCL, one
at a time, and the check must notice: a test that cannot fail proves nothing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from string import Template

import hcl2
import pytest

from shopflow_assets.devstack import minio_iam
from shopflow_assets.settings import BUCKETS, PROJECT_ROOT, SOURCE_DATABASES, WAREHOUSE_DATABASE, Settings

pytestmark = pytest.mark.unit

INFRA = PROJECT_ROOT / "infra"
PINNED = re.compile(r"^\d+\.\d+\.\d+$")
TEMPLATEFILE = re.compile(r'^\$\{templatefile\("\$\{path\.module\}/([^"]+)", local\.policy_vars\)\}$')
# The settings the outputs must hand to a deployment, by the variable name settings.py reads.
SETTINGS_OUTPUTS = (
    "S3_ENDPOINT_URL",
    "AWS_REGION",
    "KAFKA_BOOTSTRAP_SERVERS",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_DB",
    "POSTGRES_READER_USER",
)


def load(infra: Path) -> dict[str, list]:
    """Every top-level block of every .tf file under infra/terraform (modules included), merged."""
    options = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    merged: dict[str, list] = {}
    files = sorted((infra / "terraform").rglob("*.tf"))
    assert files, f"no .tf file under {infra / 'terraform'}"
    for path in files:
        for kind, blocks in hcl2.loads(path.read_text(), serialization_options=options).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def resources(config: dict, kind: str) -> dict[str, dict]:
    return {name: body for block in config.get("resource", []) for name, body in block.get(kind, {}).items()}


def named(config: dict, kind: str) -> dict[str, dict]:
    return {name: body for block in config.get(kind, []) for name, body in block.items()}


def local_values(config: dict) -> dict:
    return {key: value for block in config.get("locals", []) for key, value in block.items()}


def first(blocks: list | dict | None) -> dict:
    if isinstance(blocks, list):
        return blocks[0] if blocks else {}
    return blocks or {}


def policy_file(expression: str | None, infra: Path) -> Path | None:
    """The file a `templatefile("${path.module}/…", local.policy_vars)` reads, relative to infra/."""
    match = TEMPLATEFILE.match(expression or "")
    return (infra / "terraform" / match.group(1)).resolve() if match else None


def same_file(path: Path | None, infra: Path, local_stack_file: Path) -> bool:
    """The file the local stack loads (its place under infra/ and its content)."""
    return (
        path is not None
        and path.exists()
        and path.relative_to(infra.resolve()) == local_stack_file.relative_to(PROJECT_ROOT / "infra")
        and path.read_text() == local_stack_file.read_text()
    )


def violations(infra: Path) -> list[str]:
    """Each broken invariant, named; empty when the configuration holds them all."""
    config = load(infra)
    found: list[str] = []

    def need(ok: bool, name: str) -> None:
        if not ok:
            found.append(name)

    aws = first(first(first(config.get("terraform")).get("required_providers")).get("aws"))
    need(aws.get("source") == "hashicorp/aws", "provider: hashicorp/aws")
    need(bool(PINNED.match(str(aws.get("version", "")))), "provider: version pinned")
    variables = named(config, "variable")
    for variable in ("name_prefix", "region", "raw_retention_days", "bucket_prefix"):
        need(variable in variables, f"variable {variable}")

    lake = local_values(config)
    declared = re.findall(r'"([a-z0-9-]+)"', str(lake.get("lake_buckets", "")))
    need(sorted(declared) == sorted(BUCKETS), "buckets: local.lake_buckets is settings.BUCKETS")
    need(lake.get("raw_bucket") == "raw-data", "buckets: local.raw_bucket is raw-data")
    bucket = resources(config, "aws_s3_bucket").get("lake", {})
    need(bucket.get("for_each") == "${local.lake_buckets}", "buckets: one aws_s3_bucket per lake bucket")
    need(bucket.get("bucket") == "${var.bucket_prefix}${each.key}", "buckets: named after settings.BUCKETS")

    def per_bucket(kind: str) -> dict:
        body = resources(config, kind).get("lake", {})
        return body if body.get("for_each") == "${aws_s3_bucket.lake}" else {}

    block = per_bucket("aws_s3_bucket_public_access_block")
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        need(block.get(flag) is True, f"public access: {flag}")
    sse = per_bucket("aws_s3_bucket_server_side_encryption_configuration")
    algorithm = first(first(sse.get("rule")).get("apply_server_side_encryption_by_default")).get(
        "sse_algorithm"
    )
    need(algorithm in ("aws:kms", "AES256"), "encryption: every bucket")
    versioning = per_bucket("aws_s3_bucket_versioning")
    need(
        first(versioning.get("versioning_configuration")).get("status") == "Enabled",
        "versioning: every bucket",
    )

    need(
        bucket.get("object_lock_enabled") == "${each.key == local.raw_bucket}",
        "raw-data: object lock enabled",
    )
    lock = resources(config, "aws_s3_bucket_object_lock_configuration").get("raw", {})
    retention = first(first(lock.get("rule")).get("default_retention"))
    need(lock.get("bucket") == "${aws_s3_bucket.lake[local.raw_bucket].id}", "raw-data: lock on raw-data")
    need(retention.get("mode") == "GOVERNANCE", "raw-data: governance mode")
    need(retention.get("days") == "${var.raw_retention_days}", "raw-data: retention variable")

    raw_policy = resources(config, "aws_s3_bucket_policy").get("raw", {})
    need(raw_policy.get("bucket") == "${aws_s3_bucket.lake[local.raw_bucket].id}", "raw-data: bucket policy")
    need(
        same_file(policy_file(raw_policy.get("policy"), infra), infra, minio_iam.RAW_BUCKET_POLICY_FILE),
        "raw-data: bucket policy is the local stack's file",
    )
    iam = resources(config, "aws_iam_policy")
    need(
        same_file(
            policy_file(iam.get("pipeline", {}).get("policy"), infra), infra, minio_iam.PIPELINE_POLICY_FILE
        ),
        "iam: pipeline policy is the local stack's file",
    )
    need(
        same_file(
            policy_file(iam.get("dashboard", {}).get("policy"), infra), infra, minio_iam.DASHBOARD_POLICY_FILE
        ),
        "iam: dashboard policy is the local stack's file",
    )

    secrets = resources(config, "aws_secretsmanager_secret")
    entries = re.findall(r"^\s*([a-z-]+)\s*=", (infra / "terraform" / "secrets.tf").read_text(), re.M)
    need("app" in secrets and {"postgres", "alert-webhook"} <= set(entries), "secrets: postgres and webhook")
    need(not resources(config, "aws_secretsmanager_secret_version"), "secrets: no value in code")

    outputs = named(config, "output")
    for name in SETTINGS_OUTPUTS:
        need(name in outputs, f"output {name}")
    need("lake_buckets" in outputs, "output lake_buckets")
    return found


def test_the_configuration_holds_every_invariant():
    assert violations(INFRA) == []


def test_the_outputs_are_the_settings_the_project_reads():
    aliases = {field.validation_alias for field in Settings.model_fields.values()}
    assert set(SETTINGS_OUTPUTS) <= aliases


def test_the_policy_files_name_exactly_the_lake_buckets_through_their_placeholder():
    """Every bucket ARN carries ${bucket_prefix}, so both stacks fill in the same names."""
    for path in (
        minio_iam.PIPELINE_POLICY_FILE,
        minio_iam.DASHBOARD_POLICY_FILE,
        minio_iam.RAW_BUCKET_POLICY_FILE,
    ):
        text = path.read_text()
        arns = re.findall(r'"arn:aws:s3:::([^"]*)"', text)
        assert all(arn == "*" or arn.startswith("${bucket_prefix}") for arn in arns), path
        rendered = json.loads(Template(text).substitute(bucket_prefix="acme-"))
        names = {
            arn.removeprefix("arn:aws:s3:::").split("/")[0]
            for statement in rendered["Statement"]
            for arn in statement["Resource"]
        } - {"*"}
        assert names <= {f"acme-{bucket}" for bucket in BUCKETS}, path
    pipeline = minio_iam.pipeline_policy()
    covered = {arn.split(":::")[1].split("/")[0] for s in pipeline["Statement"] for arn in s["Resource"]}
    assert covered - {"*"} == set(BUCKETS)
    assert {arn.split(":::")[1] for arn in minio_iam.raw_bucket_policy()["Statement"][0]["Resource"]} == {
        "raw-data/*"
    }


def test_the_pipeline_policy_denies_every_way_to_lose_raw_history():
    deny = [s for s in minio_iam.pipeline_policy()["Statement"] if s["Effect"] == "Deny"]
    assert len(deny) == 1 and set(deny[0]["Resource"]) == {"arn:aws:s3:::raw-data", "arn:aws:s3:::raw-data/*"}
    for action in (
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutBucketVersioning",
        "s3:BypassGovernanceRetention",
    ):
        assert action in deny[0]["Action"]
    bucket_denies = {a for s in minio_iam.raw_bucket_policy()["Statement"] for a in s["Action"]}
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketVersioning"} <= bucket_denies


def test_compose_mounts_the_same_pipeline_policy():
    """docker-compose's mc cannot fill a placeholder: its file is pipeline.json rendered, kept equal."""
    assert json.loads((PROJECT_ROOT / "docker" / "minio" / "pipeline-policy.json").read_text()) == (
        minio_iam.pipeline_policy()
    )


def test_tfvars_example_sets_only_declared_variables():
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    example = hcl2.loads(
        (INFRA / "terraform" / "terraform.tfvars.example").read_text(), serialization_options=options
    )
    declared = {name for block in load(INFRA).get("variable", []) for name in block}
    assert set(example) - {"__comments__"} <= declared
    assert "kafka_bootstrap_servers" in example  # the one variable without a default


# Each edit removes or weakens one invariant; (file, text found exactly once, replacement, invariant named).
MUTATIONS = [
    ("versions.tf", 'version = "5.82.2"', 'version = ">= 5.0"', "provider: version pinned"),
    ("variables.tf", 'variable "region" {', 'variable "aws_region" {', "variable region"),
    ("variables.tf", 'variable "name_prefix" {', 'variable "prefix" {', "variable name_prefix"),
    ("buckets.tf", ', "quarantine"])', "])", "buckets: local.lake_buckets is settings.BUCKETS"),
    ("buckets.tf", '"${var.bucket_prefix}${each.key}"', '"shopflow-${each.key}"', "buckets: named after"),
    ("buckets.tf", "block_public_acls       = true", "block_public_acls       = false", "block_public_acls"),
    ("buckets.tf", "restrict_public_buckets = true\n", "\n", "restrict_public_buckets"),
    (
        "buckets.tf",
        'resource "aws_s3_bucket_public_access_block" "lake"',
        'resource "null_resource" "x"',
        "public",
    ),
    ("buckets.tf", 'sse_algorithm = "aws:kms"', "", "encryption: every bucket"),
    ("buckets.tf", 'status = "Enabled"\n  }\n}', 'status = "Suspended"\n  }\n}', "versioning: every bucket"),
    ("buckets.tf", "object_lock_enabled = each.key == local.raw_bucket", "", "raw-data: object lock enabled"),
    ("buckets.tf", 'mode = "GOVERNANCE"', 'mode = "COMPLIANCE"', "raw-data: governance mode"),
    ("buckets.tf", "days = var.raw_retention_days", "days = 1", "raw-data: retention variable"),
    (
        "buckets.tf",
        'resource "aws_s3_bucket_policy" "raw"',
        'resource "aws_s3_bucket_policy" "other"',
        "bucket policy",
    ),
    (
        "buckets.tf",
        "/../policies/raw-data-bucket.json",
        "/../policies/dashboard.json",
        "bucket policy is the",
    ),
    ("iam.tf", "/../policies/pipeline.json", "/pipeline.json", "iam: pipeline policy is"),
    (
        "iam.tf",
        'templatefile("${path.module}/../policies/dashboard.json", local.policy_vars)',
        "jsonencode({})",
        "dashboard",
    ),
    ("secrets.tf", "    alert-webhook   =", "    alert_hook      =", "secrets: postgres and webhook"),
    (
        "secrets.tf",
        "recovery_window_in_days = 7\n}",
        'recovery_window_in_days = 7\n}\n\nresource "aws_secretsmanager_secret_version" "pw" {\n'
        '  secret_id     = "x"\n  secret_string = "hunter2"\n}',
        "secrets: no value in code",
    ),
    ("outputs.tf", 'output "POSTGRES_HOST" {', 'output "db_host" {', "output POSTGRES_HOST"),
    ("outputs.tf", 'output "S3_ENDPOINT_URL" {', 'output "s3" {', "output S3_ENDPOINT_URL"),
]


@pytest.mark.parametrize("file, old, new, invariant", MUTATIONS, ids=[m[3] for m in MUTATIONS])
def test_the_check_fails_when_an_invariant_is_removed(tmp_path, file, old, new, invariant):
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    path = copy / "terraform" / file
    text = path.read_text()
    assert text.count(old) == 1, f"the mutation no longer matches {file}: {old!r}"
    path.write_text(text.replace(old, new))
    assert any(invariant in violation for violation in violations(copy)), violations(copy)


def test_a_changed_policy_file_is_not_the_local_stacks(tmp_path):
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    policy = copy / "policies" / "pipeline.json"
    policy.write_text(policy.read_text().replace('"s3:DeleteObjectVersion",', ""))
    assert "iam: pipeline policy is the local stack's file" in violations(copy)


def test_ci_checks_the_format_with_opentofu_built_by_a_project_script():
    script = (PROJECT_ROOT / "scripts" / "test.sh").read_text()
    assert 'phase "lint (tofu fmt)" terraform_fmt' in script
    assert "fmt -check -recursive -diff infra/terraform" in script
    installer = (PROJECT_ROOT / "scripts" / "install_tofu.sh").read_text()
    assert re.search(r"^TOFU_VERSION=v\d+\.\d+\.\d+$", installer, re.M)


def test_the_database_variables_are_the_names_the_project_reads():
    variables = named(load(INFRA), "variable")
    assert variables["erp_source_database"]["default"] in SOURCE_DATABASES
    assert variables["warehouse_database"]["default"] == WAREHOUSE_DATABASE
