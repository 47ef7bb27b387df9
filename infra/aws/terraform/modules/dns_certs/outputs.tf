output "regional_certificate_arn" {
  description = "ARN of the regional certificate (app_domain + api_domain) for the ALB's HTTPS listener: the validated ARN when dns_delegated, otherwise the plain (possibly still pending) certificate ARN."
  value       = var.dns_delegated ? aws_acm_certificate_validation.regional[0].certificate_arn : aws_acm_certificate.regional.arn
}

output "cloudfront_certificate_arn" {
  description = "ARN of the us-east-1 certificate (media_domain) for CloudFront: the validated ARN when dns_delegated, otherwise the plain (possibly still pending) certificate ARN."
  value       = var.dns_delegated ? aws_acm_certificate_validation.cloudfront[0].certificate_arn : aws_acm_certificate.cloudfront.arn
}

output "zone_id" {
  description = "ID of the public hosted zone."
  value       = local.zone_id
}

output "name_servers" {
  description = "Name servers of the hosted zone: set these as the domain's NS at the registrar, then apply again with dns_delegated = true."
  value       = local.name_servers
}

output "validation_records" {
  description = "ACM DNS validation records (list of {name, type, value}); already in the hosted zone, listed for DNS managed elsewhere before delegation."
  value       = values(local.validation_records)
}
