output "arn" {
  description = "The load balancer (for the WAF association)."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "The load balancer's ARN suffix (CloudWatch dimension LoadBalancer)."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "The load balancer's DNS name (alias target of the app and API records)."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "The load balancer's hosted zone (alias records)."
  value       = aws_lb.this.zone_id
}

output "security_group_id" {
  description = "The load balancer's security group (the tasks accept traffic from it)."
  value       = aws_security_group.alb.id
}

output "target_group_arns" {
  description = "Target groups by service: web, api."
  value       = { for k, tg in aws_lb_target_group.service : k => tg.arn }
}

output "target_group_arn_suffixes" {
  description = "Target group ARN suffixes by service (CloudWatch dimension TargetGroup, request-count scaling)."
  value       = { for k, tg in aws_lb_target_group.service : k => tg.arn_suffix }
}
