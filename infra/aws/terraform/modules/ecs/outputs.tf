output "cluster_name" {
  description = "The ECS cluster (deploy and run-task commands in docs/runbooks)."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "The services by role: web, api, worker."
  value       = { for k, s in aws_ecs_service.service : k => s.name }
}

output "tasks_security_group_id" {
  description = "The tasks' security group (the database and Redis accept connections from it)."
  value       = aws_security_group.tasks.id
}

output "migrate_task_definition" {
  description = "The one-off migration task definition family (run before each deploy)."
  value       = aws_ecs_task_definition.migrate.family
}

output "log_group_names" {
  description = "Log groups by container: web, api, worker, migrate, clamd."
  value       = { for k, g in aws_cloudwatch_log_group.service : k => g.name }
}

output "task_role_arn" {
  description = "The role the app runs as (media bucket objects only)."
  value       = aws_iam_role.task.arn
}
