# The six lake buckets of settings.BUCKETS: private, encrypted, versioned. raw-data is also locked.
locals {
  raw_bucket   = "raw-data"
  lake_buckets = toset(["raw-data", "staging", "lakehouse", "events", "processed", "quarantine"])

  # The policy files the local stack (shopflow services up) applies to MinIO, filled in for AWS.
  policy_vars = { bucket_prefix = var.bucket_prefix }
}

resource "aws_s3_bucket" "lake" {
  for_each = local.lake_buckets

  bucket = "${var.bucket_prefix}${each.key}"
  # At creation, as the local MinIO requires (it refuses a lock on an existing bucket).
  object_lock_enabled = each.key == local.raw_bucket
  # raw-data is never emptied by a destroy; the working buckets only when asked for.
  force_destroy = each.key == local.raw_bucket ? false : var.force_destroy_working_buckets
}

resource "aws_s3_bucket_public_access_block" "lake" {
  for_each = aws_s3_bucket.lake

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  for_each = aws_s3_bucket.lake

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  for_each = aws_s3_bucket.lake

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    # One data key per bucket instead of one KMS call per object: Spark writes many small files.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "lake" {
  for_each = aws_s3_bucket.lake

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "raw" {
  bucket = aws_s3_bucket.lake[local.raw_bucket].id

  rule {
    default_retention {
      # Governance: an administrator can still lift a lock deliberately (s3:BypassGovernanceRetention,
      # which the bucket policy below denies until it is changed); compliance could never be undone.
      mode = "GOVERNANCE"
      days = var.raw_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.lake]
}

# The same document `shopflow services up` sets on the local raw-data bucket.
resource "aws_s3_bucket_policy" "raw" {
  bucket = aws_s3_bucket.lake[local.raw_bucket].id
  policy = templatefile("${path.module}/../policies/raw-data-bucket.json", local.policy_vars)

  # A public-access block must exist first, or S3 may judge the policy before the block applies.
  depends_on = [aws_s3_bucket_public_access_block.lake, aws_s3_bucket_object_lock_configuration.raw]
}

# Versions replaced in the working buckets are kept 30 days (a rollback window), then expire.
resource "aws_s3_bucket_lifecycle_configuration" "working" {
  for_each = { for name, bucket in aws_s3_bucket.lake : name => bucket if name != local.raw_bucket }

  bucket = each.value.id
  rule {
    id     = "expire-replaced-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.lake]
}
