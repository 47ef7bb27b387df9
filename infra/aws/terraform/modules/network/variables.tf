variable "name" {
  type        = string
  description = "Prefix of every resource name, e.g. \"zinovia-staging\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}[a-z0-9]$", var.name))
    error_message = "name must be 2-28 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "cidr" {
  type        = string
  description = "IPv4 CIDR block of the VPC, a /16 to /19 network address (subnets are carved from it with cidrsubnet)."
  default     = "10.40.0.0/16"

  validation {
    condition = (
      can(cidrhost(var.cidr, 0)) &&
      can(regex("^[0-9.]+/[0-9]+$", var.cidr)) &&
      try(cidrsubnet(var.cidr, 0, 0) == var.cidr, false) &&
      try(tonumber(split("/", var.cidr)[1]) >= 16 && tonumber(split("/", var.cidr)[1]) <= 19, false)
    )
    error_message = "cidr must be an IPv4 network address with a prefix length from /16 to /19, e.g. \"10.40.0.0/16\"."
  }
}

variable "az_count" {
  type        = number
  description = "Number of availability zones to spread the subnets over (2 or 3)."
  default     = 2

  validation {
    condition     = contains([2, 3], var.az_count)
    error_message = "az_count must be 2 or 3."
  }
}

variable "nat_gateway_count" {
  type        = number
  description = "Number of NAT gateways (1..az_count). Private subnets of AZ i egress through NAT gateway i % nat_gateway_count."
  default     = 1

  validation {
    condition     = floor(var.nat_gateway_count) == var.nat_gateway_count && var.nat_gateway_count >= 1 && var.nat_gateway_count <= 3
    error_message = "nat_gateway_count must be a whole number from 1 to 3 (and at most az_count)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the VPC flow log group in days (a value CloudWatch Logs accepts)."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}
