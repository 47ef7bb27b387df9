output "bucket" {
  description = "Name of the media bucket (the app's S3_BUCKET)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the media bucket (for the app role's IAM policy)."
  value       = aws_s3_bucket.this.arn
}

output "distribution_id" {
  description = "ID of the media CloudFront distribution."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_arn" {
  description = "ARN of the media CloudFront distribution."
  value       = aws_cloudfront_distribution.this.arn
}

output "distribution_domain_name" {
  description = "*.cloudfront.net domain name of the distribution (target of the media alias records)."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "cdn_base_url" {
  description = "Base URL of signed media URLs (the app's CDN_BASE_URL)."
  value       = "https://${var.media_domain}"
}

output "key_group_id" {
  description = "ID of the CloudFront key group trusted by the distribution."
  value       = aws_cloudfront_key_group.this.id
}

output "public_key_id" {
  description = "ID of the CloudFront public key: the app's CLOUDFRONT_KEY_PAIR_ID."
  value       = aws_cloudfront_public_key.this.id
}
