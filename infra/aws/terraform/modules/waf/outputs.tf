output "web_acl_arn" {
  description = "ARN of the web ACL (for CLOUDFRONT scope: the distribution's web_acl_id)."
  value       = aws_wafv2_web_acl.this.arn
}

output "web_acl_id" {
  description = "ID of the web ACL."
  value       = aws_wafv2_web_acl.this.id
}
