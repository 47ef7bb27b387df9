# What each service runs and every setting it is given: as plain environment (`*_environment`)
# or from Secrets Manager (`*_secrets`, injected by ECS). Written out per service on purpose:
# `infra/aws/check` reads these maps and fails when a service lacks a setting `zinovia`
# requires in production, or is given one its role does not read (ADR 0016).

locals {
  # Metrics the worker's logs feed (modules/alarms) and its autoscaling reads.
  metric_namespace   = "Zinovia/${local.name}"
  queue_depth_metric = "QueueDepth"

  app_environment = var.environment == "production" ? "production" : "staging"

  web_environment = {
    ENVIRONMENT            = local.app_environment
    LOG_FORMAT             = "json"
    PUBLIC_BASE_URL        = "https://${var.app_domain}"
    TRUSTED_PROXIES        = module.network.vpc_cidr
    STORAGE                = "s3"
    S3_BUCKET              = module.media.bucket
    S3_REGION              = var.region
    CDN_BASE_URL           = module.media.cdn_base_url
    CLOUDFRONT_KEY_PAIR_ID = module.media.public_key_id
    PAYMENT_PROVIDERS      = "stripe"
    PLATFORM_FEE_PERCENT   = tostring(var.platform_fee_percent)
  }
  web_secrets = {
    DATABASE_URL           = module.database.database_url_secret_arn
    REDIS_URL              = module.cache.redis_url_secret_arn
    SESSION_SECRET         = module.secrets.arns["session_secret"]
    DATA_ENCRYPTION_KEY    = module.secrets.arns["data_encryption_key"]
    CLOUDFRONT_PRIVATE_KEY = module.secrets.arns["cloudfront_private_key"]
    STRIPE_SECRET_KEY      = module.secrets.arns["stripe_secret_key"]
    STRIPE_WEBHOOK_SECRET  = module.secrets.arns["stripe_webhook_secret"]
  }

  api_environment = {
    ENVIRONMENT            = local.app_environment
    LOG_FORMAT             = "json"
    PUBLIC_BASE_URL        = "https://${var.app_domain}"
    TRUSTED_PROXIES        = module.network.vpc_cidr
    CORS_ORIGINS           = "https://${var.app_domain}"
    STORAGE                = "s3"
    S3_BUCKET              = module.media.bucket
    S3_REGION              = var.region
    CDN_BASE_URL           = module.media.cdn_base_url
    CLOUDFRONT_KEY_PAIR_ID = module.media.public_key_id
    PAYMENT_PROVIDERS      = "stripe"
    PLATFORM_FEE_PERCENT   = tostring(var.platform_fee_percent)
  }
  api_secrets = {
    DATABASE_URL           = module.database.database_url_secret_arn
    REDIS_URL              = module.cache.redis_url_secret_arn
    SESSION_SECRET         = module.secrets.arns["session_secret"]
    DATA_ENCRYPTION_KEY    = module.secrets.arns["data_encryption_key"]
    CLOUDFRONT_PRIVATE_KEY = module.secrets.arns["cloudfront_private_key"]
    STRIPE_SECRET_KEY      = module.secrets.arns["stripe_secret_key"]
    STRIPE_WEBHOOK_SECRET  = module.secrets.arns["stripe_webhook_secret"]
  }

  worker_environment = {
    ENVIRONMENT            = local.app_environment
    LOG_FORMAT             = "json"
    PUBLIC_BASE_URL        = "https://${var.app_domain}"
    MAIL_FROM              = var.mail_from
    STORAGE                = "s3"
    S3_BUCKET              = module.media.bucket
    S3_REGION              = var.region
    CDN_BASE_URL           = module.media.cdn_base_url
    CLOUDFRONT_KEY_PAIR_ID = module.media.public_key_id
    CLAMAV_ADDR            = "127.0.0.1:3310"
    PAYMENT_PROVIDERS      = "stripe"
    PLATFORM_FEE_PERCENT   = tostring(var.platform_fee_percent)
  }
  worker_secrets = {
    DATABASE_URL           = module.database.database_url_secret_arn
    SMTP_URL               = module.secrets.arns["smtp_url"]
    CLOUDFRONT_PRIVATE_KEY = module.secrets.arns["cloudfront_private_key"]
    STRIPE_SECRET_KEY      = module.secrets.arns["stripe_secret_key"]
    STRIPE_WEBHOOK_SECRET  = module.secrets.arns["stripe_webhook_secret"]
  }

  migrate_environment = {
    ENVIRONMENT = local.app_environment
    LOG_FORMAT  = "json"
  }
  migrate_secrets = {
    DATABASE_URL = module.database.database_url_secret_arn
  }

  services = {
    web = merge(var.services["web"], {
      command                 = ["serve", "--role", "web"]
      cpu_target              = 60
      behind_alb              = true
      target_group_arn        = module.alb.target_group_arns["web"]
      target_group_arn_suffix = module.alb.target_group_arn_suffixes["web"]
      requests_per_target     = 500
      environment             = local.web_environment
      secrets                 = local.web_secrets
    })
    api = merge(var.services["api"], {
      command                 = ["serve", "--role", "api"]
      cpu_target              = 60
      behind_alb              = true
      target_group_arn        = module.alb.target_group_arns["api"]
      target_group_arn_suffix = module.alb.target_group_arn_suffixes["api"]
      requests_per_target     = 1000
      environment             = local.api_environment
      secrets                 = local.api_secrets
    })
    worker = merge(var.services["worker"], {
      command    = ["worker"]
      cpu_target = 70
      with_clamd = true
      queue_metric = {
        namespace = local.metric_namespace
        name      = local.queue_depth_metric
        target    = 50
      }
      environment = local.worker_environment
      secrets     = local.worker_secrets
    })
  }
}
