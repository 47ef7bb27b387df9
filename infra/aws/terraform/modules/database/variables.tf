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
  description = "ID of the VPC the database runs in."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Isolated subnets (no internet route) for the DB subnet group, in at least two AZs."

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "subnet_ids must hold at least two subnet IDs (subnet-...) in different AZs."
  }
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups whose members may connect to PostgreSQL on 5432 (nothing else may)."

  validation {
    condition     = length(var.allowed_security_group_ids) >= 1 && alltrue([for id in var.allowed_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "allowed_security_group_ids must hold at least one security group ID (sg-...)."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL 16 engine version, \"16\" or \"16.<minor>\" (the parameter group family is postgres16). Minor upgrades are applied automatically in the maintenance window."
  default     = "16.4"

  validation {
    condition     = can(regex("^16(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be \"16\" or \"16.<minor>\", e.g. \"16.4\"."
  }
}

variable "instance_class" {
  type        = string
  description = "RDS instance class, e.g. \"db.t4g.medium\"."
  default     = "db.t4g.medium"

  validation {
    condition     = can(regex("^db\\.[a-z0-9-]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must look like \"db.t4g.medium\"."
  }
}

variable "allocated_storage" {
  type        = number
  description = "Initial gp3 storage in GiB (20..65536)."
  default     = 50

  validation {
    condition     = floor(var.allocated_storage) == var.allocated_storage && var.allocated_storage >= 20 && var.allocated_storage <= 65536
    error_message = "allocated_storage must be a whole number of GiB from 20 to 65536."
  }
}

variable "max_allocated_storage" {
  type        = number
  description = "Upper limit in GiB for storage autoscaling; must exceed allocated_storage."
  default     = 500

  validation {
    condition     = floor(var.max_allocated_storage) == var.max_allocated_storage && var.max_allocated_storage >= 21 && var.max_allocated_storage <= 65536
    error_message = "max_allocated_storage must be a whole number of GiB from 21 to 65536 (and above allocated_storage)."
  }
}

variable "multi_az" {
  type        = bool
  description = "Run a synchronous standby in a second AZ (production: true)."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance until this is turned off (production: true)."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Days automated backups (point-in-time recovery) are kept (1..35)."
  default     = 7

  validation {
    condition     = floor(var.backup_retention_days) == var.backup_retention_days && var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be a whole number from 1 to 35."
  }
}

variable "skip_final_snapshot" {
  type        = bool
  description = "Delete the instance without a final snapshot (only for throwaway environments)."
  default     = false
}

variable "recovery_window_days" {
  type        = number
  description = "Days a deleted database-URL secret can still be restored: 0 (delete at once) or 7..30."
  default     = 7

  validation {
    condition     = var.recovery_window_days == 0 || (floor(var.recovery_window_days) == var.recovery_window_days && var.recovery_window_days >= 7 && var.recovery_window_days <= 30)
    error_message = "recovery_window_days must be 0 or a whole number from 7 to 30."
  }
}
