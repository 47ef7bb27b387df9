environment   = "production"
region        = "eu-west-1"
zone_name     = "zinovia.example"
create_zone   = true
dns_delegated = false # true once the zone is delegated (docs/runbooks/aws/first-deploy.md)
app_domain    = "app.zinovia.example"
api_domain    = "api.zinovia.example"
media_domain  = "media.zinovia.example"
image         = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/zinovia:set-by-the-release"
mail_from     = "Zinovia <no-reply@zinovia.example>"
alarm_email   = "oncall@zinovia.example"

az_count          = 3
nat_gateway_count = 3

db_instance_class        = "db.r7g.large"
db_allocated_storage     = 200
db_multi_az              = true
db_deletion_protection   = true
db_backup_retention_days = 30

redis_node_type          = "cache.r7g.large"
redis_num_cache_clusters = 2

waf_mode                = "block"
log_retention_days      = 365
alb_deletion_protection = true
platform_fee_percent    = 20

services = {
  web    = { cpu = 512, memory = 1024, min_count = 2, max_count = 10 }
  api    = { cpu = 1024, memory = 2048, min_count = 3, max_count = 20 }
  worker = { cpu = 2048, memory = 8192, min_count = 2, max_count = 8 }
}
