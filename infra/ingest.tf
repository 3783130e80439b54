# Send requests from other services through the bus: the events `Send Message Requested` and
# `Send Bulk Requested` (any source) go to the ingest queue, which the ingest function consumes
# (template.yaml). Services may also send to the ingest queue directly.
resource "aws_cloudwatch_event_rule" "ingest" {
  name           = "${local.prefix}-ingest"
  description    = "Send requests put on the bus -> the ingest queue."
  event_bus_name = aws_cloudwatch_event_bus.this.name
  event_pattern  = jsonencode({ "detail-type" = ["Send Message Requested", "Send Bulk Requested"] })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "ingest" {
  rule           = aws_cloudwatch_event_rule.ingest.name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = "ingest-queue"
  arn            = aws_sqs_queue.this["ingest"].arn
}

# Only the rule may send to the ingest queue as EventBridge (the queue is encrypted with the
# state key: kms.tf lets EventBridge use it).
resource "aws_sqs_queue_policy" "ingest" {
  queue_url = aws_sqs_queue.this["ingest"].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "TheBusRuleSendsRequests"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.this["ingest"].arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.ingest.arn } }
      },
    ]
  })
}
