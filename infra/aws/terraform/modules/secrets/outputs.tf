output "arns" {
  description = "ARNs of the app's secrets by key: session_secret, data_encryption_key, stripe_secret_key, stripe_webhook_secret, smtp_url, cloudfront_private_key."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting these secrets: readers of a secret need kms:Decrypt on it."
  value       = aws_kms_key.this.arn
}

output "cloudfront_public_key_pem" {
  description = "Public half (PEM) of the CloudFront URL-signing key, to register as a CloudFront public key."
  value       = tls_private_key.cloudfront.public_key_pem
}
