variable "name" {
  type        = string
  description = "Prefix of every resource name, e.g. zinovia-staging."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,27}$", var.name))
    error_message = "name: 3-28 characters of a-z, 0-9 and -, starting with a letter (ALB names are at most 32 characters)."
  }
}

variable "vpc_id" {
  type        = string
  description = "The VPC."
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets (one per AZ) the load balancer lives in."
  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An ALB needs subnets in at least two AZs."
  }
}

variable "certificate_arn" {
  type        = string
  description = "Regional ACM certificate covering app_domain and api_domain."
}

variable "app_domain" {
  type        = string
  description = "Host of the web pages, e.g. app.zinovia.example."
}

variable "api_domain" {
  type        = string
  description = "Host of the JSON API, e.g. api.zinovia.example."
}

variable "logs_bucket" {
  type        = string
  description = "Bucket for access logs (written under alb/)."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse deleting the load balancer (on for production)."
}

variable "idle_timeout" {
  type        = number
  description = "Seconds a connection may stay idle (above the app's REQUEST_TIMEOUT, and above the 15 s heartbeat of the live message streams, which need no sticky sessions: ADR 0024)."
  default     = 60
  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000
    error_message = "idle_timeout: 1-4000 seconds."
  }
}
