variable "name" {
  type        = string
  description = "Name prefix for every resource, e.g. \"zinovia-staging\"; the bucket is \"<name>-media-<account id>\"."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "app_origins" {
  type        = list(string)
  description = "Browser origins allowed by the bucket's CORS rule (presigned PUT uploads, and GETs), e.g. [\"https://app.zinovia.example\"]: scheme and host only, no path, no trailing slash."

  validation {
    condition     = length(var.app_origins) > 0
    error_message = "app_origins must hold at least one origin."
  }

  validation {
    condition = alltrue([
      for o in var.app_origins : startswith(o, "https://") && !strcontains(o, "*") && !endswith(o, "/")
    ])
    error_message = "Every app_origins entry must start with \"https://\", contain no \"*\" and not end with \"/\"."
  }
}

variable "ia_after_days" {
  type        = number
  description = "Days after which current media objects move to STANDARD_IA (S3 requires at least 30)."
  default     = 90

  validation {
    condition     = var.ia_after_days >= 30 && var.ia_after_days <= 3650 && floor(var.ia_after_days) == var.ia_after_days
    error_message = "ia_after_days must be a whole number between 30 and 3650."
  }
}

variable "noncurrent_expire_days" {
  type        = number
  description = "Days after which noncurrent (overwritten or deleted) object versions are expired."
  default     = 30

  validation {
    condition     = var.noncurrent_expire_days >= 1 && var.noncurrent_expire_days <= 3650 && floor(var.noncurrent_expire_days) == var.noncurrent_expire_days
    error_message = "noncurrent_expire_days must be a whole number between 1 and 3650."
  }
}

variable "logs_bucket" {
  type        = string
  description = "Name of the logs bucket (logs_bucket module output \"bucket\") receiving the media bucket's server access logs under s3/media/."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.logs_bucket))
    error_message = "logs_bucket must be an S3 bucket name."
  }
}

variable "logs_bucket_domain_name" {
  type        = string
  description = "bucket_domain_name of the logs bucket (logs_bucket module output \"domain_name\") for CloudFront standard logs under cloudfront/media/."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\\.s3\\.amazonaws\\.com$", var.logs_bucket_domain_name))
    error_message = "logs_bucket_domain_name must look like \"<bucket>.s3.amazonaws.com\"."
  }
}

variable "signing_public_key_pem" {
  type        = string
  description = "PEM public key (RSA 2048 or ECDSA P-256) whose private half the app holds as CLOUDFRONT_PRIVATE_KEY to sign media URLs."

  validation {
    condition     = startswith(trimspace(var.signing_public_key_pem), "-----BEGIN PUBLIC KEY-----") && endswith(trimspace(var.signing_public_key_pem), "-----END PUBLIC KEY-----")
    error_message = "signing_public_key_pem must be a PEM \"PUBLIC KEY\" block."
  }
}

variable "media_domain" {
  type        = string
  description = "Host name of the media CDN, e.g. \"media.zinovia.example\" (alias of the distribution)."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.media_domain))
    error_message = "media_domain must be a lowercase fully qualified host name without a trailing dot."
  }
}

variable "certificate_arn" {
  type        = string
  description = "ARN of the ACM certificate for media_domain; CloudFront requires it in us-east-1."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN in us-east-1."
  }
}

variable "price_class" {
  type        = string
  description = "CloudFront price class."
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "web_acl_arn" {
  type        = string
  description = "ARN of the CLOUDFRONT-scope WAFv2 web ACL (waf module, us-east-1) attached to the distribution."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/.+$", var.web_acl_arn))
    error_message = "web_acl_arn must be the ARN of a CLOUDFRONT-scope (global, us-east-1) WAFv2 web ACL."
  }
}
