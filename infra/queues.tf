# Every queue of local.queues gets a dead-letter queue "<key>-dlq" and a redrive policy to it.
resource "aws_sqs_queue" "dlq" {
  for_each = local.queues

  name                              = "${local.prefix}-${each.key}-dlq"
  visibility_timeout_seconds        = var.queue_visibility_timeout_seconds
  message_retention_seconds         = var.dlq_message_retention_seconds
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300

  tags = merge(local.tags, { Queue = "${each.key}-dlq" })
}

resource "aws_sqs_queue" "this" {
  for_each = local.queues

  name                              = "${local.prefix}-${each.key}"
  visibility_timeout_seconds        = var.queue_visibility_timeout_seconds
  message_retention_seconds         = var.queue_message_retention_seconds
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = merge(local.tags, { Queue = each.key })
}
