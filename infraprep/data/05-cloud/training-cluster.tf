# A small training cluster on AWS: written for this course, in Terraform's HCL.
# Prices are not in this file: read them from the lesson's instances table.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "gpu_nodes" {
  description = "Training nodes (8 GPUs each)"
  type        = number
  default     = 4
}

variable "gpu_instance_type" {
  type    = string
  default = "p4d.24xlarge"
}

resource "aws_placement_group" "training" {
  name     = "llm-training"
  strategy = "cluster" # keep the nodes close together for EFA
}

resource "aws_instance" "trainer" {
  count           = var.gpu_nodes
  ami             = "ami-0123456789abcdef0"
  instance_type   = var.gpu_instance_type
  placement_group = aws_placement_group.training.id

  root_block_device {
    volume_size = 500
    volume_type = "gp3"
  }

  tags = {
    Name = "trainer-${count.index}"
    Team = "pretraining"
  }
}

# One hot spare, so a failed node can be swapped without waiting for capacity.
resource "aws_instance" "hot_spare" {
  count         = 1
  ami           = "ami-0123456789abcdef0"
  instance_type = "p4d.24xlarge"
  tags = {
    Name = "hot-spare"
  }
}

/*
resource "aws_instance" "eval" {
  count         = 2
  instance_type = "p5.48xlarge"
}
*/

resource "aws_s3_bucket" "checkpoints" {
  bucket = "llm-training-checkpoints"
}
