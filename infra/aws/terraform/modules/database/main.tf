# RDS PostgreSQL 16 in the isolated subnets. The app connects as the master user "zinovia"
# with the URL kept in Secrets Manager (`${var.name}/database-url`); TLS is enforced by the
# parameter group (rds.force_ssl) and by the URL (sslmode=require).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  db_name     = "zinovia"
  db_username = "zinovia"
  db_port     = 5432
}

# One key for the storage, Performance Insights and the database-URL secret. The key policy
# delegates to IAM: RDS and Secrets Manager use it through the caller's grants, and the
# app's execution role is given kms:Decrypt on it (output kms_key_arn).
resource "aws_kms_key" "this" {
  description         = "${var.name}: RDS PostgreSQL storage, Performance Insights and database-URL secret"
  enable_key_rotation = true

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  })
}

resource "aws_db_subnet_group" "this" {
  name        = "${var.name}-postgres"
  description = "${var.name}: isolated subnets of the PostgreSQL instance"
  subnet_ids  = var.subnet_ids
}

resource "aws_security_group" "this" {
  name        = "${var.name}-postgres"
  description = "PostgreSQL: 5432 from the app only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "PostgreSQL from the allowed security groups"
    from_port       = local.db_port
    to_port         = local.db_port
    protocol        = "tcp"
    security_groups = var.allowed_security_group_ids
  }

  # No egress rules: the database initiates no connections.

  tags = {
    Name = "${var.name}-postgres"
  }
}

# name_prefix + create_before_destroy: a replacement (e.g. the postgres17 family at a major
# upgrade) is created before the one in use is deleted.
resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-postgres16-"
  family      = "postgres16"
  description = "${var.name}: PostgreSQL 16 (TLS only, slow-query and connection logging)"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  # Schema changes (migrations) only: "all"/"mod" would write application data to the logs.
  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "random_password" "master" {
  length  = 40
  special = true
  # Only URL-safe specials: the password is embedded in the DATABASE_URL unescaped.
  override_special = "-_"
}

resource "aws_iam_role" "monitoring" {
  name = "${var.name}-rds-monitoring"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "monitoring.rds.amazonaws.com" }
        Action    = "sts:AssumeRole"
        Condition = {
          StringEquals = {
            "aws:SourceAccount" = data.aws_caller_identity.current.account_id
          }
        }
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  identifier     = "${var.name}-postgres"
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  db_name  = local.db_name
  username = local.db_username
  password = random_password.master.result
  port     = local.db_port

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.this.arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.multi_az

  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  deletion_protection                 = var.deletion_protection

  backup_retention_period   = var.backup_retention_days
  copy_tags_to_snapshot     = true
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${var.name}-postgres-final"

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.this.arn
  performance_insights_retention_period = 7

  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.monitoring.arn
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  lifecycle {
    precondition {
      condition     = var.max_allocated_storage > var.allocated_storage
      error_message = "max_allocated_storage must be greater than allocated_storage."
    }
  }

  depends_on = [aws_iam_role_policy_attachment.monitoring]
}

resource "aws_secretsmanager_secret" "database_url" {
  #checkov:skip=CKV2_AWS_57:The master password is generated by Terraform and embedded in this URL; rotating it needs a rotation Lambda that rewrites the whole URL and restarts the app, which this stack does not run. Rotate by tainting random_password.master and redeploying.
  name                    = "${var.name}/database-url"
  description             = "${var.name}: DATABASE_URL of the app (postgres://zinovia:...@host:5432/zinovia?sslmode=require)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id     = aws_secretsmanager_secret.database_url.id
  secret_string = "postgres://${local.db_username}:${random_password.master.result}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/${local.db_name}?sslmode=require"
}
