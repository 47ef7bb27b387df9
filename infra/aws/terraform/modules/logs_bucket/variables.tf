variable "name" {
  type        = string
  description = "Name prefix for every resource, e.g. \"zinovia-staging\"; the bucket is \"<name>-logs-<account id>\"."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "retention_days" {
  type        = number
  description = "Days after which access logs (ALB, CloudFront, S3) are expired."
  default     = 365

  validation {
    condition     = var.retention_days >= 1 && var.retention_days <= 3650 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number between 1 and 3650."
  }
}
