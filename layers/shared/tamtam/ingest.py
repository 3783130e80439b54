"""Send requests from other AWS services (design: "ingest"), with the API's rules.

A request arrives on the `ingest` queue, put there directly or by the bus rule that forwards
the events `Send Message Requested` / `Send Bulk Requested` (infra/ingest.tf):

    direct:  {"tenant_id": "...", "request": {...}, "kind": "message" | "bulk", "idempotency_key": "..."?}
    on bus:  an EventBridge event whose `detail` is the same object (`kind` from the detail-type)

`request` is what `POST /v1/messages` (kind `message`, the default) or `POST /v1/messages/bulk`
(kind `bulk`) takes, validated by the API's own models (the request contract, tamtam.contract),
its first error rejected with the code the API answers (`Violation.reason`). Each request is
accepted at most once per idempotency key: the caller's `idempotency_key`, else the event id,
else the SQS message id.

Who speaks for whom (`speaker`, `Door`, docs/architecture.md "Ingest"): a request is sent only
for a tenant its source may use. The source of a message put on the queue directly is the one
its sender (SQS's `SenderId`: the IAM role or user that sent it) is configured to speak for; an
event the bus rule forwarded carries its own `source` (the rule forwards configured sources
only, and the queue's policy lets nobody but the rule and the configured senders send to it:
infra/ingest.tf). A configured sender speaks for its own source only. A sender, a source or a
tenant outside the configuration is `Rejected`, before anything is read.

`Rejected`: a request that can never succeed (not JSON, invalid, unknown tenant, a batch over
the tenant's whole bulk limit); the caller puts it on the dead-letter queue with its reason.
Anything else raised is transient.

The tenant's send limits (tamtam.limits) apply here as on the API: the accept functions take
them. A request over a limit raises RateLimited, which is transient on purpose (throttled, not
refused): its record fails, nothing of it is stored or counted, and SQS delivers it again after
the queue's visibility timeout (180 s), up to the queue's maxReceiveCount (5); a request still
over the limit then lands in the ingest DLQ (alarmed), from which it can be redriven.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tamtam import idempotency
from tamtam.bulk.intake import BulkRequest, accept_bulk
from tamtam.contract.bodies import BulkSendIn, SendMessageIn
from tamtam.contract.violations import first_violation
from tamtam.errors import InvalidRequest
from tamtam.messaging.accept import SendRequest, accept_message
from tamtam.store.known_tenants import tenant_exists

DETAIL_TYPES = {"Send Message Requested": "message", "Send Bulk Requested": "bulk"}


class Rejected(Exception):
    """A request that can never succeed: `reason` is a stable code, as in the API's errors;
    `source`, when known, the source the request came from."""

    def __init__(self, reason: str, message: str, field: str | None = None, source: str | None = None):
        super().__init__(f"{reason}: {message}")
        self.reason, self.message, self.field, self.source = reason, message, field, source


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
    source: str | None = None  # the event's `source`, for a request the bus rule forwarded


class Door(BaseModel):
    """The ingest door's configuration (infra/ var.ingest_sources and var.ingest_senders)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[str, list[str]] = Field(default_factory=dict, description="source name -> tenant ids it may use")
    senders: dict[str, str] = Field(
        default_factory=dict,
        description="IAM unique id of a role or user (AROA..., AIDA...) -> the source it speaks for",
    )

    def source_of(self, sender_id: str | None) -> str | None:
        """The source a direct sender speaks for. SQS's SenderId is a user's unique id, or a
        role's followed by `:<session name>`."""
        if not sender_id:
            return None
        return self.senders.get(sender_id) or self.senders.get(sender_id.split(":", 1)[0])


def speaker(ingest: Ingest, sender_id: str | None, door: Door) -> str:
    """The source the request speaks for, once that source may send for the request's tenant."""
    sender_source = door.source_of(sender_id)
    if sender_source is None and ingest.source is None:
        raise Rejected("unknown_sender", f"the sender {sender_id or '(none)'} is not a configured ingest sender")
    if sender_source is not None and ingest.source not in (None, sender_source):
        raise Rejected("source_mismatch", f"this sender speaks for {sender_source!r}, not {ingest.source!r}", "source",
                       sender_source)
    source = str(sender_source or ingest.source)
    if source not in door.sources:
        raise Rejected("unknown_source", f"the source {source!r} is not a configured ingest source", "source", source)
    tenant_id = ingest.envelope.tenant_id
    if tenant_id not in door.sources[source]:
        raise Rejected("tenant_not_allowed", f"the source {source!r} may not send for tenant {tenant_id!r}",
                       "tenant_id", source)
    return source


def _rejected(exc: ValidationError, prefix: str = "") -> Rejected:
    """The first validation error as a rejection: its reason from tamtam.contract.violations, its
    field under `prefix` (`request.` for the request's own fields)."""
    found = first_violation(exc)
    where = f"{prefix}{found.field}" if found.field else prefix.rstrip(".") or None
    return Rejected(found.reason, found.message, where)


def parse(body: str, *, message_id: str) -> Ingest:
    """The request a queue message carries (a direct body or an EventBridge event)."""
    try:
        raw = json.loads(body)
    except ValueError:
        raise Rejected("invalid_json", "the message body is not JSON") from None
    if not isinstance(raw, dict):
        raise Rejected("invalid_json", "the message body is not a JSON object")
    key, source = message_id, None
    if "detail-type" in raw and "detail" in raw:  # forwarded by the bus rule
        kind = DETAIL_TYPES.get(str(raw["detail-type"]))
        if kind is None or not isinstance(raw["detail"], dict):
            raise Rejected("invalid_value", f"unsupported event {raw['detail-type']!r}", "detail-type")
        if not isinstance(raw.get("source"), str) or not raw["source"]:
            raise Rejected("missing_field", "the event has no source", "source")
        source = raw["source"]
        raw, key = {**raw["detail"], "kind": kind}, str(raw.get("id") or message_id)  # the detail-type decides
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        raise _rejected(exc) from None
    return Ingest(envelope, envelope.idempotency_key or key, source)


def _send_message(request: dict[str, Any], tenant_id: str, *, table: Any, sqs: Any) -> dict[str, Any]:
    body = SendMessageIn.model_validate(request)
    message = accept_message(SendRequest.from_body(body, tenant_id, table=table), tenant_id, table=table, sqs=sqs)
    return {"kind": "message", "id": message.id, "status": message.status}


def _send_bulk(request: dict[str, Any], tenant_id: str, *, table: Any, sqs: Any) -> dict[str, Any]:
    body = BulkSendIn.model_validate(request)
    result = accept_bulk(BulkRequest.from_body(body, tenant_id, table=table), tenant_id, table=table, sqs=sqs)
    return {"kind": "bulk", "batch_id": result.batch_id, "accepted": result.accepted, "rejected": len(result.rejected)}


def accept(ingest: Ingest, *, table: Any, sqs: Any, lambda_context: Any = None) -> dict[str, Any]:
    """Accept the request once per idempotency key; what was accepted (ids)."""
    envelope = ingest.envelope
    if not tenant_exists(table, envelope.tenant_id):
        raise Rejected("unknown_tenant", f"no tenant {envelope.tenant_id!r}", "tenant_id")
    send = _send_bulk if envelope.kind == "bulk" else _send_message

    def first_time() -> dict[str, Any]:
        return send(envelope.request, envelope.tenant_id, table=table, sqs=sqs)

    try:
        accepted: dict[str, Any] = idempotency.run_once(
            first_time, tenant_id=envelope.tenant_id, scope="ingest", key=ingest.key,
            payload={"kind": envelope.kind, "request": envelope.request}, field="idempotency_key",
            lambda_context=lambda_context,
        )
        return accepted
    except ValidationError as exc:
        raise _rejected(exc, "request.") from None
    except idempotency.KeyReused as exc:
        raise Rejected(exc.code, exc.message, exc.field) from None
    except InvalidRequest as exc:  # the API's 4xx: text too long, no valid recipient...
        raise Rejected(exc.code, exc.message, f"request.{exc.field}" if exc.field else None) from None
