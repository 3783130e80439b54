locals {
  prefix     = "${var.name}-${var.environment}"
  ssm_prefix = "/${var.name}/${var.environment}"

  tags = merge(var.tags, {
    Project     = var.name
    Environment = var.environment
  })

  # Queue key (the keys of the functions' QUEUE_URLS map) -> what the queue carries.
  queues = merge(
    { for p in var.provider_names : "${p}-tx" => { kind = "tx", description = "transactional sends (single, OTP) through ${p}" } },
    { for p in var.provider_names : "${p}-bulk" => { kind = "bulk", description = "bulk sends through ${p}" } },
    {
      fanout = { kind = "fanout", description = "chunks of bulk recipients to expand into messages" }
      ingest = { kind = "ingest", description = "send requests from other services" }
      # Status callbacks to POST (fed by the lifecycle function; retries come back with a delay).
      # Its DLQ holds the deliveries that failed for 24 hours: the dlq_messages alarm watches it.
      callbacks = { kind = "callbacks", description = "status callbacks to POST to the tenants' receivers" }
    },
  )
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}
