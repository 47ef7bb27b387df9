# Zinovia on AWS: one stack per environment (staging.tfvars, production.tfvars). The app is
# one image run as three ECS services (web, api, worker) plus a one-off migration task,
# behind one ALB; PostgreSQL on RDS, Redis on ElastiCache, media in S3 behind CloudFront
# with signed URLs; WAF in front of both; secrets in Secrets Manager.

locals {
  name = "zinovia-${var.environment}"
}

module "network" {
  source             = "./modules/network"
  name               = local.name
  az_count           = var.az_count
  nat_gateway_count  = var.nat_gateway_count
  log_retention_days = var.log_retention_days
}

module "logs" {
  source = "./modules/logs_bucket"
  name   = local.name
}

module "dns" {
  source = "./modules/dns_certs"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
  zone_name              = var.zone_name
  create_zone            = var.create_zone
  dns_delegated          = var.dns_delegated
  app_domain             = var.app_domain
  api_domain             = var.api_domain
  media_domain           = var.media_domain
  alb_dns_name           = module.alb.dns_name
  alb_zone_id            = module.alb.zone_id
  cloudfront_domain_name = module.media.distribution_domain_name
}

module "secrets" {
  source = "./modules/secrets"
  name   = local.name
}

module "waf_alb" {
  source     = "./modules/waf"
  name       = local.name
  scope      = "REGIONAL"
  mode       = var.waf_mode
  rate_limit = var.waf_rate_limit
  alb_arn    = module.alb.arn
}

module "waf_cloudfront" {
  source = "./modules/waf"
  providers = {
    aws = aws.us_east_1
  }
  name       = local.name
  scope      = "CLOUDFRONT"
  mode       = var.waf_mode
  rate_limit = var.waf_rate_limit
}

module "media" {
  source                  = "./modules/media"
  name                    = local.name
  app_origins             = ["https://${var.app_domain}", "https://${var.api_domain}"]
  media_domain            = var.media_domain
  certificate_arn         = module.dns.cloudfront_certificate_arn
  signing_public_key_pem  = module.secrets.cloudfront_public_key_pem
  logs_bucket             = module.logs.bucket
  logs_bucket_domain_name = module.logs.domain_name
  web_acl_arn             = module.waf_cloudfront.web_acl_arn
}

module "alb" {
  source              = "./modules/alb"
  name                = local.name
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  certificate_arn     = module.dns.regional_certificate_arn
  app_domain          = var.app_domain
  api_domain          = var.api_domain
  logs_bucket         = module.logs.bucket
  deletion_protection = var.alb_deletion_protection
}

module "database" {
  source                     = "./modules/database"
  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.isolated_subnet_ids
  allowed_security_group_ids = [module.ecs.tasks_security_group_id]
  engine_version             = "16"
  instance_class             = var.db_instance_class
  allocated_storage          = var.db_allocated_storage
  max_allocated_storage      = var.db_allocated_storage * 10
  multi_az                   = var.db_multi_az
  deletion_protection        = var.db_deletion_protection
  backup_retention_days      = var.db_backup_retention_days
  skip_final_snapshot        = false
}

module "cache" {
  source                     = "./modules/cache"
  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.isolated_subnet_ids
  allowed_security_group_ids = [module.ecs.tasks_security_group_id]
  node_type                  = var.redis_node_type
  num_cache_clusters         = var.redis_num_cache_clusters
}

module "ecs" {
  source                = "./modules/ecs"
  name                  = local.name
  region                = var.region
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  alb_security_group_id = module.alb.security_group_id
  alb_arn_suffix        = module.alb.arn_suffix
  image                 = var.image
  log_retention_days    = var.log_retention_days
  media_bucket_arn      = module.media.bucket_arn
  secret_kms_key_arns   = [module.secrets.kms_key_arn, module.database.kms_key_arn, module.cache.kms_key_arn]
  services              = local.services
  migrate = {
    command     = ["migrate"]
    environment = local.migrate_environment
    secrets     = local.migrate_secrets
  }
}

module "alarms" {
  source                    = "./modules/alarms"
  name                      = local.name
  alarm_email               = var.alarm_email
  alb_arn_suffix            = module.alb.arn_suffix
  target_group_arn_suffixes = module.alb.target_group_arn_suffixes
  db_instance_id            = module.database.instance_id
  db_allocated_storage_gb   = var.db_allocated_storage
  worker_log_group          = module.ecs.log_group_names["worker"]
  metric_namespace          = local.metric_namespace
  queue_depth_metric_name   = local.queue_depth_metric
}
