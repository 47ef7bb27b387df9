output "bucket" {
  description = "Name (= id) of the logs bucket: ALB access_logs.bucket (prefix \"alb\") and the target of S3 server access logging (prefix \"s3/<bucket>/\")."
  value       = aws_s3_bucket.this.id

  # ALB and S3 check write access when logging is switched on: hand the name out only once
  # the bucket policy is in place.
  depends_on = [aws_s3_bucket_policy.this]
}

output "arn" {
  description = "ARN of the logs bucket."
  value       = aws_s3_bucket.this.arn
}

output "domain_name" {
  description = "bucket_domain_name of the logs bucket, for CloudFront standard logging (logging_config.bucket, prefix \"cloudfront/<name>/\")."
  value       = aws_s3_bucket.this.bucket_domain_name

  # CloudFront needs the ACL (awslogsdelivery grant) when the distribution is created.
  depends_on = [aws_s3_bucket_acl.this]
}
