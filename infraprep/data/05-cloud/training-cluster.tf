# A small training cluster on AWS: written for this course, in Terraform's HCL.
# Prices are not in this file: read them from the lesson's instances table.
# EFA needs three things: an instance type that has EFA, EFA network interfaces on it,
# and a security group that lets the nodes reach each other on all ports. A cluster
# placement group keeps the nodes, spare included, close together in the network.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
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

variable "efa_interfaces" {
  description = "EFA interfaces a node, one a network card: 4 on p4d.24xlarge, 32 on p5.48xlarge"
  type        = number
  default     = 4
}

variable "subnet_id" {
  type    = string
  default = "subnet-0123456789abcdef0"
}

resource "aws_placement_group" "training" {
  name     = "llm-training"
  strategy = "cluster"
}

resource "aws_security_group" "efa" {
  name   = "efa-all-traffic-inside"
  vpc_id = "vpc-0123456789abcdef0"

  ingress {
    from_port = 0
    to_port   = 0
    protocol  = "-1"
    self      = true
  }

  egress {
    from_port = 0
    to_port   = 0
    protocol  = "-1"
    self      = true
  }
}

resource "aws_launch_template" "gpu_node" {
  name          = "gpu-node"
  image_id      = "ami-0123456789abcdef0"
  instance_type = var.gpu_instance_type

  # network card 0 carries the primary interface, which is also an EFA
  network_interfaces {
    network_card_index = 0
    device_index       = 0
    interface_type     = "efa"
    subnet_id          = var.subnet_id
    security_groups    = [aws_security_group.efa.id]
  }

  # one more EFA on each further network card
  dynamic "network_interfaces" {
    for_each = range(1, var.efa_interfaces)
    content {
      network_card_index = network_interfaces.value
      device_index       = 1
      interface_type     = "efa"
      subnet_id          = var.subnet_id
      security_groups    = [aws_security_group.efa.id]
    }
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 500
      volume_type = "gp3"
    }
  }
}

resource "aws_instance" "trainer" {
  count           = var.gpu_nodes
  instance_type   = var.gpu_instance_type
  placement_group = aws_placement_group.training.id

  launch_template {
    id = aws_launch_template.gpu_node.id
  }

  tags = {
    Name = "trainer-${count.index}"
    Team = "pretraining"
  }
}

# One hot spare of the same type, in the same placement group, so a failed node can be
# swapped without waiting for capacity or losing network locality.
resource "aws_instance" "hot_spare" {
  count           = 1
  instance_type   = var.gpu_instance_type
  placement_group = aws_placement_group.training.id

  launch_template {
    id = aws_launch_template.gpu_node.id
  }

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

resource "aws_fsx_lustre_file_system" "scratch" {
  storage_capacity            = 4800
  deployment_type             = "PERSISTENT_2"
  storage_type                = "SSD"
  per_unit_storage_throughput = 250
  subnet_ids                  = [var.subnet_id]
}

resource "aws_s3_bucket" "checkpoints" {
  bucket = "llm-training-checkpoints"
}
