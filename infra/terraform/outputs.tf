# Every endpoint and name shopflow_assets/settings.py reads, named after its variable; no secret.
output "S3_ENDPOINT_URL" {
  value = "https://s3.${var.region}.amazonaws.com"
}

output "AWS_REGION" {
  value = var.region
}

output "KAFKA_BOOTSTRAP_SERVERS" {
  value = var.kafka_bootstrap_servers
}

output "POSTGRES_HOST" {
  value = local.postgres_host
}

output "POSTGRES_PORT" {
  value = local.postgres_port
}

output "POSTGRES_USER" {
  value = var.postgres_user
}

output "POSTGRES_DB" {
  value = var.postgres_db
}

output "POSTGRES_READER_USER" {
  value = var.postgres_reader_user
}

output "name_prefix" {
  value = var.name_prefix
}

output "erp_source_database" {
  value = var.erp_source_database
}

output "warehouse_database" {
  value = var.warehouse_database
}

output "lake_buckets" {
  description = "settings.BUCKETS name -> S3 bucket."
  value       = { for name, bucket in aws_s3_bucket.lake : name => bucket.bucket }
}

output "pipeline_iam_user" {
  value = aws_iam_user.pipeline.name
}

output "dashboard_iam_user" {
  value = aws_iam_user.dashboard.name
}

output "pipeline_policy_arn" {
  value = aws_iam_policy.pipeline.arn
}

output "dashboard_policy_arn" {
  value = aws_iam_policy.dashboard.arn
}

output "secret_names" {
  description = "Secrets Manager entry per credential; values are set with put-secret-value."
  value       = { for key, secret in aws_secretsmanager_secret.app : key => secret.name }
}

output "rds_master_secret_arn" {
  description = "The RDS-managed master password (create_rds = true), else null."
  value       = var.create_rds ? module.rds[0].master_secret_arn : null
}

output "shopflow_env" {
  description = "The non-secret settings as a .env fragment: tofu output -raw shopflow_env >> .env"
  value = join("\n", [
    "SHOPFLOW_ENV=docker",
    "S3_ENDPOINT_URL=https://s3.${var.region}.amazonaws.com",
    "AWS_REGION=${var.region}",
    "KAFKA_BOOTSTRAP_SERVERS=${var.kafka_bootstrap_servers}",
    "POSTGRES_HOST=${local.postgres_host}",
    "POSTGRES_PORT=${local.postgres_port}",
    "POSTGRES_USER=${var.postgres_user}",
    "POSTGRES_DB=${var.postgres_db}",
    "POSTGRES_READER_USER=${var.postgres_reader_user}",
    "",
  ])
}
