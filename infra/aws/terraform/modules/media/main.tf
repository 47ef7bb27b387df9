# Media bucket (private, reached by browsers only through presigned PUTs and by CloudFront
# through OAC) and the CloudFront distribution that serves it with signed URLs.

data "aws_caller_identity" "current" {}

locals {
  origin_id = "media-s3"
}

# ---------------------------------------------------------------------------------------
# Bucket
# ---------------------------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_145:SSE-S3: CloudFront OAC reads it without KMS grants, and signed URLs already gate every read.
  #checkov:skip=CKV_AWS_144:Single-region by design: S3 durability plus versioning protect the media; replication would double storage cost.
  #checkov:skip=CKV2_AWS_62:No consumer for upload events: the app confirms each upload itself after the presigned PUT.
  bucket = "${var.name}-media-${data.aws_caller_identity.current.account_id}"
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# SSE-S3: CloudFront OAC reads it without KMS grants.
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

# Browsers upload with presigned PUTs whose signature covers Content-Type and
# Content-Length (Content-Length is set by the browser and is not a CORS request header).
resource "aws_s3_bucket_cors_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  cors_rule {
    allowed_methods = ["PUT", "GET", "HEAD"]
    allowed_origins = var.app_origins
    allowed_headers = ["content-type"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

# Creators' media is kept: no expiration of current objects.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "infrequent-access"
    status = "Enabled"

    filter {}

    transition {
      days          = var.ia_after_days
      storage_class = "STANDARD_IA"
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_expire_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  bucket = aws_s3_bucket.this.id

  target_bucket = var.logs_bucket
  target_prefix = "s3/media/"
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "AllowCloudFrontOacRead"
    effect  = "Allow"
    actions = ["s3:GetObject"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    # Processed media and originals only: verification documents under `private/` are
    # never readable through the CDN (ADR 0031); the app presigns them itself.
    resources = [
      "${aws_s3_bucket.this.arn}/media/*",
      "${aws_s3_bucket.this.arn}/uploads/*",
    ]

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
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
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ---------------------------------------------------------------------------------------
# CloudFront
# ---------------------------------------------------------------------------------------

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = "${var.name}-media"
  description                       = "CloudFront access to the ${var.name} media bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# A new PEM replaces the key: the new one is created first (name_prefix keeps names
# unique), the key group switches to it, then the old one is deleted. The app's
# CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY must change in the same rollout.
resource "aws_cloudfront_public_key" "this" {
  name_prefix = "${var.name}-media-"
  comment     = "Signs ${var.name} media URLs"
  encoded_key = "${trimspace(var.signing_public_key_pem)}\n"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudfront_key_group" "this" {
  name    = "${var.name}-media"
  comment = "Keys trusted for ${var.name} signed media URLs"
  items   = [aws_cloudfront_public_key.this.id]
}

# Nothing from the request is in the cache key: media keys are immutable object paths.
# Signed URL parameters (Expires, Signature, Key-Pair-Id, Hash-Algorithm) are checked at
# the edge and never part of the cache key, so all viewers share one cached copy.
#
# Range: CloudFront cannot put the Range header in a cache key (nor forward it with an
# origin request policy), and needs neither: for GETs it forwards Range to S3 itself,
# fetches and caches the object (or the requested parts of a large object) and answers
# ranged requests from the cache, so video seeking works with this policy.
resource "aws_cloudfront_cache_policy" "this" {
  name        = "${var.name}-media"
  comment     = "Signed media: no cookies, headers or query strings in the key"
  min_ttl     = 0
  default_ttl = 86400
  max_ttl     = 31536000

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true

    cookies_config {
      cookie_behavior = "none"
    }

    headers_config {
      header_behavior = "none"
    }

    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_response_headers_policy" "this" {
  #checkov:skip=CKV_AWS_259:HSTS is set (2 years, includeSubDomains, override) but without "preload": the preload list only reads the apex domain's header, so preloading is decided there, not on the media host.
  name    = "${var.name}-media"
  comment = "Security headers for ${var.name} media"

  security_headers_config {
    content_type_options {
      override = true
    }

    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = false
      override                   = true
    }

    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
  }
}

# HLS (ADR 0026): hls.js fetches playlists' segments with XHR from the app's pages, so the
# stream's folder answers CORS for the app's origins (GET/HEAD only; segments are whole
# files, no Range). The policy is applied by CloudFront itself: the cache key holds no
# Origin header, so S3's own CORS answer (which varies by Origin) is not cached for one
# origin and served to another. Segments are immutable and signed per folder (one custom
# policy with a wildcard per viewer), so they cache like every other media file.
resource "aws_cloudfront_response_headers_policy" "hls" {
  #checkov:skip=CKV_AWS_259:HSTS is set (2 years, includeSubDomains, override) but without "preload": the preload list only reads the apex domain's header, so preloading is decided there, not on the media host.
  name    = "${var.name}-media-hls"
  comment = "Security headers and CORS for ${var.name} HLS streams"

  cors_config {
    access_control_allow_credentials = false
    access_control_max_age_sec       = 3000
    origin_override                  = true

    access_control_allow_headers {
      items = ["*"]
    }

    access_control_allow_methods {
      items = ["GET", "HEAD", "OPTIONS"]
    }

    access_control_allow_origins {
      items = var.app_origins
    }
  }

  security_headers_config {
    content_type_options {
      override = true
    }

    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = false
      override                   = true
    }

    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_305:No default root object: the distribution serves only signed object keys, there is no index page.
  #checkov:skip=CKV_AWS_310:Origin failover not needed: a single S3 origin, whose regional availability is what a second origin would also rely on.
  #checkov:skip=CKV2_AWS_47:The web ACL comes from the waf module through var.web_acl_arn, which checkov cannot follow; that ACL includes AWSManagedRulesKnownBadInputsRuleSet (the Log4j rules).
  #checkov:skip=CKV_AWS_374:No geo restriction: creators and subscribers are worldwide; access is controlled by signed URLs.
  enabled         = true
  is_ipv6_enabled = true
  http_version    = "http2and3"
  comment         = "${var.name} media"
  price_class     = var.price_class
  aliases         = [var.media_domain]
  web_acl_id      = var.web_acl_arn

  origin {
    origin_id                = local.origin_id
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.this.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
    trusted_key_groups         = [aws_cloudfront_key_group.this.id]
  }

  # A video's HLS folder: the same signed-URL check and cache, plus CORS for hls.js.
  ordered_cache_behavior {
    path_pattern               = "media/*/hls/*"
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD", "OPTIONS"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.this.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.hls.id
    trusted_key_groups         = [aws_cloudfront_key_group.this.id]
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  logging_config {
    bucket          = var.logs_bucket_domain_name
    prefix          = "cloudfront/media/"
    include_cookies = false
  }
}
