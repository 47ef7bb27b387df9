# WAFv2 web ACL with AWS managed rule groups and a per-IP rate limit. Every rule counts
# or blocks according to var.mode, so staging can run the same rules in count mode first.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  acl_name       = "${var.name}-${lower(var.scope)}"
  log_group_name = "aws-waf-logs-${local.acl_name}"
  block          = var.mode == "block"
  # AWS managed rule groups taken as they are (the common rule set, with an override, and
  # the rate rule are written out below): rule name => priority and group.
  managed_groups = {
    "aws-ip-reputation"    = { priority = 0, group = "AWSManagedRulesAmazonIpReputationList", metric = "ip-reputation" }
    "aws-known-bad-inputs" = { priority = 2, group = "AWSManagedRulesKnownBadInputsRuleSet", metric = "known-bad-inputs" }
    "aws-sqli"             = { priority = 4, group = "AWSManagedRulesSQLiRuleSet", metric = "sqli" }
  }
}

resource "aws_wafv2_web_acl" "this" {
  #checkov:skip=CKV_AWS_192:AWSManagedRulesKnownBadInputsRuleSet (Log4JRCE included, nothing excluded) blocks with mode = "block" (production); only staging runs it in count mode on purpose, to find false positives before enforcing.
  name        = local.acl_name
  description = "${var.name} ${lower(var.scope)} web ACL (${var.mode} mode)"
  scope       = var.scope

  default_action {
    allow {}
  }

  dynamic "rule" {
    for_each = local.managed_groups
    content {
      name     = rule.key
      priority = rule.value.priority

      override_action {
        dynamic "none" {
          for_each = local.block ? [1] : []
          content {}
        }

        dynamic "count" {
          for_each = local.block ? [] : [1]
          content {}
        }
      }

      statement {
        managed_rule_group_statement {
          name        = rule.value.group
          vendor_name = "AWS"
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${local.acl_name}-${rule.value.metric}"
        sampled_requests_enabled   = true
      }
    }
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 1

    action {
      dynamic "block" {
        for_each = local.block ? [1] : []
        content {}
      }

      dynamic "count" {
        for_each = local.block ? [] : [1]
        content {}
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.rate_limit
        aggregate_key_type    = "IP"
        evaluation_window_sec = 300
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.acl_name}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-common"
    priority = 3

    override_action {
      dynamic "none" {
        for_each = local.block ? [1] : []
        content {}
      }

      dynamic "count" {
        for_each = local.block ? [] : [1]
        content {}
      }
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"

        # SizeRestrictions_BODY blocks request bodies over 8 KB. Media never passes the WAF
        # (browsers PUT it straight to S3 with presigned URLs), but API JSON bodies (long
        # posts, messages, batched requests) can exceed 8 KB; the app enforces its own
        # REQUEST_BODY_LIMIT. The rule only counts, so its matches stay visible in metrics.
        rule_action_override {
          name = "SizeRestrictions_BODY"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.acl_name}-common"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = local.acl_name
    sampled_requests_enabled   = true
  }
}

# ---------------------------------------------------------------------------------------
# Logging: CloudWatch Logs (the group name must start with "aws-waf-logs-"), encrypted
# with a customer-managed key. WAF adds the log group resource policy it needs itself.
# ---------------------------------------------------------------------------------------

data "aws_iam_policy_document" "logs_key" {
  #checkov:skip=CKV_AWS_109:Key policy: "*" is this key only, and the account root statement is the standard delegation to IAM.
  #checkov:skip=CKV_AWS_111:Key policy: "*" is this key only, and the account root statement is the standard delegation to IAM.
  #checkov:skip=CKV_AWS_356:Key policy: a key policy's resource "*" always means the key itself.
  statement {
    sid       = "AccountAdministration"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid    = "CloudWatchLogsUse"
    effect = "Allow"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}"]
    }
  }
}

resource "aws_kms_key" "logs" {
  description             = "${local.acl_name} WAF logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.logs_key.json
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${local.acl_name}-waf-logs"
  target_key_id = aws_kms_key.logs.key_id
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.this.arn]

  # Session and API credentials never reach the logs.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  redacted_fields {
    single_header {
      name = "cookie"
    }
  }
}

# ---------------------------------------------------------------------------------------
# ALB association (REGIONAL only)
# ---------------------------------------------------------------------------------------

resource "aws_wafv2_web_acl_association" "alb" {
  count = var.scope == "REGIONAL" && var.associate_alb ? 1 : 0

  resource_arn = var.alb_arn
  web_acl_arn  = aws_wafv2_web_acl.this.arn

  lifecycle {
    precondition {
      condition     = var.alb_arn != null
      error_message = "A REGIONAL web ACL needs alb_arn (or associate_alb = false)."
    }
  }
}
