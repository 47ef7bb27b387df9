terraform {
  # 1.10: the S3 backend locks natively (use_lockfile), no DynamoDB table.
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }
  # State in S3 (versioned, encrypted) with native locking; one key per environment:
  #   terraform init -backend-config=backend-staging.hcl   (docs/runbooks/aws/first-deploy.md)
  backend "s3" {}
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "zinovia"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

# CloudFront's certificate and WAF live in us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
  default_tags {
    tags = {
      Project     = "zinovia"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
