variable "name" {
  type        = string
  description = "Prefix of every resource name, e.g. \"zinovia-staging\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}[a-z0-9]$", var.name))
    error_message = "name must be 2-28 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "recovery_window_days" {
  type        = number
  description = "Days a deleted secret can still be restored: 0 (delete at once) or 7..30."
  default     = 7

  validation {
    condition     = var.recovery_window_days == 0 || (floor(var.recovery_window_days) == var.recovery_window_days && var.recovery_window_days >= 7 && var.recovery_window_days <= 30)
    error_message = "recovery_window_days must be 0 or a whole number from 7 to 30."
  }
}
