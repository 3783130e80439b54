"""SMSGate (SMS Gateway for Android) cloud API simulator under `/smsgate/3rdparty/v1`,
following docs/providers.md section 5.

Auth: Basic (`username`/`password` settings) or Bearer JWT issued by `POST /auth/token`
(snake_case answer, 201), refreshed with replay detection, revoked by jti. Messages progress
Pending -> Sent -> Delivered (or Failed) by the sandbox clock, and every transition is sent
to the registered webhooks, signed like the app does, from a background thread (the real
delivery comes from the device; here the simulator plays both). Webhook timing is shortened
for tests: `webhook_backoff` instead of the app's 10 s doubling, `webhook_retries` instead of 14.
"""

from __future__ import annotations

import base64
import hmac
import json
import random
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import phonenumbers

from local.sandbox.core import OutboxEntry, ProviderSim, SimRequest, SimResponse, json_response
from local.sandbox.smsgate_webhooks import WebhookDispatcher, validate_webhook

PREFIX = "/3rdparty/v1"
SCOPES = frozenset(
    [
        "all:any",
        "messages:send",
        "messages:read",
        "messages:list",
        "messages:cancel",
        "messages:export",
        "devices:list",
        "devices:delete",
        "webhooks:list",
        "webhooks:write",
        "webhooks:delete",
        "settings:read",
        "settings:write",
        "logs:read",
        "inbox:list",
        "inbox:refresh",
        "tokens:manage",
    ]
)

DEFAULTS: dict[str, Any] = {
    "username": "sandbox",
    "password": "sandbox-password",
    "jwt_enabled": True,  # False: /auth/token answers 501, like a server without JWT
    "access_ttl": 900,  # the server's maximum access-token lifetime (self-hosted default: 15 min)
    "refresh_ttl": 720 * 3600,
    "device_id": "sandboxdevice00000001",  # 20 chars (the real ids are 21 at most)
    "device_online": True,  # False: sends answer 400, no device to select
    # More devices registered on the account. A send that names no device goes to any of them,
    # and the server refuses a repeated id only on the same device (its key is id + device).
    "extra_devices": [],
    "sent_after": 0.0,  # seconds after the send: Pending -> Sent
    "delivered_after": 0.0,  # seconds after the send: -> Delivered (or Failed)
    "outcome": "Delivered",  # "Delivered", "Failed" or "Sent" (no delivery report ever)
    "failure_error": "RESULT_ERROR_GENERIC_FAILURE",  # the recipient error of a Failed message
    "signing_key": "sandbox-signing-key",  # "" or None: webhooks go unsigned (no headers)
    # The real server only takes https:// webhook URLs. Locally the receivers are plain HTTP on
    # loopback, so http://127.0.0.1 and http://localhost are accepted while this is true.
    "allow_http_webhooks": True,
    "webhook_retries": 3,
    "webhook_backoff": 0.05,  # seconds before the first retry, doubling after each
    "webhook_timeout": 2.0,
    "tick": 0.02,  # how often the background thread advances message states
}


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _error(message: str, status: int) -> SimResponse:
    return json_response({"message": message}, status)


class SmsGateSim(ProviderSim):
    name = "smsgate"

    def __init__(self, sandbox: Any):
        super().__init__(sandbox)
        self.settings = dict(DEFAULTS)
        self.messages: dict[str, dict[str, Any]] = {}
        self.held: set[tuple[str, str]] = set()  # (message id, device id): the server's unique key
        self.tokens: dict[str, dict[str, Any]] = {}  # jti -> {type, scopes, expires_at, revoked, pair}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self._jwt_secret = secrets.token_bytes(32)
        self.hooks = WebhookDispatcher(self)
        self._routes = [
            ("POST", r"/auth/token", self._issue_token, None),
            ("POST", r"/auth/token/refresh", self._refresh_token, "refresh"),
            ("DELETE", r"/auth/token/(?P<jti>[^/]+)", self._revoke_token, "tokens:manage"),
            ("GET", r"/devices", self._list_devices, "devices:list"),
            ("POST", r"/messages", self._send, "messages:send"),
            ("GET", r"/messages", self._list, "messages:list"),
            ("GET", r"/messages/(?P<mid>[^/]+)", self._get, "messages:read"),
            ("DELETE", r"/messages/(?P<mid>[^/]+)", self._cancel, "messages:cancel"),
            ("POST", r"/webhooks", self._add_webhook, "webhooks:write"),
            ("GET", r"/webhooks", self._list_webhooks, "webhooks:list"),
            ("DELETE", r"/webhooks/(?P<wid>[^/]+)", self._delete_webhook, "webhooks:delete"),
        ]

    # -- frame hooks ---------------------------------------------------------------------
    def configure(self, settings: dict[str, Any]) -> None:
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown smsgate settings: {', '.join(sorted(unknown))}")
        if "outcome" in settings and settings["outcome"] not in ("Delivered", "Failed", "Sent"):
            raise ValueError("outcome must be Delivered, Failed or Sent")
        super().configure(settings)

    def state(self) -> dict[str, Any]:
        with self.lock:
            self.advance()
            return {
                "settings": dict(self.settings),
                "messages": {mid: self._message_state(m) for mid, m in self.messages.items()},
                "tokens": {jti: dict(t) for jti, t in self.tokens.items()},
                "webhooks": list(self.webhooks.values()),
                "webhook_deliveries": self.hooks.history(),
            }

    def close(self) -> None:
        self.hooks.stop()

    def error_response(self, status: int) -> SimResponse:
        if status == 503:
            oldest = _rfc3339(self.sandbox.clock() - 24 * 3600 - 1)  # server modules/messages/limiter.go
            return _error(f"failed to enqueue message: queue limits exceeded: too old pending message: {oldest}", 503)
        if status == 429:
            return _error("too many requests", 429)
        return _error("failed to handle request", status)

    def reject_response(self, reason: str) -> SimResponse:
        if reason == "invalid_number":
            return _error("invalid phone number", 400)
        if reason == "device_offline":
            return _error("failed to select device: record not found", 400)
        if reason == "auth_failed":
            return _error("Unauthorized", 401)
        if reason == "provider_unavailable":
            return self.error_response(503)
        # SMSGate has no credit nor sender names: anything else is a plain refusal.
        return _error(f"message rejected: {reason}", 400)

    # -- routing and auth ------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        if not req.path.startswith(PREFIX + "/") and req.path != PREFIX:
            return _error("Not Found", 404)
        path = req.path[len(PREFIX):].rstrip("/") or "/"
        if req.method == "GET" and path.startswith("/health"):
            return json_response({"status": "pass", "version": "sandbox"})
        for method, pattern, handler, scope in self._routes:
            match = re.fullmatch(pattern, path)
            if match and method == req.method:
                with self.lock:
                    self.advance()
                    denied, claims = self._authenticate(req, scope)
                    if denied is not None:
                        return denied
                    return handler(req, claims=claims, **match.groupdict())
        return _error("Cannot " + req.method + " " + req.path, 404)

    def _authenticate(self, req: SimRequest, scope: str | None) -> tuple[SimResponse | None, dict[str, Any]]:
        header = req.headers.get("Authorization") or ""
        kind, _, credential = header.partition(" ")
        if kind.lower() == "basic" and scope != "refresh":
            try:
                user, _, password = base64.b64decode(credential).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return _error("Unauthorized", 401), {}
            ok = hmac.compare_digest(user.encode(), str(self.settings["username"]).encode()) and hmac.compare_digest(
                password.encode(), str(self.settings["password"]).encode()
            )
            return (None, {"basic": True}) if ok else (_error("Unauthorized", 401), {})
        if kind.lower() != "bearer" or not self.settings["jwt_enabled"]:
            return _error("Unauthorized", 401), {}
        claims = self._verify_jwt(credential, "refresh" if scope == "refresh" else "access")
        if claims is None:
            return _error("Unauthorized", 401), {}
        granted = set(claims["scopes"])
        if scope not in (None, "refresh") and scope not in granted and "all:any" not in granted:
            return _error("scope required: " + scope, 403), {}
        if scope is None and not granted & {"tokens:manage", "all:any"}:
            return _error("scope required: tokens:manage", 403), {}
        return None, claims

    # -- tokens ----------------------------------------------------------------------------
    def _jwt(self, claims: dict[str, Any]) -> str:
        header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._jwt_secret, f"{header}.{payload}".encode(), "sha256").digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def _verify_jwt(self, token: str, kind: str) -> dict[str, Any] | None:
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self._jwt_secret, f"{header}.{payload}".encode(), "sha256").digest()
            if not hmac.compare_digest(_b64(expected), signature):
                return None
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(claims, dict):
            return None
        record = self.tokens.get(claims.get("jti", ""))
        if record is None or record["revoked"] or record["type"] != kind:
            return None
        if self.sandbox.clock() >= record["expires_at"]:
            return None
        return claims

    def _new_pair(self, scopes: list[str], ttl: int) -> dict[str, Any]:
        now = self.sandbox.clock()
        maximum = int(self.settings["access_ttl"])
        access_ttl = min(ttl, maximum) if ttl > 0 else maximum
        jti, refresh_jti = uuid.uuid4().hex[:21], uuid.uuid4().hex[:21]
        expires_at = now + access_ttl
        self.tokens[jti] = {"type": "access", "scopes": scopes, "expires_at": expires_at, "revoked": False, "pair": jti}
        refresh_expires = now + int(self.settings["refresh_ttl"])
        self.tokens[refresh_jti] = {"type": "refresh", "scopes": ["tokens:refresh"], "expires_at": refresh_expires,
                                    "revoked": False, "pair": jti, "access_scopes": scopes, "access_ttl": ttl}
        sub = str(self.settings["username"])
        return {
            "id": jti,
            "token_type": "Bearer",
            "access_token": self._jwt({"jti": jti, "sub": sub, "scopes": scopes, "exp": int(expires_at)}),
            "refresh_token": self._jwt({"jti": refresh_jti, "sub": sub, "scopes": ["tokens:refresh"]}),
            "expires_at": _rfc3339(expires_at),
        }

    def _issue_token(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        if not self.settings["jwt_enabled"]:
            return _error("token service disabled, contact your administrator", 501)
        body = req.json()
        scopes = body.get("scopes") if isinstance(body, dict) else None
        ttl = body.get("ttl", 0) if isinstance(body, dict) else 0
        if not isinstance(scopes, list) or not scopes or any(s not in SCOPES for s in scopes):
            return _error("scopes: at least one valid scope is required", 400)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
            return _error("ttl must be a non-negative number of seconds", 400)
        return json_response(self._new_pair(scopes, ttl), 201)

    def _refresh_token(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        old = self.tokens[claims["jti"]]
        old["revoked"] = True  # a second use of this refresh token is a replay: 401
        return json_response(self._new_pair(old["access_scopes"], old["access_ttl"]), 201)

    def _revoke_token(self, req: SimRequest, claims: dict[str, Any], jti: str) -> SimResponse:
        for record in self.tokens.values():
            record["revoked"] = record["revoked"] or record["pair"] == jti
        return SimResponse(204)

    # -- messages --------------------------------------------------------------------------
    def _validate(self, req: SimRequest, body: Any) -> str | list[str]:
        """The E.164 recipients, or the error text of a 400."""
        if not isinstance(body, dict):
            return "request body must be a JSON object"
        numbers = body.get("phoneNumbers")
        if not isinstance(numbers, list) or not 1 <= len(numbers) <= 100:
            return "phoneNumbers must hold 1 to 100 numbers"
        if any(not isinstance(n, str) or not n or len(n) > 128 for n in numbers):
            return "phoneNumbers must be strings of at most 128 characters"
        contents = [k for k in ("textMessage", "dataMessage", "message") if body.get(k) is not None]
        if len(contents) != 1:
            return "exactly one of textMessage, dataMessage or message is required"
        text_message = body.get("textMessage")
        if text_message is not None and not (
            isinstance(text_message, dict)
            and isinstance(text_message.get("text"), str)
            and 1 <= len(text_message["text"]) <= 65535
        ):
            return "textMessage.text must be 1 to 65535 characters"
        if body.get("id") is not None and not (isinstance(body["id"], str) and 0 < len(body["id"]) <= 36):
            return "id must be at most 36 characters"
        sim_number = body.get("simNumber")
        if sim_number is not None and sim_number not in (1, 2, 3):
            return "simNumber must be 1, 2 or 3"
        priority = body.get("priority", 0)
        if not isinstance(priority, int) or not -128 <= priority <= 127:
            return "priority must be between -128 and 127"
        if body.get("ttl") is not None and body.get("validUntil") is not None:
            return "ttl and validUntil are mutually exclusive"
        if body.get("ttl") is not None and (not isinstance(body["ttl"], int) or body["ttl"] < 5):
            return "ttl must be at least 5 seconds"
        if req.arg("skipPhoneValidation") == "true" or body.get("isEncrypted"):
            return list(numbers)
        cleaned = _clean_numbers(numbers)
        if isinstance(cleaned, list) and len(set(cleaned)) != len(cleaned):
            return "phone numbers must be unique"  # server modules/messages/service.go prepareMessage
        return cleaned

    def _send(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        body = req.json()
        recipients = self._validate(req, body)
        if isinstance(recipients, str):
            return _error(recipients, 400)
        device_id = body.get("deviceId")
        devices = self._device_ids()
        if not self.settings["device_online"] or (device_id and device_id not in devices):
            return self.reject_response("device_offline")
        device = device_id or random.choice(devices)
        message_id = body.get("id") or uuid.uuid4().hex[:21]
        if (message_id, device) in self.held:
            return _error("message with the same ID already exists", 409)
        message = self._store(message_id, recipients, body, device)
        for number in recipients:
            text = (body.get("textMessage") or {}).get("text") or body.get("message") or ""
            extra = {key: body.get(key) for key in ("simNumber", "priority", "withDeliveryReport")}
            extra["deviceId"] = message["deviceId"]
            self.sandbox.record(OutboxEntry(self.name, number, text, None, message_id, extra=extra))
        self.hooks.ensure_running()
        location = f"/{self.name}{PREFIX}/messages/{message_id}"
        return json_response(self._message_state(message), 202, Location=location)

    def _device_ids(self) -> list[str]:
        return [self.settings["device_id"], *self.settings["extra_devices"]]

    def _list_devices(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        now = _rfc3339(self.sandbox.clock())
        return json_response([{"id": d, "name": f"sandbox device {i + 1}", "createdAt": now, "updatedAt": now,
                               "lastSeen": now} for i, d in enumerate(self._device_ids())])

    def _store(self, message_id: str, recipients: list[str], body: dict[str, Any], device: str) -> dict[str, Any]:
        now = self.sandbox.clock()
        outcome = self.settings["outcome"]
        if outcome == "Delivered" and body.get("withDeliveryReport") is False:
            outcome = "Sent"  # Delivered needs withDeliveryReport
        message = {
            "id": message_id,
            "deviceId": device,
            "state": "Pending",
            "isEncrypted": bool(body.get("isEncrypted")),
            "recipients": recipients,
            "simNumber": body.get("simNumber") or 1,
            "created": now,
            "states": {"Pending": now},
            "plan": {
                "outcome": outcome,
                "sent_at": now + float(self.settings["sent_after"]),
                "final_at": now + max(float(self.settings["delivered_after"]), float(self.settings["sent_after"])),
                "error": self.settings["failure_error"],
            },
        }
        # The same id on a second device is a second message (kept apart; a read of that id
        # then fails, as the server's does).
        key = message_id if message_id not in self.messages else f"{message_id}#{device}"
        self.messages[key] = message
        self.held.add((message_id, device))
        return message

    def advance(self) -> None:
        """Move every message to the state the sandbox clock says; queue the webhook events."""
        with self.lock:
            now = self.sandbox.clock()
            for message in self.messages.values():
                plan = message["plan"]
                if message["state"] == "Pending" and now >= plan["sent_at"]:
                    if plan["outcome"] == "Failed":
                        self._move(message, "Failed", plan["sent_at"])
                        continue
                    self._move(message, "Sent", plan["sent_at"])
                if message["state"] == "Sent" and plan["outcome"] != "Sent" and now >= plan["final_at"]:
                    self._move(message, plan["outcome"], plan["final_at"])

    def _move(self, message: dict[str, Any], state: str, at: float) -> None:
        message["state"] = state
        message["states"][state] = at
        if state in ("Sent", "Delivered", "Failed", "Cancelled"):
            self.hooks.message_event(message, state, at)

    def _message_state(self, message: dict[str, Any]) -> dict[str, Any]:
        error = {"error": message["plan"]["error"]} if message["state"] == "Failed" else {}
        recipients = [{"phoneNumber": n, "state": message["state"], **error} for n in message["recipients"]]
        return {
            "id": message["id"],
            "deviceId": message["deviceId"],
            "state": message["state"],
            "isHashed": False,
            "isEncrypted": message["isEncrypted"],
            "recipients": recipients,
            "states": {state: _rfc3339(at) for state, at in message["states"].items()},
        }

    def _get(self, req: SimRequest, claims: dict[str, Any], mid: str) -> SimResponse:
        if sum(1 for held, _ in self.held if held == mid) > 1:
            return _error("failed to get message: more than one message with this id", 500)
        message = self.messages.get(mid)
        return json_response(self._message_state(message)) if message else _error("message not found", 404)

    def _list(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        items = sorted(self.messages.values(), key=lambda m: m["created"], reverse=req.arg("sort") != "created_at")
        if req.arg("state"):
            items = [m for m in items if m["state"] == req.arg("state")]
        offset, limit = int(req.arg("offset") or 0), int(req.arg("limit") or 50)
        page = [self._message_state(m) for m in items[offset : offset + limit]]
        return json_response(page, 200, **{"X-Total-Count": str(len(items))})

    def _cancel(self, req: SimRequest, claims: dict[str, Any], mid: str) -> SimResponse:
        message = self.messages.get(mid)
        if message is None:
            return _error("message not found", 404)
        if message["state"] != "Pending":
            return _error("failed to cancel message: message is not pending", 409)
        self._move(message, "Cancelled", self.sandbox.clock())
        return json_response(self._message_state(message))

    # -- webhooks --------------------------------------------------------------------------
    def _add_webhook(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        body = req.json()
        problem = validate_webhook(body, bool(self.settings["allow_http_webhooks"]))
        if problem:
            return _error(problem, 400)
        webhook = {"id": body.get("id") or uuid.uuid4().hex[:21], "url": body["url"], "event": body["event"]}
        if body.get("deviceId"):
            webhook["deviceId"] = body["deviceId"]
        self.webhooks[webhook["id"]] = webhook
        self.hooks.ensure_running()
        return json_response(webhook, 201)

    def _list_webhooks(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        return json_response(list(self.webhooks.values()))

    def _delete_webhook(self, req: SimRequest, claims: dict[str, Any], wid: str) -> SimResponse:
        self.webhooks.pop(wid, None)
        return SimResponse(204)


def _clean_numbers(numbers: list[str]) -> str | list[str]:
    """The server's check: parse with default region RU, valid, mobile; E.164 out."""
    cleaned = []
    for number in numbers:
        try:
            parsed = phonenumbers.parse(number, "RU")
        except phonenumbers.NumberParseException as exc:
            return f"failed to parse phone number: {exc}"
        if not phonenumbers.is_valid_number(parsed):
            return "invalid phone number"
        kind = phonenumbers.number_type(parsed)
        if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
            return "not mobile phone number"
        cleaned.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return cleaned

