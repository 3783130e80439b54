"""The two keys of the OTP: the pepper (Secrets Manager, through Powertools parameters with a
cache) and the KMS key that seals the code for resends. Values never reach a log line.

The encryption context names the OTP and its tenant, so a ciphertext copied onto another
record (or another tenant's) does not decrypt. Only the senders are granted kms:Decrypt.
"""

from __future__ import annotations

import base64
from typing import Any

from tamtam.errors import ServiceUnavailable
from tamtam.observability import logger
from tamtam.otp.codes import parse_pepper
from tamtam.otp.settings import get_otp_settings


def pepper(*, force: bool = False) -> bytes:
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415  (only OTP paths pay)

    settings = get_otp_settings()
    if not settings.pepper_secret:
        raise ServiceUnavailable("one-time codes are not configured", code="otp_unavailable")
    try:
        raw = parameters.get_secret(settings.pepper_secret, max_age=settings.pepper_max_age_seconds, force_fetch=force)
        return parse_pepper(raw)
    except (parameters.exceptions.GetParameterError, ValueError) as exc:
        logger.error("OTP pepper unavailable", extra={"secret": settings.pepper_secret, "error": type(exc).__name__})
        raise ServiceUnavailable("one-time codes are not configured", code="otp_unavailable") from exc


def context(otp_id: str, tenant_id: str) -> dict[str, str]:
    return {"purpose": "tamtam-otp", "otp_id": otp_id, "tenant_id": tenant_id}


def seal(kms: Any, code: str, *, otp_id: str, tenant_id: str) -> str:
    key_id = get_otp_settings().key_id
    if not key_id:
        raise ServiceUnavailable("one-time codes are not configured", code="otp_unavailable")
    answer = kms.encrypt(KeyId=key_id, Plaintext=code.encode(), EncryptionContext=context(otp_id, tenant_id))
    return base64.b64encode(answer["CiphertextBlob"]).decode()


def unseal(kms: Any, sealed: str, *, otp_id: str, tenant_id: str) -> str:
    key_id = get_otp_settings().key_id
    kwargs = {"KeyId": key_id} if key_id else {}
    answer = kms.decrypt(
        CiphertextBlob=base64.b64decode(sealed), EncryptionContext=context(otp_id, tenant_id), **kwargs
    )
    return bytes(answer["Plaintext"]).decode()
