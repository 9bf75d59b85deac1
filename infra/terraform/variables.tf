variable "name_prefix" {
  description = "Prefix of every IAM, Secrets Manager and RDS name (one deployment per prefix)."
  type        = string
  default     = "shopflow"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix: lower-case letters, digits and '-', 2-31 characters, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of the buckets, secrets and database (AWS_REGION for the pipeline)."
  type        = string
  default     = "us-east-1"
}

# The pipeline addresses its buckets by the names in settings.BUCKETS (s3://raw-data/...). S3 names are
# global, so a prefix only works once the project reads one; until then it must stay empty (docs/deploy.md).
variable "bucket_prefix" {
  description = "Prefix of the six lake bucket names; empty means exactly the names the pipeline uses."
  type        = string
  default     = ""
}

variable "raw_retention_days" {
  description = "Object Lock retention (governance mode) of every object version written to raw-data."
  type        = number
  default     = 365

  validation {
    condition     = var.raw_retention_days >= 1
    error_message = "raw_retention_days must be at least 1."
  }
}

variable "force_destroy_working_buckets" {
  description = "Let `tofu destroy` empty the working buckets (never raw-data). For rehearsal stacks only."
  type        = bool
  default     = false
}

variable "kafka_bootstrap_servers" {
  description = "Bootstrap servers of the Kafka cluster (MSK or any Kafka): passed through to the outputs."
  type        = string
}

# --- PostgreSQL: the ERP source (totesys), the rainforest app database and the warehouse -----------------
# An existing server by default (RDS or any PostgreSQL); create_rds = true builds one instead.
variable "postgres_host" {
  description = "Host of the existing PostgreSQL server (ignored when create_rds = true)."
  type        = string
  default     = ""
}

variable "postgres_port" {
  type    = number
  default = 5432
}

variable "postgres_user" {
  description = "The pipeline's PostgreSQL login (POSTGRES_USER); its password lives in Secrets Manager."
  type        = string
  default     = "shopflow"
}

variable "postgres_db" {
  description = "The pipeline's default database (POSTGRES_DB)."
  type        = string
  default     = "shopflow"
}

variable "postgres_reader_user" {
  description = "The read-only login of the extractions and the dashboard (POSTGRES_READER_USER)."
  type        = string
  default     = "shopflow_reader"
}

variable "erp_source_database" {
  description = "The ERP's OLTP database on that server, read through the read-only login (settings.SOURCE_DATABASES)."
  type        = string
  default     = "totesys"

  # The project reads the name from settings.SOURCE_DATABASES, not from the environment (docs/deploy.md).
  validation {
    condition     = var.erp_source_database == "totesys"
    error_message = "The pipeline reads the ERP from the database totesys (settings.SOURCE_DATABASES)."
  }
}

variable "warehouse_database" {
  description = "The relational warehouse database on that server (ERP star schema; settings.WAREHOUSE_DATABASE)."
  type        = string
  default     = "warehouse"

  validation {
    condition     = var.warehouse_database == "warehouse"
    error_message = "The pipeline loads the warehouse database warehouse (settings.WAREHOUSE_DATABASE)."
  }
}

variable "create_rds" {
  description = "Create an RDS PostgreSQL instance (modules/rds-postgres) instead of using postgres_host."
  type        = bool
  default     = false
}

variable "rds_instance_class" {
  type    = string
  default = "db.t4g.medium"
}

variable "rds_allocated_storage_gb" {
  type    = number
  default = 50
}

variable "rds_subnet_ids" {
  description = "Private subnets of the RDS instance (create_rds = true)."
  type        = list(string)
  default     = []
}

variable "rds_security_group_ids" {
  description = "Security groups that let the pipeline's hosts reach port 5432 (create_rds = true)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}
