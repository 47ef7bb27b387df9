# One bucket for every access log of the environment:
#   alb/         ALB access logs (alb/AWSLogs/<account>/elasticloadbalancing/...)
#   cloudfront/  CloudFront standard logs (ACL-based delivery by awslogsdelivery)
#   s3/          S3 server access logs of the other buckets

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_canonical_user_id" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id

  # Canonical user of the "awslogsdelivery" account that writes CloudFront standard logs
  # (commercial partition).
  awslogsdelivery_canonical_id = "c4c1ede66af53448b93c283ce9448c4ba468c9432aa01d700d3878632f77d2d0"
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) on purpose: ALB access log delivery supports only SSE-S3, not SSE-KMS.
  #checkov:skip=CKV_AWS_18:This is the access-log sink itself; logging it into itself would loop, and another bucket would only move the problem.
  #checkov:skip=CKV_AWS_144:Access logs are operational data with a fixed retention; cross-region replication is not worth its cost here.
  #checkov:skip=CKV2_AWS_62:No consumer for object-created events on log files; notifications would be unused.
  bucket = "${var.name}-logs-${local.account_id}"
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  #checkov:skip=CKV2_AWS_65:CloudFront standard logging delivers through bucket ACLs (awslogsdelivery grant), which BucketOwnerEnforced disables; BucketOwnerPreferred keeps ACLs on while the owner still owns delivered objects.
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

# ACLs stay enabled only for CloudFront standard logging; the ACL grants nothing public.
resource "aws_s3_bucket_acl" "this" {
  bucket = aws_s3_bucket.this.id

  access_control_policy {
    owner {
      id = data.aws_canonical_user_id.current.id
    }

    grant {
      permission = "FULL_CONTROL"

      grantee {
        type = "CanonicalUser"
        id   = data.aws_canonical_user_id.current.id
      }
    }

    # The grant CloudFront itself adds when logging is configured; declared here so it
    # does not drift.
    grant {
      permission = "FULL_CONTROL"

      grantee {
        type = "CanonicalUser"
        id   = local.awslogsdelivery_canonical_id
      }
    }
  }

  depends_on = [aws_s3_bucket_ownership_controls.this]
}

# SSE-S3: ALB access log delivery supports only SSE-S3 (AES256), not SSE-KMS.
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.retention_days
    }

    # Versioning only guards against accidental deletion; old versions go after 30 days.
    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "this" {
  statement {
    sid     = "AllowAlbLogDelivery"
    effect  = "Allow"
    actions = ["s3:PutObject"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }

    resources = ["${aws_s3_bucket.this.arn}/alb/AWSLogs/${local.account_id}/*"]
  }

  statement {
    sid     = "AllowS3ServerAccessLogs"
    effect  = "Allow"
    actions = ["s3:PutObject"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    resources = ["${aws_s3_bucket.this.arn}/s3/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
