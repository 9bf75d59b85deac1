# Entries only: no value is ever written in code or state. Set each one after `tofu apply` with
# `aws secretsmanager put-secret-value` (docs/deploy.md); the Helm values read them as Kubernetes secrets.
locals {
  app_secrets = {
    postgres        = "PostgreSQL password of POSTGRES_USER (pipeline, warehouse loads)"
    postgres-reader = "PostgreSQL password of POSTGRES_READER_USER (extractions, dashboard)"
    alert-webhook   = "SHOPFLOW_ALERT_WEBHOOK_URL: the alert webhook URL, which embeds its token"
  }
}

resource "aws_secretsmanager_secret" "app" {
  for_each = local.app_secrets

  name                    = "${var.name_prefix}/${each.key}"
  description             = each.value
  recovery_window_in_days = 7
}
