variable "environment" {
  type        = string
  description = "staging or production: names resources and sets ENVIRONMENT for the app."
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "region" {
  type        = string
  description = "AWS region of everything but CloudFront's certificate and WAF (us-east-1)."
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like eu-west-1."
  }
}

variable "zone_name" {
  type        = string
  description = "The Route 53 hosted zone, e.g. zinovia.example (created here when create_zone)."
}

variable "create_zone" {
  type        = bool
  description = "Create the hosted zone (true) or use an existing one of this name (false)."
}

variable "dns_delegated" {
  type        = bool
  description = "Whether the zone's name servers are delegated at the registrar. While false, certificates are requested but not waited for; the outputs list the records to add."
}

variable "app_domain" {
  type        = string
  description = "Host of the web pages (PUBLIC_BASE_URL), e.g. app.zinovia.example."
  validation {
    condition     = can(regex("^[a-z0-9.-]+\\.[a-z]{2,}$", var.app_domain))
    error_message = "app_domain must be a host name."
  }
}

variable "api_domain" {
  type        = string
  description = "Host of the JSON API, e.g. api.zinovia.example."
  validation {
    condition     = can(regex("^[a-z0-9.-]+\\.[a-z]{2,}$", var.api_domain))
    error_message = "api_domain must be a host name."
  }
}

variable "media_domain" {
  type        = string
  description = "Host of the media CDN (CloudFront), e.g. media.zinovia.example."
  validation {
    condition     = can(regex("^[a-z0-9.-]+\\.[a-z]{2,}$", var.media_domain))
    error_message = "media_domain must be a host name."
  }
}

variable "image" {
  type        = string
  description = "The zinovia image every service runs (an immutable tag or digest)."
}

variable "az_count" {
  type        = number
  description = "Availability zones to spread over (2 or 3)."
  default     = 2
  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count: 2 or 3."
  }
}

variable "nat_gateway_count" {
  type        = number
  description = "NAT gateways: 1 for staging (cheaper, one AZ's egress), one per AZ for production."
  validation {
    condition     = var.nat_gateway_count >= 1 && var.nat_gateway_count <= 3
    error_message = "nat_gateway_count: 1 to 3 (at most az_count)."
  }
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class."
  validation {
    condition     = startswith(var.db_instance_class, "db.")
    error_message = "db_instance_class must be an RDS class such as db.t4g.medium."
  }
}

variable "db_allocated_storage" {
  type        = number
  description = "Initial database storage in GB (grows automatically up to 10×)."
  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 6000
    error_message = "db_allocated_storage: 20-6000 GB."
  }
}

variable "db_multi_az" {
  type        = bool
  description = "A standby in a second AZ (on for production)."
}

variable "db_deletion_protection" {
  type        = bool
  description = "Refuse deleting the database (on for production)."
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated backups and point-in-time recovery."
  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days: 1-35."
  }
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type."
}

variable "redis_num_cache_clusters" {
  type        = number
  description = "Redis nodes (2+ gives automatic failover)."
  validation {
    condition     = var.redis_num_cache_clusters >= 1 && var.redis_num_cache_clusters <= 6
    error_message = "redis_num_cache_clusters: 1-6."
  }
}

variable "waf_mode" {
  type        = string
  description = "count (staging: log what would be blocked) or block (production)."
  validation {
    condition     = contains(["count", "block"], var.waf_mode)
    error_message = "waf_mode must be count or block."
  }
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests per 5 minutes per client IP before the WAF's rate rule acts."
  default     = 2000
  validation {
    condition     = var.waf_rate_limit >= 100
    error_message = "waf_rate_limit: at least 100 (WAF's minimum)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps the services' logs."
}

variable "alarm_email" {
  type        = string
  description = "Where alarms are mailed (empty: subscribe to the SNS topic yourself)."
  default     = ""
}

variable "mail_from" {
  type        = string
  description = "Sender of the app's mail (MAIL_FROM), e.g. Zinovia <no-reply@zinovia.example>."
}

variable "platform_fee_percent" {
  type        = number
  description = "The platform's share of every payment (PLATFORM_FEE_PERCENT)."
  validation {
    condition     = var.platform_fee_percent >= 0 && var.platform_fee_percent <= 50
    error_message = "platform_fee_percent: 0-50."
  }
}

variable "services" {
  type = map(object({
    cpu       = number
    memory    = number
    min_count = number
    max_count = number
  }))
  description = "Size and scaling of each service: web, api, worker."
  validation {
    condition     = toset(keys(var.services)) == toset(["web", "api", "worker"])
    error_message = "services must size exactly web, api and worker."
  }
}

variable "alb_deletion_protection" {
  type        = bool
  description = "Refuse deleting the load balancer (on for production)."
}
