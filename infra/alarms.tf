resource "aws_sns_topic" "alarms" {
  name              = "${local.prefix}-alarms"
  kms_master_key_id = aws_kms_key.this.arn

  tags = local.tags
}

resource "aws_sns_topic_subscription" "alarm_email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.key
}

# A message in a dead-letter queue exhausted its retries: always worth a look.
resource "aws_cloudwatch_metric_alarm" "dlq_messages" {
  for_each = local.queues

  alarm_name          = "${local.prefix}-${each.key}-dlq-messages"
  alarm_description   = "Messages in the dead-letter queue of ${each.key} (${each.value.description})."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = var.dlq_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = local.tags
}

# The consumers of a main queue fall behind (or stopped).
resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = local.queues

  alarm_name          = "${local.prefix}-${each.key}-oldest-message-age"
  alarm_description   = "The oldest message of ${each.key} (${each.value.description}) waits too long."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.this[each.key].name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = var.queue_age_alarm_threshold_seconds[each.value.kind]
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = local.tags
}

# ---------------------------------------------------------------------------------------------
# Service alarms. Their metrics come from the application stack (template.yaml), whose names
# follow var.name and var.environment: the API is "<name>-<environment>", its stage
# "<environment>", and the functions' custom metrics are in the namespace <name> with the
# dimension service = <name> (POWERTOOLS_METRICS_NAMESPACE / POWERTOOLS_SERVICE_NAME).
# ---------------------------------------------------------------------------------------------

locals {
  api_name  = local.prefix
  api_stage = var.environment
  # The functions that catch every error and answer 500: their Lambda Errors metric never counts
  # those, the EMF metric UnhandledErrors does (tamtam.observability.count_unhandled).
  unhandled_error_functions = {
    api      = "The api function answered 500 for an error it did not expect."
    webhooks = "The webhooks function answered 500 for an error it did not expect (the device retries)."
  }
  # Messages moving into a failure status, once per transition (tamtam.lifecycle).
  message_status_alarms = {
    failed = {
      metric      = "FailedMessages"
      description = "More messages than usual ended failed (by provider and reason: the MessagesFailed metric)."
    }
    unconfirmed = {
      metric      = "UnconfirmedMessages"
      description = "More messages than usual are unconfirmed: sent to a provider that never answered."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "unhandled_errors" {
  for_each = local.unhandled_error_functions

  alarm_name          = "${local.prefix}-${each.key}-unhandled-errors"
  alarm_description   = each.value
  namespace           = var.name
  metric_name         = "UnhandledErrors"
  dimensions          = { function = each.key, service = var.name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = local.tags
}

# Every 5xx the API answered: the functions' 500s and 503s, integration failures and timeouts.
resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${local.prefix}-api-5xx"
  alarm_description   = "The REST API answered 5xx (function errors, unavailable dependencies, timeouts)."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = local.api_name, Stage = local.api_stage }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = var.api_5xx_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "message_status" {
  for_each = local.message_status_alarms

  alarm_name          = "${local.prefix}-messages-${each.key}"
  alarm_description   = each.value.description
  namespace           = var.name
  metric_name         = each.value.metric
  dimensions          = { service = var.name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = var.message_status_alarm_thresholds[each.key]
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = local.tags
}

# The webhook route has no API key: its stage throttle (template.yaml MethodSettings, which also
# turns its per-method metrics on) caps it; this says someone is pushing at it.
resource "aws_cloudwatch_metric_alarm" "webhook_rate" {
  alarm_name          = "${local.prefix}-webhook-request-rate"
  alarm_description   = "POST /v1/webhooks/smsgate receives more requests than SMSGate sends: a flood, or a device in a loop."
  namespace           = "AWS/ApiGateway"
  metric_name         = "Count"
  dimensions          = { ApiName = local.api_name, Stage = local.api_stage, Resource = "/v1/webhooks/smsgate", Method = "POST" }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = var.webhook_requests_per_minute_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = local.tags
}

# SMS pumping: a burst of one-time codes to one number range, refused with 429 (tamtam.otp.limits).
resource "aws_cloudwatch_metric_alarm" "otp_range_velocity" {
  alarm_name          = "${local.prefix}-otp-range-velocity"
  alarm_description   = "One-time codes to one number range were refused for velocity: SMS pumping, most likely."
  namespace           = var.name
  metric_name         = "OtpPrefixVelocityExceeded"
  dimensions          = { service = var.name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  tags = local.tags
}
