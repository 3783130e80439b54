# One-time codes are kept encrypted (so that a resend can carry the same code) under a key of
# their own: the api function may only Encrypt with it and the senders only Decrypt (the IAM
# statements are in template.yaml), so no single function can both store and read codes back.
resource "aws_kms_key" "otp" {
  description             = "${local.prefix}: one-time codes at rest"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountManagesTheKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  })

  tags = local.tags
}

resource "aws_kms_alias" "otp" {
  name          = "alias/${local.prefix}-otp"
  target_key_id = aws_kms_key.otp.key_id
}
