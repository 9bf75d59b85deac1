# Optional: a new RDS PostgreSQL server for the ERP source, the app database and the warehouse.
# Off by default: the configuration points at an existing server (var.postgres_host).
module "rds" {
  source = "./modules/rds-postgres"
  count  = var.create_rds ? 1 : 0

  identifier         = "${var.name_prefix}-postgres"
  instance_class     = var.rds_instance_class
  allocated_storage  = var.rds_allocated_storage_gb
  username           = var.postgres_user
  database           = var.postgres_db
  subnet_ids         = var.rds_subnet_ids
  security_group_ids = var.rds_security_group_ids
}

locals {
  postgres_host = var.create_rds ? module.rds[0].address : var.postgres_host
  postgres_port = var.create_rds ? module.rds[0].port : var.postgres_port
}
