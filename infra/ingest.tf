# Send requests from other services: the ingest door (the ingest function, template.yaml).
#
# Who speaks for whom is configuration: var.ingest_sources names the sources and the tenants each
# may send for, var.ingest_senders the IAM principals that send to the ingest queue directly and
# the source each speaks for. The ingest function reads both from SSM (ssm.tf: ingest/sources)
# and dead-letters, with its reason, a request whose sender or source is not configured or whose
# tenant its source may not use (docs/architecture.md, "Ingest").
#
# The bus rule forwards the events `Send Message Requested` and `Send Bulk Requested` of the
# configured sources only (none configured: no rule). The queue takes messages from that rule and
# from the configured senders, from nobody else: a message whose sender is not configured came
# from the rule, so the source its event names is the one it speaks for.
locals {
  ingest_door = { sources = var.ingest_sources, senders = var.ingest_senders }

  # One rule while some source is configured (EventBridge refuses an empty list in a pattern).
  ingest_rule_keys = length(var.ingest_sources) > 0 ? ["ingest"] : []
  ingest_rules     = { for key in local.ingest_rule_keys : key => keys(var.ingest_sources) }

  # The configured senders as the queue policy sees them (aws:userid): a user's unique id, or a
  # role's followed by ":<session name>".
  ingest_sender_userids = concat(keys(var.ingest_senders), [for id in keys(var.ingest_senders) : "${id}:*"])
  ingest_sender_keys    = length(var.ingest_senders) > 0 ? ["StringNotLike"] : []

  # Denied unless sent by the rule or by a configured sender; with neither, denied to everyone.
  ingest_deny_unless = merge(
    { for key, rule in aws_cloudwatch_event_rule.ingest : "ArnNotEquals" => { "aws:SourceArn" = rule.arn } },
    { for key in local.ingest_sender_keys : key => { "aws:userid" = local.ingest_sender_userids } },
  )
  ingest_deny_keys = length(local.ingest_deny_unless) > 0 ? ["Condition"] : []
}

resource "aws_cloudwatch_event_rule" "ingest" {
  for_each = local.ingest_rules

  name           = "${local.prefix}-ingest"
  description    = "Send requests of the configured sources put on the bus -> the ingest queue."
  event_bus_name = aws_cloudwatch_event_bus.this.name
  event_pattern  = jsonencode({ "detail-type" = ["Send Message Requested", "Send Bulk Requested"], source = each.value })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "ingest" {
  for_each = aws_cloudwatch_event_rule.ingest

  rule           = each.value.name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = "ingest-queue"
  arn            = aws_sqs_queue.this["ingest"].arn
}

# The queue is encrypted with the state key: kms.tf lets EventBridge use it.
resource "aws_sqs_queue_policy" "ingest" {
  queue_url = aws_sqs_queue.this["ingest"].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [for key, rule in aws_cloudwatch_event_rule.ingest : {
        Sid       = "TheBusRuleSendsRequests"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.this["ingest"].arn
        Condition = { ArnEquals = { "aws:SourceArn" = rule.arn } }
      }],
      [merge(
        {
          Sid       = "NobodyElseSendsRequests"
          Effect    = "Deny"
          Principal = "*"
          Action    = "sqs:SendMessage"
          Resource  = aws_sqs_queue.this["ingest"].arn
        },
        { for key in local.ingest_deny_keys : key => local.ingest_deny_unless },
      )],
    )
  })
}
