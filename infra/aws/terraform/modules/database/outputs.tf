output "database_url_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the app's DATABASE_URL."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "address" {
  description = "Host name of the PostgreSQL instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port PostgreSQL listens on."
  value       = aws_db_instance.this.port
}

output "security_group_id" {
  description = "ID of the database's security group (5432 from allowed_security_group_ids only)."
  value       = aws_security_group.this.id
}

output "instance_id" {
  description = "Identifier of the RDS instance (the DBInstanceIdentifier dimension of its CloudWatch metrics)."
  value       = aws_db_instance.this.identifier
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the database-URL secret (and the storage): readers of the secret need kms:Decrypt on it."
  value       = aws_kms_key.this.arn
}
