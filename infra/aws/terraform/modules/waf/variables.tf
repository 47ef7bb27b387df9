variable "name" {
  type        = string
  description = "Name prefix for every resource, e.g. \"zinovia-staging\"; the web ACL is \"<name>-<lower(scope)>\"."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "scope" {
  type        = string
  description = "WAF scope: \"REGIONAL\" (ALB, default provider region) or \"CLOUDFRONT\" (the root passes the us-east-1 provider as this module's default aws provider)."

  validation {
    condition     = contains(["REGIONAL", "CLOUDFRONT"], var.scope)
    error_message = "scope must be \"REGIONAL\" or \"CLOUDFRONT\"."
  }
}

variable "mode" {
  type        = string
  description = "\"count\" only counts matches of every rule (staging, to watch for false positives); \"block\" enforces them (production)."

  validation {
    condition     = contains(["count", "block"], var.mode)
    error_message = "mode must be \"count\" or \"block\"."
  }
}

variable "rate_limit" {
  type        = number
  description = "Requests allowed per client IP in any 5-minute window before the rate-based rule matches."
  default     = 2000

  validation {
    condition     = var.rate_limit >= 100 && var.rate_limit <= 2000000000 && floor(var.rate_limit) == var.rate_limit
    error_message = "rate_limit must be a whole number between 100 and 2000000000."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the WAF log group, in days (a CloudWatch Logs retention value)."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "associate_alb" {
  type        = bool
  description = "REGIONAL scope only: associate the web ACL with alb_arn (ignored for CLOUDFRONT). Set false for a regional ACL without a load balancer. A flag rather than a test on alb_arn, because alb_arn is unknown until the ALB exists and count cannot depend on it."
  default     = true
}

variable "alb_arn" {
  type        = string
  description = "ARN of the Application Load Balancer to protect: required when scope is REGIONAL and associate_alb is true, unused otherwise."
  default     = null

  validation {
    condition     = var.alb_arn == null || can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/.+$", var.alb_arn))
    error_message = "alb_arn must be null or the ARN of an Application Load Balancer."
  }
}
