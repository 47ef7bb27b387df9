variable "zone_name" {
  type        = string
  description = "Public hosted zone holding every record, e.g. \"zinovia.example\" (no trailing dot)."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.zone_name))
    error_message = "zone_name must be a lowercase domain name without a trailing dot."
  }
}

variable "app_domain" {
  type        = string
  description = "Host name of the web app (on the ALB), inside zone_name, e.g. \"app.zinovia.example\"."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.app_domain))
    error_message = "app_domain must be a lowercase fully qualified host name without a trailing dot."
  }
}

variable "api_domain" {
  type        = string
  description = "Host name of the API (on the ALB), inside zone_name, e.g. \"api.zinovia.example\"."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.api_domain))
    error_message = "api_domain must be a lowercase fully qualified host name without a trailing dot."
  }
}

variable "media_domain" {
  type        = string
  description = "Host name of the media CDN (CloudFront), inside zone_name, e.g. \"media.zinovia.example\"."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.media_domain))
    error_message = "media_domain must be a lowercase fully qualified host name without a trailing dot."
  }
}

variable "create_zone" {
  type        = bool
  description = "true: create the public hosted zone zone_name here; false: look up an existing public zone of that name."
}

variable "dns_delegated" {
  type        = bool
  description = "Whether the registrar already delegates zone_name to the zone's name servers. false: certificates and validation records are created but not waited for (apply succeeds before delegation; see the name_servers and validation_records outputs). true: apply waits until both certificates are issued."
}

variable "alb_dns_name" {
  type        = string
  description = "DNS name of the ALB, target of the app_domain and api_domain alias records."

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+\\.elb\\.amazonaws\\.com(\\.cn)?$", var.alb_dns_name))
    error_message = "alb_dns_name must be an ELB DNS name (\"...elb.amazonaws.com\")."
  }
}

variable "alb_zone_id" {
  type        = string
  description = "Canonical hosted zone ID of the ALB (aws_lb.zone_id)."

  validation {
    condition     = can(regex("^Z[A-Z0-9]{1,31}$", var.alb_zone_id))
    error_message = "alb_zone_id must be a Route 53 hosted zone ID (\"Z...\")."
  }
}

variable "cloudfront_domain_name" {
  type        = string
  description = "*.cloudfront.net domain name of the media distribution, target of the media_domain alias records."

  validation {
    condition     = can(regex("^[a-z0-9]+\\.cloudfront\\.net$", var.cloudfront_domain_name))
    error_message = "cloudfront_domain_name must look like \"d111111abcdef8.cloudfront.net\"."
  }
}
