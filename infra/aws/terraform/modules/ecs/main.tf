# ECS on Fargate: one cluster; web, api and worker services from the one image; a one-off
# task definition for migrations; autoscaling on CPU and, behind the ALB, on requests per
# target; deployments that roll back on their own when new tasks do not become healthy.

locals {
  secret_arns = distinct(concat(
    flatten([for s in values(var.services) : values(s.secrets)]),
    values(var.migrate.secrets),
  ))
  env_list     = { for k, s in var.services : k => [for n, v in s.environment : { name = n, value = v }] }
  secrets_list = { for k, s in var.services : k => [for n, v in s.secrets : { name = n, valueFrom = v }] }
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "service" {
  for_each          = toset(concat(keys(var.services), ["migrate", "clamd"]))
  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  #checkov:skip=CKV_AWS_158:Encrypted with CloudWatch Logs' own keys; the app never logs secrets (they are redacted at the source).
}

# --- roles ------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The execution role: pulls the image, writes logs, and reads exactly the secrets the task
# definitions name (ECS injects them as environment variables).
resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid       = "ReadTheAppSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }
  statement {
    sid       = "DecryptTheAppSecrets"
    actions   = ["kms:Decrypt"]
    resources = var.secret_kms_key_arns
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

# The task role: what the app itself may do: the media bucket's objects, nothing else.
resource "aws_iam_role" "task" {
  name               = "${var.name}-ecs-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "MediaObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.media_bucket_arn}/*"]
  }
  statement {
    sid       = "ListMedia"
    actions   = ["s3:ListBucket"]
    resources = [var.media_bucket_arn]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "media"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# --- network -----------------------------------------------------------------------------

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "The app's tasks: port 8080 from the load balancer; out to AWS APIs, Stripe, the database and Redis"
  vpc_id      = var.vpc_id

  ingress {
    description     = "From the load balancer"
    from_port       = 8080
    to_port         = 8080
    protocol        = "tcp"
    security_groups = [var.alb_security_group_id]
  }
  egress {
    description = "HTTPS: S3, Secrets Manager, ECR, CloudWatch, Stripe, the ClamAV mirror"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    description = "PostgreSQL and Redis inside the VPC"
    from_port   = 5432
    to_port     = 6379
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

# --- task definitions ------------------------------------------------------------------------

locals {
  app_container = {
    for k, s in var.services : k => merge({
      name                   = "zinovia"
      image                  = var.image
      essential              = true
      command                = s.command
      environment            = local.env_list[k]
      secrets                = local.secrets_list[k]
      portMappings           = s.target_group_arn == null ? [] : [{ containerPort = 8080, protocol = "tcp" }]
      readonlyRootFilesystem = true
      mountPoints = [
        { sourceVolume = "data", containerPath = "/var/lib/zinovia" },
        { sourceVolume = "tmp", containerPath = "/tmp" },
      ]
      stopTimeout = 60
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.service[k].name
          awslogs-region        = var.region
          awslogs-stream-prefix = k
        }
      }
      }, !s.behind_alb ? {} : {
      healthCheck = {
        command     = ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 20
      }
      }, s.with_clamd ? {
      dependsOn = [{ containerName = "clamd", condition = "HEALTHY" }]
    } : {})
  }
  clamd_container = {
    name      = "clamd"
    image     = var.clamd_image
    essential = true
    healthCheck = {
      command     = ["CMD-SHELL", "clamdcheck.sh"]
      interval    = 30
      timeout     = 10
      retries     = 5
      startPeriod = 300
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service["clamd"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "clamd"
      }
    }
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each                 = var.services
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions = jsonencode(concat(
    [local.app_container[each.key]],
    each.value.with_clamd ? [local.clamd_container] : [],
  ))
  # Scratch space for uploads being processed (the root filesystem is read-only).
  volume {
    name = "data"
  }
  volume {
    name = "tmp"
  }
  ephemeral_storage {
    size_in_gib = each.value.with_clamd ? 100 : 21
  }
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions = jsonencode([{
    name                   = "zinovia"
    image                  = var.image
    essential              = true
    command                = var.migrate.command
    environment            = [for n, v in var.migrate.environment : { name = n, value = v }]
    secrets                = [for n, v in var.migrate.secrets : { name = n, valueFrom = v }]
    readonlyRootFilesystem = true
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service["migrate"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "migrate"
      }
    }
  }])
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

# --- services and scaling ---------------------------------------------------------------------

resource "aws_ecs_service" "service" {
  for_each                          = var.services
  name                              = each.key
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.service[each.key].arn
  desired_count                     = each.value.min_count
  launch_type                       = "FARGATE"
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false
  health_check_grace_period_seconds = each.value.behind_alb ? 60 : null

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  dynamic "load_balancer" {
    for_each = each.value.behind_alb ? [each.value.target_group_arn] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = "zinovia"
      container_port   = 8080
    }
  }

  lifecycle {
    # Autoscaling owns the count after the first apply.
    ignore_changes = [desired_count]
  }
}

resource "aws_appautoscaling_target" "service" {
  for_each           = var.services
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.service[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = var.services
  name               = "${var.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  # Keys known at plan time (the target groups' ARNs are not, before they exist).
  for_each           = { for k, s in var.services : k => s if s.behind_alb && s.requests_per_target != null }
  name               = "${var.name}-${each.key}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${var.alb_arn_suffix}/${each.value.target_group_arn_suffix}"
    }
  }
}

# The worker follows the queue: jobs waiting per task (the metric the worker's logs feed,
# modules/alarms), on top of CPU.
resource "aws_appautoscaling_policy" "queue" {
  for_each           = { for k, s in var.services : k => s if s.queue_metric != null }
  name               = "${var.name}-${each.key}-queue"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.queue_metric.target
    scale_in_cooldown  = 600
    scale_out_cooldown = 120
    customized_metric_specification {
      metrics {
        id          = "depth"
        label       = "jobs waiting"
        return_data = false
        metric_stat {
          metric {
            namespace   = each.value.queue_metric.namespace
            metric_name = each.value.queue_metric.name
          }
          stat = "Maximum"
        }
      }
      metrics {
        id          = "tasks"
        label       = "running tasks"
        return_data = false
        metric_stat {
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = each.key
            }
          }
          stat = "Average"
        }
      }
      metrics {
        id          = "per_task"
        expression  = "depth / MAX([tasks, 1])"
        label       = "jobs waiting per task"
        return_data = true
      }
    }
  }
}
