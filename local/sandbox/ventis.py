"""Ventis Messaging simulator, following docs/providers.md section 4 and the public integration
the seed (003) describes: collecte_taxe `backend/services/ventis_messaging.py` ("the
integration" below).

- Keycloak token endpoint: `/ventis/realms/Messaging/protocol/openid-connect/token`
  (form-encoded `password` and `refresh_token` grants, Keycloak's own error bodies:
  401 `invalid_grant` "Invalid user credentials", 401 `unauthorized_client` "Invalid client or
  Invalid client credentials" for a wrong secret (keycloak `ClientIdAndSecretAuthenticator`),
  401 `unauthorized_client` "Client secret not provided in request" for a missing one (what
  the integrator saw from Ventis: collecte_taxe `backend/TROUBLESHOOTING_VENTIS.md`), 400
  `invalid_grant` "Token is not active" for a dead refresh token).
- Send: `/ventis/messaging/api/v1/message`, `Authorization: Bearer`, JSON
  `{"to": "241…", "sender", "isOTP", "message"}`. Success answers `+SUCCESS|<uuid>|<timestamp>`
  as plain text, the format the integration's `parse_ventis_response` reads
  (`answer_format="json"`: `{"status":"SUCCESS","id":...,"timestamp":...}`, which no source
  shows); refusals answer `-ERROR|<code>|<message>` (JSON: `{"status":"ERROR","error":code,
  "message":...}`) with HTTP `error_http_status` (unknown: the integration reads `-ERROR`
  only from a 200 answer, the NestJS one counts any 200 as sent). A missing, unknown or
  expired token gets an empty 401 with `WWW-Authenticate: Bearer error="invalid_token"` (a
  Keycloak-protected resource server's usual answer; unknown).
- What the integration never sends is refused with `-ERROR|INVALID_REQUEST|…`: an `isOTP`
  that is not a JSON boolean (`send_message(is_otp: bool = False)`; `is_otp_type="string"`
  plays the NestJS integration's server, which sends "false" "as per documentation", and
  "any" takes both), and a `to` that is not `241` + digits (a `+`, spaces) -> INVALID_NUMBER.

Choices, not known facts: the error codes (`INVALID_NUMBER`, `INVALID_SENDER`,
`INSUFFICIENT_CREDIT`, `UNAUTHORIZED`, `ROUTE_UNAVAILABLE`, `INVALID_REQUEST`), the
timestamp format, and accepting `to` as 241 followed by 8 to 10 digits (both the
with-zero and without-zero conventions pass).
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from local.sandbox.core import OutboxEntry, ProviderSim, SimRequest, SimResponse, json_response

DEFAULTS: dict[str, Any] = {
    "client_id": "api-messaging",
    "client_secret": "sandbox-client-secret",  # None: a public client (no secret checked)
    "username": "sandbox",
    "password": "sandbox-password",
    "access_lifetime": 300,  # seconds (Keycloak default)
    "refresh_lifetime": 1800,  # seconds (Keycloak default)
    "answer_format": "text",  # or "json"
    "error_http_status": 400,  # HTTP status of -ERROR answers (unknown: 200 or 4xx)
    "approved_senders": ["VENTIS", "TAMTAM"],
    "is_otp_type": "boolean",  # "boolean" (the integration), "string" ("false"/"true"), "any"
}

TOKEN_PATH = "/realms/Messaging/protocol/openid-connect/token"  # noqa: S105 - a path
SEND_PATH = "/messaging/api/v1/message"
_TO = re.compile(r"^241\d{8,10}$")

_REJECTIONS = {
    "invalid_number": ("INVALID_NUMBER", "Invalid destination number"),
    "sender_not_approved": ("INVALID_SENDER", "Sender is not allowed for this account"),
    "insufficient_credit": ("INSUFFICIENT_CREDIT", "Insufficient credit"),
    "auth_failed": ("UNAUTHORIZED", "Account is not allowed to send messages"),
    "device_offline": ("ROUTE_UNAVAILABLE", "No route available to the destination operator"),
}


def _keycloak_error(status: int, error: str, description: str) -> SimResponse:
    return json_response({"error": error, "error_description": description}, status)


def _same(given: Any, expected: Any) -> bool:
    return hmac.compare_digest(str(given or "").encode(), str(expected or "").encode())


class VentisSim(ProviderSim):
    name = "ventis"

    def __init__(self, sandbox: Any):
        super().__init__(sandbox)
        self.settings = {**DEFAULTS, "approved_senders": list(DEFAULTS["approved_senders"])}
        self.access_tokens: dict[str, float] = {}  # token -> expiry
        self.refresh_tokens: dict[str, tuple[float, str]] = {}  # token -> (expiry, session)
        self.counters = {"password_grants": 0, "refresh_grants": 0, "sends": 0, "unauthorized": 0}

    # -- frame hooks ---------------------------------------------------------------------
    def configure(self, settings: dict[str, Any]) -> None:
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown ventis settings: {', '.join(sorted(unknown))}")
        super().configure(settings)

    def state(self) -> dict[str, Any]:
        with self.lock:
            settings = {k: v for k, v in self.settings.items() if k not in ("password", "client_secret")}
            return {"settings": settings, "counters": dict(self.counters)}

    def error_response(self, status: int) -> SimResponse:
        if status == 401:
            return self._unauthorized()
        if status >= 500:  # the reverse proxy in front of the service
            text = f"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1>" \
                   "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            return SimResponse(status, text, content_type="text/html")
        return SimResponse(status, "Too Many Requests" if status == 429 else "Error", content_type="text/plain")

    def reject_response(self, reason: str) -> SimResponse:
        code, message = _REJECTIONS.get(reason, ("INVALID_REQUEST", "Request rejected"))
        return self._error(code, message)

    # -- routing -------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        with self.lock:
            if req.path == TOKEN_PATH:
                if req.method != "POST":
                    return SimResponse(405, "", content_type="text/plain")
                return self._token(req.form())
            if req.path == SEND_PATH and req.method == "POST":
                return self._send(req)
        return json_response({"timestamp": _now_iso(self.sandbox.clock()), "status": 404, "error": "Not Found",
                              "path": req.path}, 404)

    # -- Keycloak --------------------------------------------------------------------------
    def _token(self, form: dict[str, str]) -> SimResponse:
        grant = form.get("grant_type")
        if not grant:
            return _keycloak_error(400, "invalid_request", "Missing form parameter: grant_type")
        if grant not in ("password", "refresh_token"):
            return _keycloak_error(400, "unsupported_grant_type", "Unsupported grant_type")
        client_ok = _same(form.get("client_id"), self.settings["client_id"]) and (
            self.settings["client_secret"] is None or _same(form.get("client_secret"), self.settings["client_secret"])
        )
        if not client_ok:
            if self.settings["client_secret"] is not None and not form.get("client_secret"):
                return _keycloak_error(401, "unauthorized_client", "Client secret not provided in request")
            return _keycloak_error(401, "unauthorized_client", "Invalid client or Invalid client credentials")
        if grant == "password":
            if not (_same(form.get("username"), self.settings["username"])
                    and _same(form.get("password"), self.settings["password"])):
                return _keycloak_error(401, "invalid_grant", "Invalid user credentials")
            self.counters["password_grants"] += 1
            return self._issue(str(uuid.uuid4()))
        known = self.refresh_tokens.get(form.get("refresh_token") or "")
        if known is None:
            return _keycloak_error(400, "invalid_grant", "Invalid refresh token")
        if known[0] <= self.sandbox.clock():
            return _keycloak_error(400, "invalid_grant", "Token is not active")
        self.counters["refresh_grants"] += 1
        return self._issue(known[1])

    def _issue(self, session: str) -> SimResponse:
        now = self.sandbox.clock()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access_tokens[access] = now + float(self.settings["access_lifetime"])
        self.refresh_tokens[refresh] = (now + float(self.settings["refresh_lifetime"]), session)
        return json_response(
            {
                "access_token": access,
                "expires_in": int(self.settings["access_lifetime"]),
                "refresh_expires_in": int(self.settings["refresh_lifetime"]),
                "refresh_token": refresh,
                "token_type": "Bearer",
                "not-before-policy": 0,
                "session_state": session,
                "scope": "profile email",
            }
        )

    # -- messaging -----------------------------------------------------------------------
    def _unauthorized(self) -> SimResponse:
        self.counters["unauthorized"] += 1
        return SimResponse(401, "", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                           content_type="text/plain")

    def _error(self, code: str, message: str) -> SimResponse:
        status = int(self.settings["error_http_status"])
        if self.settings["answer_format"] == "json":
            return json_response({"status": "ERROR", "error": code, "message": message}, status)
        return SimResponse(status, f"-ERROR|{code}|{message}", content_type="text/plain; charset=utf-8")

    def _send(self, req: SimRequest) -> SimResponse:
        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        expiry = self.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None or expiry <= self.sandbox.clock():
            return self._unauthorized()
        try:
            body = req.json()
        except ValueError:
            return self._error("INVALID_REQUEST", "Malformed JSON body")
        if not isinstance(body, dict) or not all(body.get(k) not in (None, "") for k in ("to", "sender", "message")):
            return self._error("INVALID_REQUEST", "Fields to, sender and message are required")
        refused = self._check_is_otp(body)
        if refused is not None:
            return refused
        if not isinstance(body["to"], str) or not _TO.match(body["to"]):
            return self.reject_response("invalid_number")
        if body["sender"] not in self.settings["approved_senders"]:
            return self.reject_response("sender_not_approved")
        return self._accept(body)

    def _check_is_otp(self, body: dict[str, Any]) -> SimResponse | None:
        wanted = self.settings["is_otp_type"]
        value = body.get("isOTP")
        if wanted == "any" and (isinstance(value, bool) or value in ("true", "false")):
            return None
        if wanted == "boolean" and isinstance(value, bool):
            return None
        if wanted == "string" and value in ("true", "false"):
            return None
        kind = "a JSON boolean" if wanted == "boolean" else 'the string "true" or "false"'
        return self._error("INVALID_REQUEST", f"isOTP must be {kind}")

    def _accept(self, body: dict[str, Any]) -> SimResponse:
        message_id, now = str(uuid.uuid4()), self.sandbox.clock()
        self.counters["sends"] += 1
        self.sandbox.record(
            OutboxEntry(provider=self.name, to=str(body["to"]), text=str(body["message"]), sender=str(body["sender"]),
                        provider_message_id=message_id, extra={"isOTP": body.get("isOTP")})
        )
        if self.settings["answer_format"] == "json":
            return json_response({"status": "SUCCESS", "id": message_id, "timestamp": _now_iso(now)})
        return SimResponse(200, f"+SUCCESS|{message_id}|{_now_iso(now)}", content_type="text/plain; charset=utf-8")


def _now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
