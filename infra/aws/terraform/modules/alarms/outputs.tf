output "topic_arn" {
  description = "The SNS topic every alarm notifies (subscribe more endpoints to it)."
  value       = aws_sns_topic.alarms.arn
}

output "queue_depth_metric" {
  description = "The queue depth metric (namespace/name) read from the worker's logs."
  value       = "Zinovia/${var.name}/QueueDepth"
}
