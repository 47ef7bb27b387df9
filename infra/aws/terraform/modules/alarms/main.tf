# Alarms to one SNS topic: 5xx rate and p95 response time at the load balancer, RDS CPU and
# free storage, and from the worker's JSON logs: queue depth and jobs that failed for good.

resource "aws_kms_key" "alarms" {
  description         = "${var.name}: SNS alarm topic"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.kms.json
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:A key policy's resource is always the key itself ("*").
  #checkov:skip=CKV_AWS_356:A key policy's resource is always the key itself ("*").
  #checkov:skip=CKV_AWS_109:The account root keeps full control of its own key (AWS's default key policy), so the key cannot become unmanageable.
  statement {
    sid       = "Account"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchPublishes"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${var.name}-5xx-rate"
  alarm_description   = "More than ${var.error_rate_percent} % of requests answered 5xx (targets or the load balancer) over 5 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_percent
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "rate"
    expression  = "100 * (FILL(t5xx, 0) + FILL(e5xx, 0)) / MAX([requests, 1])"
    label       = "5xx %"
    return_data = true
  }
  metric_query {
    id = "t5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id = "e5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 300
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "response_time" {
  for_each            = var.target_group_arn_suffixes
  alarm_name          = "${var.name}-${each.key}-p95-response-time"
  alarm_description   = "The ${each.key} service's p95 response time is above ${var.response_time_p95_seconds} s for 10 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  extended_statistic  = "p95"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value }
  period              = 300
  evaluation_periods  = 2
  threshold           = var.response_time_p95_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "db_cpu" {
  alarm_name          = "${var.name}-db-cpu"
  alarm_description   = "The database's CPU is above 80 % for 15 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  period              = 300
  evaluation_periods  = 3
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "db_storage" {
  alarm_name          = "${var.name}-db-free-storage"
  alarm_description   = "The database has less than 15 % of its storage free (storage autoscaling may be at its maximum)."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  statistic           = "Minimum"
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  period              = 300
  evaluation_periods  = 1
  threshold           = var.db_allocated_storage_gb * 0.15 * 1024 * 1024 * 1024
  comparison_operator = "LessThanThreshold"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# The worker logs `queue depth` with the number of queued jobs every minute, and
# `job failed for good` for a job out of attempts (LOG_FORMAT=json).
resource "aws_cloudwatch_log_metric_filter" "queue_depth" {
  name           = "${var.name}-queue-depth"
  log_group_name = var.worker_log_group
  pattern        = "{ $.message = \"queue depth\" }"
  metric_transformation {
    name      = var.queue_depth_metric_name
    namespace = var.metric_namespace
    value     = "$.queued"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "failed_jobs" {
  name           = "${var.name}-failed-jobs"
  log_group_name = var.worker_log_group
  pattern        = "{ $.message = \"job failed for good\" }"
  metric_transformation {
    name          = "FailedJobs"
    namespace     = var.metric_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  alarm_name          = "${var.name}-queue-depth"
  alarm_description   = "More than ${var.queue_depth_threshold} jobs have waited for 15 minutes: the worker is down or too small."
  namespace           = var.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.queue_depth.metric_transformation[0].name
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.queue_depth_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "failed_jobs" {
  alarm_name          = "${var.name}-failed-jobs"
  alarm_description   = "A job failed for good (out of attempts): see `zinovia jobs failed` and docs/runbooks."
  namespace           = var.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.failed_jobs.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}
