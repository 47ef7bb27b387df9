# ACM certificates (regional for the ALB, us-east-1 for CloudFront), their DNS validation
# records, and the alias records of the app, API and media host names.
#
# Order of creation (no cycle): zone -> certificates -> validation records -> (ALB and
# CloudFront, in the root, using the certificate ARNs) -> alias records. The certificates
# depend on nothing but the domain names.

locals {
  # Hosted zone ID of every CloudFront distribution, for alias records.
  cloudfront_zone_id = "Z2FDTNDATAQYW2"

  zone_id      = var.create_zone ? aws_route53_zone.this[0].zone_id : data.aws_route53_zone.this[0].zone_id
  name_servers = var.create_zone ? aws_route53_zone.this[0].name_servers : data.aws_route53_zone.this[0].name_servers

  regional_domains = [var.app_domain, var.api_domain]
  all_domains      = [var.app_domain, var.api_domain, var.media_domain]

  # One validation record per domain name (ACM gives the same record for a name in any
  # certificate, hence allow_overwrite below).
  validation_records = merge(
    {
      for o in aws_acm_certificate.regional.domain_validation_options : o.domain_name => {
        name  = o.resource_record_name
        type  = o.resource_record_type
        value = o.resource_record_value
      }
    },
    {
      for o in aws_acm_certificate.cloudfront.domain_validation_options : o.domain_name => {
        name  = o.resource_record_name
        type  = o.resource_record_type
        value = o.resource_record_value
      }
    },
  )

  alias_targets = {
    app = {
      fqdn     = var.app_domain
      dns_name = var.alb_dns_name
      zone_id  = var.alb_zone_id
      health   = true
    }
    api = {
      fqdn     = var.api_domain
      dns_name = var.alb_dns_name
      zone_id  = var.alb_zone_id
      health   = true
    }
    media = {
      fqdn     = var.media_domain
      dns_name = var.cloudfront_domain_name
      zone_id  = local.cloudfront_zone_id
      health   = false
    }
  }

  # A and AAAA for each host: "app-A", "app-AAAA", ...
  alias_records = merge([
    for key, t in local.alias_targets : {
      for type in ["A", "AAAA"] : "${key}-${type}" => merge(t, { type = type })
    }
  ]...)
}

# ---------------------------------------------------------------------------------------
# Hosted zone
# ---------------------------------------------------------------------------------------

resource "aws_route53_zone" "this" {
  #checkov:skip=CKV2_AWS_38:DNSSEC signing needs a KSK key in us-east-1 and a DS record at the registrar; it is a separate step after delegation, not part of the first apply.
  #checkov:skip=CKV2_AWS_39:Public zone of a web app: resolver query logs (us-east-1 log group) would add cost without answering any question the ALB and CloudFront access logs do not.
  count = var.create_zone ? 1 : 0

  name    = var.zone_name
  comment = "Zinovia public zone ${var.zone_name}"
}

data "aws_route53_zone" "this" {
  count = var.create_zone ? 0 : 1

  name         = var.zone_name
  private_zone = false
}

# ---------------------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------------------

resource "aws_acm_certificate" "regional" {
  domain_name               = var.app_domain
  subject_alternative_names = [var.api_domain]
  validation_method         = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = length(distinct(local.all_domains)) == length(local.all_domains)
      error_message = "app_domain, api_domain and media_domain must be different host names."
    }

    precondition {
      condition = alltrue([
        for d in local.all_domains : d == var.zone_name || endswith(d, ".${var.zone_name}")
      ])
      error_message = "app_domain, api_domain and media_domain must all be inside zone_name."
    }
  }
}

resource "aws_acm_certificate" "cloudfront" {
  provider = aws.us_east_1

  domain_name       = var.media_domain
  validation_method = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = local.validation_records

  zone_id         = local.zone_id
  name            = each.value.name
  type            = each.value.type
  ttl             = 60
  records         = [each.value.value]
  allow_overwrite = true
}

# Waiting for issuance only once the zone is delegated: before that ACM cannot see the
# records and the wait would time out.
resource "aws_acm_certificate_validation" "regional" {
  count = var.dns_delegated ? 1 : 0

  certificate_arn         = aws_acm_certificate.regional.arn
  validation_record_fqdns = [for d in local.regional_domains : aws_route53_record.validation[d].fqdn]
}

resource "aws_acm_certificate_validation" "cloudfront" {
  provider = aws.us_east_1
  count    = var.dns_delegated ? 1 : 0

  certificate_arn         = aws_acm_certificate.cloudfront.arn
  validation_record_fqdns = [aws_route53_record.validation[var.media_domain].fqdn]
}

# ---------------------------------------------------------------------------------------
# Alias records. AAAA answers only if the target serves IPv6: CloudFront does
# (is_ipv6_enabled), the ALB only with ip_address_type = "dualstack"; otherwise clients
# fall back to the A record.
# ---------------------------------------------------------------------------------------

resource "aws_route53_record" "alias" {
  for_each = local.alias_records

  zone_id = local.zone_id
  name    = each.value.fqdn
  type    = each.value.type

  alias {
    name                   = each.value.dns_name
    zone_id                = each.value.zone_id
    evaluate_target_health = each.value.health
  }
}
