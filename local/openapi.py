"""Writes the API's OpenAPI 3.1 document (`make openapi`) into functions/api/openapi.json, which
the api function serves at /openapi.json and /docs. Everything in it comes from one place:

- the routes, their bodies, queries, answers and route-specific error codes: the api function's
  declarations (functions/api, api.router.operation);
- the webhook route: functions/webhooks (its models);
- what API Gateway answers by itself (no key, throttled, too large, timeout): template.yaml's
  gateway responses, rendered like the local gateway renders them.

`python -m local.openapi --check` exits 1 when the committed file differs from what the code
says (a test runs it). Build-time only: nothing here is imported by a function.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "functions" / "api" / "openapi.json"
TITLE, VERSION = "tamtam", "1.0.0"
REF = "#/components/schemas/{model}"

# What each error code means (the examples' messages; the codes themselves come from the code).
MEANINGS = {
    "invalid_json": "the body is not a JSON object",
    "invalid_encoding": "the body is not UTF-8 text",
    "invalid_body": "the body is not valid base64",
    "missing_field": "a required field is missing",
    "unknown_field": "a field this route does not take",
    "too_short": "a text field is shorter than its minimum",
    "too_long": "a text field (or a path id) is longer than its maximum",
    "invalid_value": "a value outside what the field accepts",
    "invalid_type": "a value of the wrong JSON type",
    "invalid_phone": "not a phone number of a known country",
    "unknown_provider": "no such provider",
    "text_empty": "the text is empty once trimmed",
    "text_too_long": "the text is more SMS segments than allowed",
    "channel_unavailable": "no provider of the route carries this channel",
    "invalid_schedule": "schedule_at is not ISO 8601 with an offset, in the past, or more than 30 days ahead",
    "invalid_recipients": "give exactly one of to, recipients or group",
    "no_valid_recipient": "none of the recipients is a valid number",
    "missing_variable": "the text has {{variables}} a recipient does not give",
    "invalid_cursor": "the cursor is not one this listing returned",
    "invalid_template": "the template has no {{code}}",
    "invalid_idempotency_key": "Idempotency-Key must be 1 to 255 visible ASCII characters",
    "idempotency_key_reused": "this Idempotency-Key was used for another request",
    "request_in_flight": "the first request with this Idempotency-Key is still running",
    "not_found": "no such resource for this account",
    "invalid_callback_url": "not an https URL to a public address (checked after DNS resolution)",
    "callback_secret_missing": "a callback_url needs the account's callback secret: POST /v1/callback-secret",
    "too_many_endpoints": "an account has at most 20 webhook endpoints",
    "not_cancellable": "already sending or sent; it can no longer be cancelled",
    "recipient_opted_out": "the number opted out of this account's messages (it replied STOP): DELETE "
    "/v1/opt-outs/{phone} only if it asked to hear from you again",
    "destination_not_allowed": "the number's country is not enabled for this account",
    "otp_already_used": "this code was already used",
    "otp_expired": "this code has expired",
    "otp_locked": "no attempt left for this code",
    "code_mismatch": "the code does not match",
    "otp_phone_limit": "too many codes to this number; see Retry-After",
    "otp_tenant_limit": "too many codes from this account; see Retry-After",
    "otp_cooldown": "the code was just sent; see Retry-After",
    "otp_number_limit": "too many codes to this number from all accounts; see Retry-After",
    "otp_range_limit": "too many codes to numbers of this range (SMS pumping); see Retry-After",
    "code_too_short": "the code is shorter than this account allows (6 digits unless set lower)",
    "send_limit": "this account's messages per minute are used; see Retry-After",
    "bulk_limit": "this account's bulk recipients per hour are used; see Retry-After",
    "too_many_recipients": "more recipients than this account's hourly bulk limit; split the batch",
    "rate_limited": "too many requests; see Retry-After",
    "queue_unavailable": "the message could not be queued; nothing was sent",
    "table_unavailable": "the store refused the write; nothing will be sent",
    "otp_unavailable": "one-time codes are not configured",
    "invalid_signature": "the webhook signature or timestamp (SMSGate), or the webhook secret (Message Pro), is "
    "missing or wrong",
    "internal_error": "internal error; nothing was sent twice, retry later",
    # API Gateway's own answers (template.yaml's gateway responses)
    "unauthorized": "no API key, or an unknown one",
    "forbidden": "this key may not call this route",
    "bad_request": "refused by API Gateway",
    "payload_too_large": "the body is over API Gateway's 10 MB",
    "timeout": "the function did not answer in time; the request may or may not have been done",
}
STATUS_TEXT = {
    400: "Malformed request", 401: "No API key, or an unknown one", 403: "Refused", 404: "Not found",
    409: "Conflict", 410: "Gone", 413: "Body over API Gateway's 10 MB", 422: "Invalid field", 429: "Too many requests",
    500: "Internal error", 502: "The function failed", 503: "A dependency is unavailable; nothing was sent",
    504: "The function did not answer in time",
}
VALIDATION = ("missing_field", "unknown_field", "too_short", "too_long", "invalid_value", "invalid_type")
MALFORMED = ("invalid_json", "invalid_encoding", "invalid_body")
IDEMPOTENCY = {409: ("request_in_flight",), 422: ("invalid_idempotency_key", "idempotency_key_reused")}
# API Gateway's own answers, by whom they can reach: response types of template.yaml.
GATEWAY_AUTHENTICATED = ("UNAUTHORIZED", "ACCESS_DENIED", "INVALID_API_KEY", "THROTTLED", "QUOTA_EXCEEDED")
GATEWAY_BODY = ("REQUEST_TOO_LARGE",)
GATEWAY_ALL = ("THROTTLED", "INTEGRATION_TIMEOUT", "DEFAULT_5XX")


def _load_api() -> list[Any]:
    for folder in ("layers/shared", "functions"):  # the functions are packages: api, webhooks...
        if str(ROOT / folder) not in sys.path:
            sys.path.insert(0, str(ROOT / folder))
    from api import handler
    from api.router import OPERATIONS

    handler.load_all_routes()

    return [op for op in OPERATIONS if op.documented]


def _gateway_codes() -> dict[str, tuple[int, str]]:
    """response type -> (status, code) of template.yaml's gateway responses."""
    from local.stack.apigw import BUILTIN
    from local.stack.template import load_template, read_api

    _, _, responses = read_api(load_template(ROOT / "template.yaml"))
    found: dict[str, tuple[int, str]] = {}
    for kind in (*GATEWAY_AUTHENTICATED, *GATEWAY_BODY, *GATEWAY_ALL):
        spec = responses.get(kind) or responses["DEFAULT_5XX" if BUILTIN.get(kind, (500,))[0] >= 500 else "DEFAULT_4XX"]
        status = (responses.get(kind) and responses[kind].status_code) or BUILTIN.get(kind, (502, None))[0]
        code = json.loads(spec.render("message"))["error"]["code"]
        found[kind] = (status, code)
    return found


class _Codes:
    """status -> error codes of one operation, in a stable order."""

    def __init__(self) -> None:
        self.by_status: dict[int, list[str]] = {}

    def add(self, status: int, codes: Iterable[str]) -> None:
        listed = self.by_status.setdefault(status, [])
        listed += [c for c in codes if c not in listed]


def _codes(op: Any, gateway: Mapping[str, tuple[int, str]], *, authenticated: bool) -> dict[int, list[str]]:
    codes = _Codes()
    if op.body is not None:
        codes.add(400, MALFORMED)
    if op.body is not None or op.query is not None or op.param_names:
        codes.add(422, VALIDATION if op.body is not None or op.query is not None else ("too_long",))
    if op.idempotency_key:
        for status, listed in IDEMPOTENCY.items():
            codes.add(status, listed)
    for status, listed in op.errors.items():
        codes.add(status, listed)
    kinds = (
        *(GATEWAY_AUTHENTICATED if authenticated else ()),
        *(GATEWAY_BODY if op.body is not None else ()),
        *GATEWAY_ALL,
    )
    for kind in kinds:
        status, code = gateway[kind]
        codes.add(status, [code])
    codes.add(500, ["internal_error"])
    return dict(sorted(codes.by_status.items()))


def _error_response(status: int, codes: list[str], schema: dict[str, Any]) -> dict[str, Any]:
    described = ", ".join(f"`{c}`" for c in codes)
    examples = {code: {"summary": MEANINGS.get(code, code),
                       "value": {"error": {"code": code, "message": MEANINGS.get(code, code), "field": None}}}
                for code in codes}
    response: dict[str, Any] = {
        "description": f"{STATUS_TEXT.get(status, 'Error')}. Codes: {described}.",
        "content": {"application/json": {"schema": schema, "examples": examples}},
        "x-error-codes": codes,
    }
    if status == 429:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
    return response


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        description = prop.pop("description", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _path_parameters(op: Any) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^/]+$"},
             "example": _example_id(name)} for name in op.param_names]


def _example_id(name: str) -> str:
    if name == "phone":
        return "+224622000001"
    prefix = {"message_id": "msg", "batch_id": "bat", "otp_id": "otp"}.get(name, "id")
    return f"{prefix}_01JD3Z9V6Q2W8M4N5P7R9T1V3X"


def _operation(op: Any, refs: Mapping[Any, dict[str, Any]], gateway: Mapping[str, tuple[int, str]]) -> dict[str, Any]:
    doc: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        doc["description"] = op.description
    params = _path_parameters(op) + (_query_parameters(op.query) if op.query is not None else [])
    if op.idempotency_key:
        params.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if params:
        doc["parameters"] = params
    if op.body is not None:
        media: dict[str, Any] = {"schema": refs[(op.body, "validation")]}
        if op.example is not None:
            media["example"] = op.example
        doc["requestBody"] = {"required": True, "content": {"application/json": media}}
    success: dict[str, Any] = {"description": op.summary}
    if op.answer is not None:
        media = {"schema": refs[(op.answer, "serialization")]}
        if op.answer_example is not None:
            media["example"] = op.answer_example
        success["content"] = {"application/json": media}
    if op.idempotency_key:
        success["headers"] = {"Idempotency-Replayed": {"$ref": "#/components/headers/Idempotency-Replayed"}}
    responses: dict[str, Any] = {str(op.status): success}
    error_ref = refs[("ErrorBody", "serialization")]
    for status, codes in _codes(op, gateway, authenticated=not op.public).items():
        body = op.error_bodies.get(status)
        # a status with its own body (a wrong OTP code) still answers the one shape for its other codes
        schema = {"anyOf": [refs[(body, "serialization")], error_ref]} if body else error_ref
        responses[str(status)] = _error_response(status, codes, schema)
    doc["responses"] = responses
    if op.public:
        doc["security"] = []
    return doc


def _webhook_operation(refs: Mapping[Any, dict[str, Any]], gateway: Mapping[str, tuple[int, str]]) -> dict[str, Any]:
    from webhooks.smsgate import WebhookEvent, WebhookResult

    codes = _Codes()
    codes.add(400, ("invalid_json", "invalid_body"))
    codes.add(401, ("invalid_signature",))
    codes.add(422, ("invalid_value",))
    for kind in (*GATEWAY_BODY, *GATEWAY_ALL):
        status, code = gateway[kind]
        codes.add(status, [code])
    codes.add(500, ["internal_error"])
    error_ref = refs[("ErrorBody", "serialization")]
    responses: dict[str, Any] = {
        "200": {
            "description": "The event was applied, or ignored (an event kind the gateway does not use)",
            "content": {
                "application/json": {
                    "schema": refs[(WebhookResult, "serialization")],
                    "example": {
                        "event": "sms:delivered",
                        "message_id": "msg_01JD3Z9V6Q2W8M4N5P7R9T1V3X",
                        "result": "delivered",
                    },
                }
            },
        }
    }
    for status, listed in sorted(codes.by_status.items()):
        responses[str(status)] = _error_response(status, listed, error_ref)
    signature = [
        {
            "name": "X-Signature",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "hex HMAC-SHA256 of the raw body followed by X-Timestamp, "
            "with the SMSGate secret's signing key",
        },
        {
            "name": "X-Timestamp",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Unix seconds; refused when more than 5 minutes off",
        },
    ]
    return {
        "operationId": "smsgate_webhook", "tags": ["webhooks"],
        "summary": "SMSGate delivery reports and received SMS (called by the SMS Gateway for Android app, not by API "
        "clients)",
        "description": "Signed by the device with the signing key of the SMSGate secret; no API key.",
        "security": [], "parameters": signature,
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": refs[(WebhookEvent, "validation")],
            "example": {"id": "Ey6ECgOkVVFjz3CL48B8C", "webhookId": "LreFUt-Z3sSq0JufY9uWB", "event": "sms:delivered",
                        "deviceId": "PyDmBQZZXYmyxMwED8Fzy",
                        "payload": {"messageId": "01JD3Z9V6Q2W8M4N5P7R9T1V3X", "recipient": "+224622000001"}}}}},
        "responses": responses,
    }


# Message Pro's inbound webhook body (functions/webhooks/messagepro.py): Zender's form fields.
MESSAGEPRO_FORM = {
    "type": "object", "required": ["secret", "type"],
    "properties": {
        "secret": {"type": "string", "description": "the webhook's secret, as set in the Message Pro dashboard and in "
                   "the messagepro provider secret's `webhook_secret`"},
        "type": {"type": "string", "description": "`sms` and `whatsapp` are inbound messages; `ussd` and "
                 "`notifications` are acknowledged and ignored", "examples": ["sms"]},
        "data[id]": {"type": "string", "description": "Message Pro's id of the received message"},
        "data[rid]": {"type": "string", "description": "sms: the device's id of it"},
        "data[sim]": {"type": "string"}, "data[device]": {"type": "string"},
        "data[phone]": {"type": "string", "description": "who sent it"},
        "data[message]": {"type": "string"},
        "data[wid]": {"type": "string", "description": "whatsapp: the account's own number"},
        "data[attachment]": {"type": "string", "description": "whatsapp: a file's URL, or 0"},
        "data[timestamp]": {"type": "string", "description": "Unix seconds"},
    },
}


def _messagepro_webhook_operation(refs: Mapping[Any, dict[str, Any]],
                                  gateway: Mapping[str, tuple[int, str]]) -> dict[str, Any]:
    from webhooks.inbound import InboundResult

    codes = _Codes()
    codes.add(400, ("invalid_body",))
    codes.add(401, ("invalid_signature",))
    codes.add(422, ("invalid_value",))
    for kind in (*GATEWAY_BODY, *GATEWAY_ALL):
        status, code = gateway[kind]
        codes.add(status, [code])
    codes.add(500, ["internal_error"])
    error_ref = refs[("ErrorBody", "serialization")]
    responses: dict[str, Any] = {"200": {"description": "The message was stored, was already stored, belongs to no "
                                         "account, or the webhook kind is not used",
                                         "content": {"application/json": {
                                             "schema": refs[(InboundResult, "serialization")],
                                             "example": {"event": "sms", "inbound_id": "inb_01jd3zf4h6k8m0p2r4t6v8x0z2",
                                                         "result": "stored", "keyword": "opt_out"}}}}}
    for status, listed in sorted(codes.by_status.items()):
        responses[str(status)] = _error_response(status, listed, error_ref)
    return {
        "operationId": "messagepro_webhook", "tags": ["webhooks"],
        "summary": "Message Pro received SMS and WhatsApp chats (called by Message Pro, not by API clients)",
        "description": "Form-encoded, as Zender posts its webhooks; checked against the webhook secret of the "
        "messagepro provider secret; no API key.",
        "security": [],
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
            "schema": MESSAGEPRO_FORM,
            "example": {"secret": "your-webhook-secret", "type": "sms", "data[id]": "1042", "data[rid]": "77",
                        "data[sim]": "1", "data[device]": "00000000-0000-0000-d57d-f30cb6a89289",
                        "data[phone]": "+224622000001", "data[message]": "STOP", "data[timestamp]": "1777626004"}}}},
        "responses": responses,
    }


def build() -> dict[str, Any]:
    operations = _load_api()
    from api.models import ErrorBody
    from webhooks.inbound import InboundResult
    from webhooks.smsgate import WebhookEvent, WebhookResult

    wanted: list[tuple[type[BaseModel], str]] = [(ErrorBody, "serialization"), (WebhookEvent, "validation"),
                                                  (WebhookResult, "serialization"), (InboundResult, "serialization")]
    for op in operations:
        if op.body is not None:
            wanted.append((op.body, "validation"))
        if op.answer is not None:
            wanted.append((op.answer, "serialization"))
        wanted += [(model, "serialization") for model in op.error_bodies.values()]
    unique = list(dict.fromkeys(wanted))
    keys, top = models_json_schema(unique, ref_template=REF)  # type: ignore[arg-type]
    refs: dict[Any, dict[str, Any]] = dict(keys)
    refs[("ErrorBody", "serialization")] = keys[(ErrorBody, "serialization")]
    gateway = _gateway_codes()

    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(operations, key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, gateway)
    paths["/v1/webhooks/smsgate"] = {"post": _webhook_operation(refs, gateway)}
    paths["/v1/webhooks/messagepro"] = {"post": _messagepro_webhook_operation(refs, gateway)}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "SMS, WhatsApp and one-time codes through African providers, from your own AWS account. "
            'Every error answers one shape, `{"error": {"code", "message", "field"}}`: `code` is stable '
            "(listed per status in `x-error-codes`), `message` is for humans, `field` names the request field at "
            "fault, if any.",
        },
        "servers": [
            {"url": "http://127.0.0.1:3000", "description": "`make run` (the local stack)"},
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "deployed",
                "variables": {
                    "api_id": {"default": "abc123defg"},
                    "region": {"default": "eu-west-1"},
                    "stage": {"default": "dev"},
                },
            },
        ],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": name} for name in ("messages", "batches", "otp", "inbound", "opt-outs", "providers", "webhooks")
        ],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(top["$defs"].items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <tenant API key>` (`make tenant NAME=acme` prints one)",
                }
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
                    "description": "Run this request at most once per key for 24 h: a retry with the same key and body "
                    "gets the first answer again (with `Idempotency-Replayed: true`).",
                    "example": "order-1042-shipped",
                }
            },
            "headers": {
                "Idempotency-Replayed": {
                    "description": "`true` when this answer is the replay of an earlier request "
                    "with the same Idempotency-Key",
                    "schema": {"type": "string", "enum": ["true"]},
                },
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
            },
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is not up to date")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not DOCUMENT.is_file() or DOCUMENT.read_text(encoding="utf-8") != text:
            print(f"{DOCUMENT.relative_to(ROOT)} is not what the code says: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{DOCUMENT.relative_to(ROOT)} is up to date")
        return 0
    DOCUMENT.write_text(text, encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(ROOT)} ({len(re.findall(r'\"operationId\"', text))} operations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
