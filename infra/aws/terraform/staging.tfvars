environment   = "staging"
region        = "eu-west-1"
zone_name     = "staging.zinovia.example"
create_zone   = true
dns_delegated = false # true once the zone is delegated (docs/runbooks/aws/first-deploy.md)
app_domain    = "app.staging.zinovia.example"
api_domain    = "api.staging.zinovia.example"
media_domain  = "media.staging.zinovia.example"
image         = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/zinovia:set-by-the-release"
mail_from     = "Zinovia staging <no-reply@staging.zinovia.example>"

az_count          = 2
nat_gateway_count = 1

db_instance_class        = "db.t4g.medium"
db_allocated_storage     = 20
db_multi_az              = false
db_deletion_protection   = false
db_backup_retention_days = 7

redis_node_type          = "cache.t4g.small"
redis_num_cache_clusters = 1

waf_mode                = "count"
log_retention_days      = 30
alb_deletion_protection = false
platform_fee_percent    = 20

services = {
  web    = { cpu = 256, memory = 512, min_count = 1, max_count = 3 }
  api    = { cpu = 512, memory = 1024, min_count = 1, max_count = 4 }
  worker = { cpu = 1024, memory = 4096, min_count = 1, max_count = 2 }
}
