variable "name" {
  type        = string
  description = "Prefix of every resource name, e.g. zinovia-staging."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,27}$", var.name))
    error_message = "name: 3-28 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region (for the awslogs driver)."
}

variable "vpc_id" {
  type        = string
  description = "The VPC."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the tasks run in (egress through NAT, no public IPs)."
  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Tasks need subnets in at least two AZs."
  }
}

variable "alb_security_group_id" {
  type        = string
  description = "The load balancer's security group: the only source allowed to the tasks' port."
}

variable "alb_arn_suffix" {
  type        = string
  description = "The load balancer's ARN suffix (request-count scaling)."
}

variable "image" {
  type        = string
  description = "The zinovia image (every role), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/zinovia:1.4.2. Prefer an immutable tag or digest."
  validation {
    condition     = length(var.image) > 0 && !endswith(var.image, ":latest")
    error_message = "image: give an immutable tag or digest, not :latest (rollbacks need the previous image)."
  }
}

variable "clamd_image" {
  type        = string
  description = "The ClamAV daemon image run beside the worker (uploads are scanned before processing)."
  default     = "clamav/clamav:1.4"
}

variable "log_retention_days" {
  type        = number
  description = "Days the services' logs are kept."
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's retention values (e.g. 30, 90, 365)."
  }
}

variable "services" {
  type = map(object({
    command                 = list(string)
    cpu                     = number
    memory                  = number
    min_count               = number
    max_count               = number
    cpu_target              = number
    behind_alb              = optional(bool, false)
    target_group_arn        = optional(string)
    target_group_arn_suffix = optional(string)
    requests_per_target     = optional(number)
    with_clamd              = optional(bool, false)
    queue_metric = optional(object({
      namespace = string
      name      = string
      target    = number
    }))
    environment = map(string)
    secrets     = map(string)
  }))
  description = "The long-running services (web, api, worker): command, size, scaling (CPU; requests per target behind the ALB; a queue-depth metric for the worker), the load balancer's target group, environment (name → value) and secrets (name → Secrets Manager ARN)."
  validation {
    condition     = alltrue([for s in values(var.services) : s.min_count >= 1 && s.max_count >= s.min_count])
    error_message = "Every service needs 1 <= min_count <= max_count."
  }
  validation {
    condition     = alltrue([for s in values(var.services) : contains([256, 512, 1024, 2048, 4096, 8192, 16384], s.cpu)])
    error_message = "cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
  validation {
    condition     = alltrue([for s in values(var.services) : !s.behind_alb || (s.target_group_arn != null && s.target_group_arn_suffix != null)])
    error_message = "A service behind_alb needs its target_group_arn and target_group_arn_suffix."
  }
  validation {
    condition     = alltrue([for s in values(var.services) : length(setintersection(keys(s.environment), keys(s.secrets))) == 0])
    error_message = "A setting is given either as environment or as a secret, not both."
  }
}

variable "migrate" {
  type = object({
    command     = list(string)
    environment = map(string)
    secrets     = map(string)
  })
  description = "The one-off `zinovia migrate` task (run before every deploy, see docs/runbooks)."
}

variable "secret_kms_key_arns" {
  type        = list(string)
  description = "KMS keys of the secrets the services read (the execution role decrypts with them)."
}

variable "media_bucket_arn" {
  type        = string
  description = "The media bucket: the only objects the tasks may read and write."
}
