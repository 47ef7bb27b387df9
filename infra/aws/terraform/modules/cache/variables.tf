variable "name" {
  type        = string
  description = "Prefix of every resource name, e.g. \"zinovia-staging\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}[a-z0-9]$", var.name))
    error_message = "name must be 2-28 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "vpc_id" {
  type        = string
  description = "ID of the VPC the cache runs in."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Isolated subnets (no internet route) for the cache subnet group, in at least two AZs."

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "subnet_ids must hold at least two subnet IDs (subnet-...) in different AZs."
  }
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups whose members may connect to Redis on 6379 (nothing else may)."

  validation {
    condition     = length(var.allowed_security_group_ids) >= 1 && alltrue([for id in var.allowed_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "allowed_security_group_ids must hold at least one security group ID (sg-...)."
  }
}

variable "engine_version" {
  type        = string
  description = "Redis 7 engine version \"7.<minor>\" (parameter group default.redis7)."
  default     = "7.1"

  validation {
    condition     = can(regex("^7\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be \"7.<minor>\", e.g. \"7.1\"."
  }
}

variable "node_type" {
  type        = string
  description = "ElastiCache node type, e.g. \"cache.t4g.small\"."
  default     = "cache.t4g.small"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9-]+\\.[a-z0-9]+$", var.node_type))
    error_message = "node_type must look like \"cache.t4g.small\"."
  }
}

variable "num_cache_clusters" {
  type        = number
  description = "Nodes in the replication group (1..6): one primary and the rest replicas. Automatic failover and Multi-AZ are on only with 2 or more."
  default     = 2

  validation {
    condition     = floor(var.num_cache_clusters) == var.num_cache_clusters && var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6
    error_message = "num_cache_clusters must be a whole number from 1 to 6."
  }
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days daily snapshots are kept (0 turns snapshots off; max 35)."
  default     = 7

  validation {
    condition     = floor(var.snapshot_retention_days) == var.snapshot_retention_days && var.snapshot_retention_days >= 0 && var.snapshot_retention_days <= 35
    error_message = "snapshot_retention_days must be a whole number from 0 to 35."
  }
}

variable "recovery_window_days" {
  type        = number
  description = "Days a deleted redis-URL secret can still be restored: 0 (delete at once) or 7..30."
  default     = 7

  validation {
    condition     = var.recovery_window_days == 0 || (floor(var.recovery_window_days) == var.recovery_window_days && var.recovery_window_days >= 7 && var.recovery_window_days <= 30)
    error_message = "recovery_window_days must be 0 or a whole number from 7 to 30."
  }
}
