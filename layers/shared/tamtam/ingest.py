"""Send requests from other AWS services (design: "ingest"), with the API's rules.

A request arrives on the `ingest` queue, put there directly or by the bus rule that forwards
the events `Send Message Requested` / `Send Bulk Requested` (infra/ingest.tf):

    direct:  {"tenant_id": "...", "request": {...}, "kind": "message" | "bulk", "idempotency_key": "..."?}
    on bus:  an EventBridge event whose `detail` is the same object (`kind` from the detail-type)

`request` is what `POST /v1/messages` (kind `message`, the default) or `POST /v1/messages/bulk`
(kind `bulk`) takes, validated by the same rules. Each request is accepted at most once per
idempotency key: the caller's `idempotency_key`, else the event id, else the SQS message id.

`Rejected`: a request that can never succeed (not JSON, invalid, unknown tenant); the caller
puts it on the dead-letter queue with its reason. Anything else raised is transient.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from tamtam import idempotency
from tamtam.bulk.intake import MAX_RECIPIENTS, BulkRequest, accept_bulk
from tamtam.bulk.schedule import parse_schedule
from tamtam.errors import InvalidRequest
from tamtam.messaging.accept import SendRequest, accept_message
from tamtam.phone import InvalidPhoneNumber, to_e164
from tamtam.providers.registry import PROVIDER_NAMES
from tamtam.settings import get_settings
from tamtam.tenant_settings import tenant_key

DETAIL_TYPES = {"Send Message Requested": "message", "Send Bulk Requested": "bulk"}


class Rejected(Exception):
    """A request that can never succeed: `reason` is a stable code, as in the API's errors."""

    def __init__(self, reason: str, message: str, field: str | None = None):
        super().__init__(f"{reason}: {message}")
        self.reason, self.message, self.field = reason, message, field


def _e164(value: str) -> str:
    try:
        return to_e164(value, get_settings().phone_default_region)
    except InvalidPhoneNumber as exc:
        raise PydanticCustomError("invalid_phone", "{reason}", {"reason": str(exc)}) from exc


def _provider(value: str | None) -> str | None:
    if value is not None and value not in PROVIDER_NAMES:
        names = {"names": ", ".join(PROVIDER_NAMES)}
        raise PydanticCustomError("unknown_provider", "unknown provider; one of: {names}", names)
    return value


Sender = Annotated[str | None, Field(min_length=1, max_length=11)]
Provider = Annotated[str | None, AfterValidator(_provider)]
Channel = Literal["sms", "whatsapp"]
ScheduleAt = Annotated[str | None, Field(max_length=40)]


class MessageRequest(BaseModel):
    """The body of `POST /v1/messages`."""

    model_config = ConfigDict(extra="forbid")

    to: Annotated[str, AfterValidator(_e164)]
    text: str = Field(min_length=1, max_length=1600)
    sender: Sender = None
    provider: Provider = None
    channel: Channel = "sms"
    schedule_at: ScheduleAt = None


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str
    vars: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, max_length=20
    )


class GroupTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["passeinfo", "messagepro"]
    group_id: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$")


class BulkRequestBody(BaseModel):
    """The body of `POST /v1/messages/bulk` (numbers are checked one by one by tamtam.bulk)."""

    model_config = ConfigDict(extra="forbid")

    to: list[str] | None = Field(None, max_length=MAX_RECIPIENTS)
    recipients: list[Recipient] | None = Field(None, max_length=MAX_RECIPIENTS)
    group: GroupTarget | None = None
    text: str = Field(min_length=1, max_length=1600)
    sender: Sender = None
    provider: Provider = None
    channel: Channel = "sms"
    schedule_at: ScheduleAt = None


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1, max_length=64)
    kind: Literal["message", "bulk"] = "message"
    request: dict[str, Any]
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)


@dataclass(frozen=True)
class Ingest:
    envelope: Envelope
    key: str  # the idempotency key


_CODES = {"missing": "missing_field", "extra_forbidden": "unknown_field", "string_too_short": "too_short",
          "string_too_long": "too_long", "invalid_phone": "invalid_phone", "unknown_provider": "unknown_provider"}


def _rejected(exc: ValidationError, prefix: str = "") -> Rejected:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    where = f"{prefix}{field}" if field else prefix.rstrip(".") or None
    return Rejected(_CODES.get(first["type"], "invalid_value"), first["msg"], where)


def parse(body: str, *, message_id: str) -> Ingest:
    """The request a queue message carries (a direct body or an EventBridge event)."""
    try:
        raw = json.loads(body)
    except ValueError:
        raise Rejected("invalid_json", "the message body is not JSON") from None
    if not isinstance(raw, dict):
        raise Rejected("invalid_json", "the message body is not a JSON object")
    key = message_id
    if "detail-type" in raw and "detail" in raw:  # forwarded by the bus rule
        kind = DETAIL_TYPES.get(str(raw["detail-type"]))
        if kind is None or not isinstance(raw["detail"], dict):
            raise Rejected("invalid_value", f"unsupported event {raw['detail-type']!r}", "detail-type")
        raw, key = {**raw["detail"], "kind": kind}, str(raw.get("id") or message_id)  # the detail-type decides
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        raise _rejected(exc) from None
    return Ingest(envelope, envelope.idempotency_key or key)


def _send_message(request: dict[str, Any], tenant_id: str, *, table: Any, sqs: Any) -> dict[str, Any]:
    body = MessageRequest.model_validate(request)
    send = SendRequest(to=body.to, text=body.text, sender=body.sender, provider=body.provider, channel=body.channel,
                       schedule_at=parse_schedule(body.schedule_at))
    message = accept_message(send, tenant_id, table=table, sqs=sqs)
    return {"kind": "message", "id": message.id, "status": message.status}


def _send_bulk(request: dict[str, Any], tenant_id: str, *, table: Any, sqs: Any) -> dict[str, Any]:
    body = BulkRequestBody.model_validate(request)
    bulk = BulkRequest(
        text=body.text, to=body.to,
        recipients=[(r.to, r.vars) for r in body.recipients] if body.recipients is not None else None,
        group_provider=body.group.provider if body.group else None, group_id=body.group.group_id if body.group else None,
        sender=body.sender, provider=body.provider, channel=body.channel, schedule_at=parse_schedule(body.schedule_at),
    )
    result = accept_bulk(bulk, tenant_id, table=table, sqs=sqs)
    return {"kind": "bulk", "batch_id": result.batch_id, "accepted": result.accepted, "rejected": len(result.rejected)}


def accept(ingest: Ingest, *, table: Any, sqs: Any, lambda_context: Any = None) -> dict[str, Any]:
    """Accept the request once per idempotency key; what was accepted (ids)."""
    envelope = ingest.envelope
    if "Item" not in table.get_item(Key=tenant_key(envelope.tenant_id), ProjectionExpression="pk"):
        raise Rejected("unknown_tenant", f"no tenant {envelope.tenant_id!r}", "tenant_id")
    send = _send_bulk if envelope.kind == "bulk" else _send_message

    def first_time() -> dict[str, Any]:
        return send(envelope.request, envelope.tenant_id, table=table, sqs=sqs)

    try:
        return idempotency.run_once(
            first_time, tenant_id=envelope.tenant_id, scope="ingest", key=ingest.key,
            payload={"kind": envelope.kind, "request": envelope.request}, field="idempotency_key",
            lambda_context=lambda_context,
        )
    except ValidationError as exc:
        raise _rejected(exc, "request.") from None
    except idempotency.KeyReused as exc:
        raise Rejected(exc.code, exc.message, exc.field) from None
    except InvalidRequest as exc:  # the API's 4xx: text too long, no valid recipient...
        raise Rejected(exc.code, exc.message, f"request.{exc.field}" if exc.field else None) from None
