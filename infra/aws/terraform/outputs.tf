output "app_url" {
  description = "The site (PUBLIC_BASE_URL)."
  value       = "https://${var.app_domain}"
}

output "cdn_base_url" {
  description = "CDN_BASE_URL as given to the services: the CloudFront distribution this stack created."
  value       = module.media.cdn_base_url
}

output "name_servers" {
  description = "The hosted zone's name servers: delegate the zone to these at the registrar, then set dns_delegated = true."
  value       = module.dns.name_servers
}

output "certificate_validation_records" {
  description = "DNS records that validate the certificates (already in the zone; add them by hand only if the zone is hosted elsewhere)."
  value       = module.dns.validation_records
}

output "alb_dns_name" {
  description = "The load balancer (the app and API records alias to it)."
  value       = module.alb.dns_name
}

output "ecs_cluster" {
  description = "The ECS cluster of web, api, worker."
  value       = module.ecs.cluster_name
}

output "migrate_task_definition" {
  description = "Run before each deploy: aws ecs run-task --task-definition <this> (docs/runbooks/aws/release.md)."
  value       = module.ecs.migrate_task_definition
}

output "task_network" {
  description = "Subnets and security group for one-off tasks (migrate)."
  value = {
    subnets         = module.network.private_subnet_ids
    security_groups = [module.ecs.tasks_security_group_id]
  }
}

output "media_bucket" {
  description = "The media bucket."
  value       = module.media.bucket
}

output "cloudfront_distribution_id" {
  description = "The media distribution (invalidations: docs/runbooks/aws/cloudfront-invalidation.md)."
  value       = module.media.distribution_id
}

output "alarm_topic_arn" {
  description = "The SNS topic every alarm notifies."
  value       = module.alarms.topic_arn
}

output "log_groups" {
  description = "CloudWatch log groups by container."
  value       = module.ecs.log_group_names
}
