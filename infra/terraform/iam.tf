# Least privilege: the pipeline's policy is the file the local MinIO pipeline user gets; the dashboard
# only reads. Both are attached to IAM users without keys: create keys with the CLI (docs/deploy.md) or
# attach the policies to the role your runtime assumes (pipeline_role_names / dashboard_role_names).
resource "aws_iam_policy" "pipeline" {
  name        = "${var.name_prefix}-pipeline"
  description = "ShopFlow pipeline: full access to the working buckets, read and create-only on raw-data."
  policy      = templatefile("${path.module}/../policies/pipeline.json", local.policy_vars)
}

resource "aws_iam_policy" "dashboard" {
  name        = "${var.name_prefix}-dashboard"
  description = "ShopFlow dashboard: read-only on the lake."
  policy      = templatefile("${path.module}/../policies/dashboard.json", local.policy_vars)
}

resource "aws_iam_user" "pipeline" {
  name = "${var.name_prefix}-pipeline"
}

resource "aws_iam_user_policy_attachment" "pipeline" {
  user       = aws_iam_user.pipeline.name
  policy_arn = aws_iam_policy.pipeline.arn
}

resource "aws_iam_user" "dashboard" {
  name = "${var.name_prefix}-dashboard"
}

resource "aws_iam_user_policy_attachment" "dashboard" {
  user       = aws_iam_user.dashboard.name
  policy_arn = aws_iam_policy.dashboard.arn
}

# Secrets Manager: the pipeline and dashboard read their credentials, nothing else.
resource "aws_iam_policy" "read_secrets" {
  name        = "${var.name_prefix}-read-secrets"
  description = "Read the ShopFlow secrets (PostgreSQL, alert webhook)."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
      Resource = [for secret in aws_secretsmanager_secret.app : secret.arn]
    }]
  })
}

resource "aws_iam_user_policy_attachment" "pipeline_secrets" {
  user       = aws_iam_user.pipeline.name
  policy_arn = aws_iam_policy.read_secrets.arn
}
