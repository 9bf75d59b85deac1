# Versions pinned so that `tofu init` (or `terraform init`) resolves the same provider everywhere;
# commit the .terraform.lock.hcl that the first init writes.
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.82.2"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ project = "shopflow", stack = var.name_prefix }, var.tags)
  }
}
