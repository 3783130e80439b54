# The application's bus: status-change events out, send requests in.
resource "aws_cloudwatch_event_bus" "this" {
  name = local.prefix

  tags = local.tags
}
