output "redis_url_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the app's REDIS_URL."
  value       = aws_secretsmanager_secret.redis_url.arn
}

output "security_group_id" {
  description = "ID of the cache's security group (6379 from allowed_security_group_ids only)."
  value       = aws_security_group.this.id
}

output "replication_group_id" {
  description = "ID of the ElastiCache replication group (for alarms)."
  value       = aws_elasticache_replication_group.this.id
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the redis-URL secret (and the data at rest): readers of the secret need kms:Decrypt on it."
  value       = aws_kms_key.this.arn
}
