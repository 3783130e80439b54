# Where the lifecycle function (the table's change-stream consumer, template.yaml) sends the
# position of stream records it gave up on after its retries: an SQS on-failure destination. A
# message here means status events or batch counts were not derived for a range of writes; the
# sweeper recounts batches, the events of that range must be replayed (docs/lifecycle.md).
resource "aws_sqs_queue" "lifecycle_failures" {
  name                              = "${local.prefix}-lifecycle-failures"
  message_retention_seconds         = var.dlq_message_retention_seconds
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300

  tags = merge(local.tags, { Queue = "lifecycle-failures" })
}

resource "aws_cloudwatch_metric_alarm" "lifecycle_failures" {
  alarm_name          = "${local.prefix}-lifecycle-failures"
  alarm_description   = "The lifecycle function gave up on a range of table changes (status events, batch counts)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.lifecycle_failures.name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = local.tags
}
