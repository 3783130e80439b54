output "dynamodb_table_name" {
  description = "Name of the DynamoDB table."
  value       = aws_dynamodb_table.this.name
}

output "dynamodb_table_arn" {
  description = "ARN of the DynamoDB table."
  value       = aws_dynamodb_table.this.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key of the secrets, queues, table, topic and logs."
  value       = aws_kms_key.this.arn
}

output "kms_key_id" {
  description = "Id of the KMS key."
  value       = aws_kms_key.this.key_id
}

output "cloudwatch_event_bus_name" {
  description = "Name of the EventBridge bus."
  value       = aws_cloudwatch_event_bus.this.name
}

output "cloudwatch_event_bus_arn" {
  description = "ARN of the EventBridge bus."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "sqs_queue_urls" {
  description = "Queue key -> URL of the main queues."
  value       = { for k, q in local.queues : k => aws_sqs_queue.this[k].url }
}

output "sqs_queue_arns" {
  description = "Queue key -> ARN of the main queues."
  value       = { for k, q in local.queues : k => aws_sqs_queue.this[k].arn }
}

output "sqs_dlq_urls" {
  description = "Queue key -> URL of the queue's dead-letter queue."
  value       = { for k, q in local.queues : k => aws_sqs_queue.dlq[k].url }
}

output "sqs_dlq_arns" {
  description = "Queue key -> ARN of the queue's dead-letter queue."
  value       = { for k, q in local.queues : k => aws_sqs_queue.dlq[k].arn }
}

output "secretsmanager_secret_arns" {
  description = "Provider -> ARN of its credentials secret (the operator sets the values)."
  value       = { for p in var.provider_names : p => aws_secretsmanager_secret.provider[p].arn }
}

output "otp_pepper_secret_arn" {
  description = "ARN of the OTP pepper secret (the operator sets the value)."
  value       = aws_secretsmanager_secret.otp_pepper.arn
}

output "sns_topic_arn" {
  description = "ARN of the alarm topic."
  value       = aws_sns_topic.alarms.arn
}

output "ssm_parameter_names" {
  description = "Key -> full name of the SSM parameters read by template.yaml."
  value       = { for k, v in local.ssm_parameters : k => aws_ssm_parameter.this[k].name }
}

output "otp_kms_key_arn" {
  description = "ARN of the KMS key that keeps one-time codes encrypted at rest"
  value       = aws_kms_key.otp.arn
}
