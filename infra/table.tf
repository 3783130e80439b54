# The one table: pk/sk, gsi1 (status sweeps, open batches), gsi3 (a tenant's messages by creation
# time: message search), TTL on expires_at. No index lists a batch's messages: their ids follow
# from the batch (tamtam.store.batches.message_ids); gsi2 was that index until 2026-12. Its
# change stream (new and old images) feeds the lifecycle function: status events, batch counters
# and failure counts are derived from the writes themselves (docs/lifecycle.md).
resource "aws_dynamodb_table" "this" {
  name                        = local.prefix
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.table_deletion_protection
  stream_enabled              = true
  stream_view_type            = "NEW_AND_OLD_IMAGES"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "gsi1pk"
    type = "S"
  }

  attribute {
    name = "gsi1sk"
    type = "S"
  }

  attribute {
    name = "gsi3pk"
    type = "S"
  }

  attribute {
    name = "gsi3sk"
    type = "S"
  }

  global_secondary_index {
    name            = "gsi1"
    hash_key        = "gsi1pk"
    range_key       = "gsi1sk"
    projection_type = "ALL"
  }

  # Message search (docs/architecture.md): keys and projected attributes are set when a message
  # record is created and never change, so a status transition does not write this index.
  global_secondary_index {
    name               = "gsi3"
    hash_key           = "gsi3pk"
    range_key          = "gsi3sk"
    projection_type    = "INCLUDE"
    non_key_attributes = ["to", "batch_id"]
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = local.tags
}
