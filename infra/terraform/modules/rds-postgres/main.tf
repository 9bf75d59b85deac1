# A private, encrypted PostgreSQL instance whose master password RDS generates and keeps in Secrets
# Manager (manage_master_user_password): it never appears in code or state.
variable "identifier" { type = string }
variable "instance_class" { type = string }
variable "allocated_storage" { type = number }
variable "username" { type = string }
variable "database" { type = string }
variable "subnet_ids" { type = list(string) }
variable "security_group_ids" { type = list(string) }

variable "engine_version" {
  type    = string
  default = "16"
}

resource "aws_db_subnet_group" "this" {
  name       = var.identifier
  subnet_ids = var.subnet_ids
}

resource "aws_db_instance" "this" {
  identifier                  = var.identifier
  engine                      = "postgres"
  engine_version              = var.engine_version
  instance_class              = var.instance_class
  allocated_storage           = var.allocated_storage
  max_allocated_storage       = var.allocated_storage * 4
  storage_encrypted           = true
  username                    = var.username
  db_name                     = var.database
  manage_master_user_password = true
  db_subnet_group_name        = aws_db_subnet_group.this.name
  vpc_security_group_ids      = var.security_group_ids
  publicly_accessible         = false
  backup_retention_period     = 7
  deletion_protection         = true
  skip_final_snapshot         = false
  final_snapshot_identifier   = "${var.identifier}-final"
}

output "address" { value = aws_db_instance.this.address }
output "port" { value = aws_db_instance.this.port }
output "master_secret_arn" { value = aws_db_instance.this.master_user_secret[0].secret_arn }
