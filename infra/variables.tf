variable "name" {
  description = "Name of the deployment: prefix of every resource name and first segment of the SSM paths."
  type        = string
  default     = "tamtam"
}

variable "environment" {
  description = "Environment (dev, staging, prod...): second segment of resource names and SSM paths."
  type        = string
  default     = "dev"
}

variable "provider_names" {
  description = "Providers to create queues and secrets for (names as in tamtam.providers.registry.PROVIDER_NAMES)."
  type        = list(string)
  default     = ["passeinfo", "messagepro", "flowsms", "ventis", "smsgate"]
}

variable "tags" {
  description = "Tags added to every resource, beside Project and Environment."
  type        = map(string)
  default     = {}
}

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the main queues: at least 6 times the consuming function's timeout (30 s)."
  type        = number
  default     = 180
}

variable "queue_message_retention_seconds" {
  description = "How long a main queue keeps a message that nobody consumed (4 days by default)."
  type        = number
  default     = 345600
}

variable "dlq_message_retention_seconds" {
  description = "How long a dead-letter queue keeps a message (14 days, the SQS maximum)."
  type        = number
  default     = 1209600
}

variable "max_receive_count" {
  description = "Receives of a message on a main queue before SQS moves it to the queue's dead-letter queue."
  type        = number
  default     = 5
}

variable "dlq_alarm_threshold" {
  description = "A dead-letter queue alarms when it holds more visible messages than this."
  type        = number
  default     = 0
}

variable "queue_age_alarm_threshold_seconds" {
  description = "Age of the oldest message, per kind of queue (tx, bulk, fanout, ingest, callbacks), above which the queue alarms."
  type        = map(number)
  default = {
    tx     = 300
    bulk   = 3600
    fanout = 300
    ingest = 300
    # a callback waiting for its next attempt is sent again at least every 15 minutes (SQS's
    # longest delay), so only a consumer that stopped lets one grow older than this
    callbacks = 1800
  }
}

variable "alarm_period_seconds" {
  description = "Period over which the queue alarms evaluate their metric."
  type        = number
  default     = 300
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []
}

variable "table_deletion_protection" {
  description = "Refuse to delete the DynamoDB table (set false to let terraform destroy it)."
  type        = bool
  default     = true
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the KMS key is deleted after terraform destroy (7 to 30 days)."
  type        = number
  default     = 30
}

variable "secret_recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once, else 7 to 30)."
  type        = number
  default     = 7
}

variable "api_5xx_alarm_threshold" {
  description = "The API's 5xx answers in an alarm period above which its 5xx alarm fires."
  type        = number
  default     = 0
}

variable "message_status_alarm_thresholds" {
  description = "Messages moving into failed / unconfirmed in an alarm period above which that alarm fires."
  type        = object({ failed = number, unconfirmed = number })
  default = {
    failed      = 50
    unconfirmed = 10
  }
}

variable "webhook_requests_per_minute_alarm_threshold" {
  description = "Requests a minute to POST /v1/webhooks/smsgate above which its rate alarm fires: SMSGate paced at 2 messages/s reports a few events each (template.yaml throttles the route at 20/s)."
  type        = number
  default     = 600
}

variable "ingest_sources" {
  description = "Sources allowed to send through the ingest door -> the tenant ids each may send for. A source is the `source` of its bus events, and the name its direct senders (ingest_senders) speak for. The bus rule forwards these sources only; a request for another tenant is dead-lettered (tenant_not_allowed)."
  type        = map(list(string))
  default     = {}
}

variable "ingest_senders" {
  description = "IAM principals that send to the ingest queue directly -> the source (a key of ingest_sources) each speaks for. Keys are unique ids, as SQS reports them in SenderId: a role's RoleId (AROA..., `aws iam get-role --query Role.RoleId`) or a user's UserId (AIDA...). Nobody else may send to the queue."
  type        = map(string)
  default     = {}
}
