# The secrets are created empty: Terraform never holds a secret value (it would land in the
# state). The operator sets each one once, for example
#   aws secretsmanager put-secret-value --secret-id tamtam/dev/providers/passeinfo \
#     --secret-string '{"base_url": "...", ...}'
# and the pepper with --secret-string "$(openssl rand -hex 32)".
# Rotation schedules belong to template.yaml, which owns the rotation function.
resource "aws_secretsmanager_secret" "provider" {
  #checkov:skip=CKV2_AWS_57:rotation is scheduled by template.yaml, which deploys the rotation function
  for_each = toset(var.provider_names)

  name                    = "${var.name}/${var.environment}/providers/${each.key}"
  description             = "Credentials of ${each.key}: JSON with base_url and the provider's credentials, set by the operator."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_in_days

  tags = merge(local.tags, { Provider = each.key })
}

resource "aws_secretsmanager_secret" "otp_pepper" {
  #checkov:skip=CKV2_AWS_57:the pepper keys stored OTP hashes; rotating it would invalidate codes in flight, so it is changed by hand
  name                    = "${var.name}/${var.environment}/otp-pepper"
  description             = "Key of the HMAC that stores OTP codes hashed, set by the operator (32 random bytes, hex)."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_in_days

  tags = local.tags
}
