variable "name" {
  type        = string
  description = "Prefix of every resource name, e.g. zinovia-staging."
}

variable "alarm_email" {
  type        = string
  description = "Where alarms are sent (an SNS email subscription; confirm the first mail). Empty: no subscription."
  default     = ""
  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an email address or empty."
  }
}

variable "alb_arn_suffix" {
  type        = string
  description = "The load balancer's ARN suffix."
}

variable "target_group_arn_suffixes" {
  type        = map(string)
  description = "Target group ARN suffixes by service (web, api)."
}

variable "db_instance_id" {
  type        = string
  description = "The RDS instance identifier."
}

variable "db_allocated_storage_gb" {
  type        = number
  description = "The database's allocated storage, to alarm at 15 % free."
}

variable "worker_log_group" {
  type        = string
  description = "The worker's log group (jobs that fail for good and queue depth are read from its JSON logs)."
}

variable "error_rate_percent" {
  type        = number
  description = "Alarm when 5xx responses exceed this share of requests over 5 minutes."
  default     = 2
  validation {
    condition     = var.error_rate_percent > 0 && var.error_rate_percent <= 100
    error_message = "error_rate_percent: 0-100."
  }
}

variable "response_time_p95_seconds" {
  type        = number
  description = "Alarm when the targets' p95 response time exceeds this for 10 minutes."
  default     = 1
}

variable "queue_depth_threshold" {
  type        = number
  description = "Alarm when more jobs than this wait in the queue for 15 minutes."
  default     = 500
}

variable "metric_namespace" {
  type        = string
  description = "CloudWatch namespace of the metrics read from the worker's logs (the worker's autoscaling reads QueueDepth there too)."
}

variable "queue_depth_metric_name" {
  type        = string
  description = "Name of the queue depth metric (jobs due and waiting)."
  default     = "QueueDepth"
}
