# What the application (template.yaml) reads, under /<name>/<environment>/.
locals {
  ssm_parameters = merge(
    {
      "table/name"                    = aws_dynamodb_table.this.name
      "table/arn"                     = aws_dynamodb_table.this.arn
      "table/stream_arn"              = aws_dynamodb_table.this.stream_arn
      "queues/lifecycle-failures/arn" = aws_sqs_queue.lifecycle_failures.arn
      "bus/name"                      = aws_cloudwatch_event_bus.this.name
      "bus/arn"                       = aws_cloudwatch_event_bus.this.arn
      "kms/key_arn"                   = aws_kms_key.this.arn
      "kms/otp_key_arn"               = aws_kms_key.otp.arn
      "alarms/topic_arn"              = aws_sns_topic.alarms.arn
      "queues/urls"                   = jsonencode({ for k, q in local.queues : k => aws_sqs_queue.this[k].url })
      "secrets/arns"                  = jsonencode({ for p in var.provider_names : p => aws_secretsmanager_secret.provider[p].arn })
      "secrets/otp-pepper/arn"        = aws_secretsmanager_secret.otp_pepper.arn
      "ingest/sources"                = jsonencode(local.ingest_door)
    },
    { for k, q in local.queues : "queues/${k}/url" => aws_sqs_queue.this[k].url },
    { for k, q in local.queues : "queues/${k}/arn" => aws_sqs_queue.this[k].arn },
    { for k, q in local.queues : "queues/${k}-dlq/url" => aws_sqs_queue.dlq[k].url },
    { for k, q in local.queues : "queues/${k}-dlq/arn" => aws_sqs_queue.dlq[k].arn },
    { for p in var.provider_names : "secrets/${p}/arn" => aws_secretsmanager_secret.provider[p].arn },
  )
}

resource "aws_ssm_parameter" "this" {
  #checkov:skip=CKV2_AWS_34:names and ARNs, not secrets; CloudFormation's AWS::SSM::Parameter::Value<String> cannot read a SecureString
  for_each = local.ssm_parameters

  name  = "${local.ssm_prefix}/${each.key}"
  type  = "String"
  tier  = "Standard"
  value = each.value

  tags = local.tags
}
