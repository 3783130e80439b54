"""/v1/otp routes: send a one-time code, verify it, resend it. Thin: each one call into
tamtam.otp.logic. (A wrong code's `attempts_left` and a limit's Retry-After are mapped with
every other error, in api.errors.)"""

from __future__ import annotations

from typing import Any

from api.otp_models import OtpAccepted, OtpRejected, OtpSendIn, OtpVerified, OtpVerifyIn
from api.router import Call, operation
from tamtam import aws, clock
from tamtam.callbacks.endpoints import accept_callback_url
from tamtam.otp import keys
from tamtam.otp.logic import OtpRequest, resend_otp, send_otp, verify_otp
from tamtam.otp.model import OtpItem
from tamtam.settings import get_settings

OTP_ID = "otp_01JD3ZD2F4H6K8M0P2R4T6V8X0"
ACCEPTED_EXAMPLE = {"id": OTP_ID, "to": "+224622000001", "channel": "sms", "expires_at": "2026-05-01T09:05:00Z",
                    "status": "pending"}
_CLOSED = {404: ("not_found",), 409: ("otp_already_used",), 410: ("otp_expired",)}


def _table() -> Any:
    return aws.table(get_settings().table_name)


def _accepted(otp: OtpItem) -> OtpAccepted:
    return OtpAccepted(id=otp.id, to=otp.to, channel=otp.channel, expires_at=clock.iso(otp.expires_at))


@operation(
    "POST", "/v1/otp", summary="Send a one-time code", tag="otp", status=202, body=OtpSendIn, answer=OtpAccepted,
    idempotency_key=True, example={"to": "+224622000001", "template": "Your Acme code: {{code}}"},
    answer_example=ACCEPTED_EXAMPLE,
    description="Generates a code, stores only its hash, and sends it. Verify it with POST /v1/otp/{otp_id}/verify.",
    errors={403: ("destination_not_allowed",),
            422: ("invalid_phone", "unknown_provider", "invalid_template", "channel_unavailable", "code_too_short",
                  "invalid_callback_url", "callback_secret_missing"),
            429: ("otp_phone_limit", "otp_number_limit", "otp_range_limit", "otp_tenant_limit", "otp_cooldown",
                  "rate_limited"),
            503: ("otp_unavailable", "queue_unavailable", "table_unavailable")},
)
def send_code(call: Call) -> OtpAccepted:
    body: OtpSendIn = call.body
    request = OtpRequest(
        to=body.to, channel=body.channel, length=body.length, ttl_seconds=body.ttl, template=body.template,
        sender=body.sender, provider=body.provider, locale=body.locale, reference=body.reference,
        callback_url=accept_callback_url(_table(), call.tenant_id, body.callback_url),
    )
    otp = send_otp(request, call.tenant_id, table=_table(), sqs=aws.client("sqs"), kms=aws.client("kms"),
                   pepper=keys.pepper())
    return _accepted(otp)


@operation(
    "POST", "/v1/otp/{otp_id}/verify", summary="Check a one-time code", tag="otp", body=OtpVerifyIn, answer=OtpVerified,
    example={"code": "483920"}, answer_example={"id": OTP_ID, "status": "approved"},
    description="A wrong code answers 422 `code_mismatch` with `attempts_left`; when none is left, 429 `otp_locked`.",
    errors={**_CLOSED, 422: ("code_mismatch",), 429: ("otp_locked",), 503: ("otp_unavailable",)},
    error_bodies={422: OtpRejected},
)
def verify_code(call: Call) -> OtpVerified:
    otp = verify_otp(call.params["otp_id"], call.tenant_id, call.body.code, table=_table(), pepper=keys.pepper())
    return OtpVerified(id=otp.id)


@operation(
    "POST", "/v1/otp/{otp_id}/resend", summary="Send the same code again", tag="otp", status=202, answer=OtpAccepted,
    idempotency_key=True, answer_example=ACCEPTED_EXAMPLE,
    errors={**_CLOSED, 429: ("otp_locked", "otp_cooldown", "otp_phone_limit", "otp_number_limit", "otp_range_limit",
                             "otp_tenant_limit", "rate_limited"),
            503: ("queue_unavailable", "table_unavailable")},
)
def resend_code(call: Call) -> OtpAccepted:
    return _accepted(resend_otp(call.params["otp_id"], call.tenant_id, table=_table(), sqs=aws.client("sqs")))

