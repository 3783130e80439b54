"""PasseInfo simulator (`/passeinfo/v1/...`), following docs/providers.md section 1.

Static `Api-Key` + `Client-Id` headers on every call; JSON bodies. What the real service
leaves unknown is a setting here (see `DEFAULTS`): the contact format, the renew answer's
key and HTTP method, whether the old key keeps working for a while after a renewal, and
the send answer's id key.

Error answers show only what the SDK and its docs show, the rest is a setting:
- a JSON body with `status` (README: "success or failure status") and `message`; the failure
  word ("error") and the text are unknown (`error_word`, `error_texts`); `error_body=
  "success_false"` answers `{"success": false, "message": ...}` instead (the key models.py
  reads on its contact and group calls);
- HTTP 400 invalid parameters, 401 invalid credentials, 404 not found (the codes
  exceptions.py `PassInfoAPIError` and client.py `get_message_status` document); an
  insufficient balance answers 402, a guess (`error_codes`); `error_http_status=200` answers
  every error with 200, which the SDK (client.py `_make_request`, no status check) cannot
  tell from a success;
- a path or method the API does not serve answers 404 (`unrouted_status`), as a JSON error
  body or an Express-style HTML page (`unrouted`): the server's framework is unknown;
- 5xx answers (fault injection) are a reverse proxy's HTML page: unknown, nothing documents them.
Key renewal is served on GET only by default (models.py `renew_api_key`, the SDK's only call
that goes out); POST (the npm SDK) is a setting (`renew_methods`).
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from local.sandbox.core import OutboxEntry, ProviderSim, SimRequest, SimResponse, json_response

DEFAULTS: dict[str, Any] = {
    "client_id": "sandbox-client",
    "api_key": "sandbox-api-key",
    "balance": 1000,  # SMS credits ("solde"), one per message sent
    # "national": 9 digits without 224 (the npm SDK's documented form); "international_digits":
    # 224 + 9 digits; "any": both.
    "contact_format": "national",
    "sent_after": 0.0,  # seconds after the send before the status says "sent" ("pending" before)
    "delivered_after": 1.0,  # seconds after the send before "delivered" (or "failed")
    "final_status": "delivered",  # or "failed"
    "failure_message": "Message delivery failed",
    "approved_senders": None,  # None: any sender name; else a list of approved names
    "send_id_keys": ["message", "message_id"],  # the docs disagree: answer with both by default
    "renew_methods": ["GET"],  # models.py: GET; the npm SDK: POST (add it to serve both)
    "renew_response_keys": ["new_api_key", "api_key"],  # ... and on the answer's key
    "old_key_grace": 0.0,  # seconds the previous key still works after a renewal
    "groups": {"sandbox-group": ["622000101", "622000102", "622000103"]},  # group id -> contacts
    # -- error answers (see the module docstring: only the 400/401/404 codes are documented)
    # "status": {"status": error_word, "message"}; "success_false": {"success": false, "message"}
    "error_body": "status",
    "error_word": "error",  # unknown: the README only says "success or failure status"
    "error_http_status": None,  # None: `error_codes` per kind; an int (200...): every error answer with it
    "error_codes": {"invalid": 400, "auth": 401, "not_found": 404, "insufficient_credit": 402},
    "error_texts": {
        "auth_failed": "Invalid API key",
        "insufficient_credit": "Insufficient SMS balance",
        "invalid_number": "Invalid contact number",
        "sender_not_approved": "Sender name not approved",
        "rejected": "Message rejected",
        "message_not_found": "Message not found",
        "group_not_found": "Group not found",
        "not_found": "Not found",
        "too_many_requests": "Too many requests",
        "bad_body": "Request body must be a JSON object",
    },
    "unrouted": "json",  # "json": the error body; "html": Express's default "Cannot GET /path" page
    "unrouted_status": 404,
}

_STATUS_PREFIX = "/v1/message/get_single_status/"
_GROUP_PREFIX = "/v1/message/send_message_to_group/"
_GUINEA_NATIONAL = re.compile(r"^[2-7]\d{8}$")  # 9 digits: 6x mobile, 3x fixed line


# reason (fault or refusal) -> (kind of error, key of its text)
_REFUSALS = {
    "insufficient_credit": ("insufficient_credit", "insufficient_credit"),
    "invalid_number": ("invalid", "invalid_number"),
    "sender_not_approved": ("invalid", "sender_not_approved"),
    "auth_failed": ("auth", "auth_failed"),
}
_PROXY_PAGE = "<html><head><title>{0}</title></head><body><h1>{0} Server Error</h1></body></html>"
_EXPRESS_404 = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n'
    "<body>\n<pre>Cannot {method} {path}</pre>\n</body>\n</html>\n"
)
_BAD_BODY = object()


class PasseInfoSim(ProviderSim):
    name = "passeinfo"

    def __init__(self, sandbox: Any):
        super().__init__(sandbox)
        self.settings = dict(DEFAULTS)
        self.messages: dict[str, dict[str, Any]] = {}
        self.previous_keys: list[tuple[str, float]] = []  # (old key, refused after this time)
        self.renewals = 0

    # -- frame hooks ---------------------------------------------------------------------
    def configure(self, settings: dict[str, Any]) -> None:
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown passeinfo settings: {', '.join(sorted(unknown))}")
        super().configure(settings)

    def state(self) -> dict[str, Any]:
        with self.lock:
            now = self.sandbox.clock()
            return {
                "settings": dict(self.settings),
                "messages": {mid: self._view(msg, now) for mid, msg in self.messages.items()},
                "renewals": self.renewals,
            }

    def error_response(self, status: int) -> SimResponse:
        if status >= 500:  # what a reverse proxy in front of the API answers: not JSON (unknown)
            return SimResponse(status, _PROXY_PAGE.format(status), content_type="text/html; charset=utf-8")
        texts = {401: "auth_failed", 403: "auth_failed", 404: "not_found", 429: "too_many_requests"}
        text = texts.get(status, "rejected")
        return self._error_body(self._text(text), status)

    def reject_response(self, reason: str) -> SimResponse:
        if reason == "provider_unavailable":
            return self.error_response(503)
        kind, text = _REFUSALS.get(reason, ("invalid", "rejected"))
        return self._error(kind, text)

    # -- error answers -----------------------------------------------------------------------
    def _text(self, key: str) -> str:
        return str(self.settings["error_texts"].get(key, key))

    def _error_body(self, text: str, status: int) -> SimResponse:
        if self.settings["error_body"] == "success_false":
            return json_response({"success": False, "message": text}, status)
        return json_response({"status": self.settings["error_word"], "message": text}, status)

    def _error(self, kind: str, text_key: str, text: str | None = None) -> SimResponse:
        """An error answer of `kind` ("invalid", "auth", "not_found", "insufficient_credit")."""
        fixed = self.settings["error_http_status"]
        status = int(fixed) if fixed is not None else int(self.settings["error_codes"].get(kind, 400))
        return self._error_body(text or self._text(text_key), status)

    def _unrouted(self, req: SimRequest) -> SimResponse:
        status = int(self.settings["unrouted_status"])
        if self.settings["unrouted"] == "html":
            page = _EXPRESS_404.format(method=req.method, path=req.path)
            return SimResponse(status, page, content_type="text/html; charset=utf-8")
        return self._error_body(self._text("not_found"), status)

    # -- routing -------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        with self.lock:
            if not self._authorized(req):
                return self._error("auth", "auth_failed")
            route = (req.method, req.path.rstrip("/"))
            if route == ("POST", "/v1/message/single_message"):
                return self._single(_body(req))
            if route == ("POST", "/v1/message/send_bulk_contacts_messages"):
                return self._bulk(_body(req))
            if req.method == "POST" and req.path.startswith(_GROUP_PREFIX):
                return self._group(req.path[len(_GROUP_PREFIX):].strip("/"), _body(req))
            if req.method == "GET" and req.path.startswith(_STATUS_PREFIX):
                return self._status(req.path[len(_STATUS_PREFIX):].strip("/"))
            if route == ("GET", "/v1/user/get_solde"):
                return json_response({"solde": int(self.settings["balance"])})
            if route[1] == "/v1/user/renew_api_key" and req.method in self.settings["renew_methods"]:
                return self._renew()
            return self._unrouted(req)

    def _authorized(self, req: SimRequest) -> bool:
        client_id = req.headers.get("Client-Id") or ""
        key = req.headers.get("Api-Key") or ""
        if not hmac.compare_digest(client_id.encode(), str(self.settings["client_id"]).encode()):
            return False
        if hmac.compare_digest(key.encode(), str(self.settings["api_key"]).encode()):
            return True
        now = self.sandbox.clock()
        return any(hmac.compare_digest(key.encode(), old.encode()) and now < until for old, until in self.previous_keys)

    # -- sends ---------------------------------------------------------------------------
    def _check_send(self, body: Any, contacts_field: str) -> SimResponse | None:
        if not isinstance(body, dict):
            return self._error("invalid", "bad_body")
        for field_name in ("message", contacts_field, "senderName"):
            if not body.get(field_name):
                return self._error("invalid", "", f"Missing required field: {field_name}")
        if not isinstance(body["message"], str) or not isinstance(body["senderName"], str):
            return self._error("invalid", "", "message and senderName must be strings")
        approved = self.settings["approved_senders"]
        if approved is not None and body["senderName"] not in approved:
            return self._error("invalid", "sender_not_approved")
        return None

    def _e164(self, contact: Any) -> str | None:
        """The contact as E.164 when it has the configured format, else None."""
        if not isinstance(contact, str):
            return None
        fmt = self.settings["contact_format"]
        if fmt in ("international_digits", "any") and len(contact) == 12 and contact.startswith("224"):
            contact_national = contact[3:]
        elif fmt in ("national", "any"):
            contact_national = contact
        else:
            return None
        return f"+224{contact_national}" if _GUINEA_NATIONAL.match(contact_national) else None

    def _take(self, contact: str, e164: str, body: dict[str, Any]) -> str:
        message_id = self.new_id()
        now = self.sandbox.clock()
        self.messages[message_id] = {
            "to": e164,
            "created": now,
            "sent_after": float(self.settings["sent_after"]),
            "delivered_after": float(self.settings["delivered_after"]),
            "final_status": self.settings["final_status"],
            "failure_message": self.settings["failure_message"],
        }
        self.settings["balance"] = int(self.settings["balance"]) - 1
        self.sandbox.record(
            OutboxEntry(
                provider=self.name,
                to=e164,
                text=body["message"],
                sender=body["senderName"],
                provider_message_id=message_id,
                extra={"contact": contact},
            )
        )
        return message_id

    def _single(self, body: Any) -> SimResponse:
        refused = self._check_send(body, "contact")
        if refused is not None:
            return refused
        e164 = self._e164(body["contact"])
        if e164 is None:
            return self._error("invalid", "invalid_number")
        if int(self.settings["balance"]) <= 0:
            return self._error("insufficient_credit", "insufficient_credit")
        message_id = self._take(body["contact"], e164, body)
        answer: dict[str, Any] = {"status": "success"}
        answer.update(dict.fromkeys(self.settings["send_id_keys"], message_id))
        return json_response(answer)

    def _group(self, group_id: str, body: Any) -> SimResponse:
        """send_message_to_group: every contact of the group, `{"status","group_size","messages_queued"}`."""
        if isinstance(body, dict):
            body = {**body, "contacts": ["group"]}  # the shared checks want a contacts field
        refused = self._check_send(body, "contacts")
        if refused is not None:
            return refused
        contacts = self.settings["groups"].get(group_id)
        if contacts is None:
            return self._error("not_found", "group_not_found")
        if int(self.settings["balance"]) < len(contacts):
            return self._error("insufficient_credit", "insufficient_credit")
        queued = 0
        for contact in contacts:
            e164 = self._e164(contact)
            if e164 is not None:
                self._take(contact, e164, body)
                queued += 1
        return json_response({"status": "success", "group_size": len(contacts), "messages_queued": queued})

    def _bulk(self, body: Any) -> SimResponse:
        refused = self._check_send(body, "contacts")
        if refused is not None:
            return refused
        if not isinstance(body["contacts"], list):
            return self._error("invalid", "", "contacts must be a list")
        if int(self.settings["balance"]) < len(body["contacts"]):
            return self._error("insufficient_credit", "insufficient_credit")
        sent = failed = 0
        for contact in body["contacts"]:
            e164 = self._e164(contact)
            if e164 is None:
                failed += 1
                continue
            self._take(contact, e164, body)
            sent += 1
        return json_response({"status": "success", "successful_sends": sent, "failed_sends": failed})

    # -- status, balance, renewal ----------------------------------------------------------
    def _view(self, msg: dict[str, Any], now: float) -> dict[str, Any]:
        age = now - msg["created"]
        view: dict[str, Any] = {"to": msg["to"], "status": "pending"}
        if age >= msg["delivered_after"]:
            view["status"] = msg["final_status"]
            if msg["final_status"] == "failed":
                view["error_message"] = msg["failure_message"]
        elif age >= msg["sent_after"]:
            view["status"] = "sent"
        return view

    def _status(self, message_id: str) -> SimResponse:
        msg = self.messages.get(message_id)
        if msg is None:
            return self._error("not_found", "message_not_found")
        view = self._view(msg, self.sandbox.clock())
        # client.py get_message_status docstring: {"status", "message_id", "timestamp": "2024-01-20T15:30:45Z"}
        stamp = datetime.fromtimestamp(msg["created"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = {"status": view["status"], "message_id": message_id, "timestamp": stamp}
        if "error_message" in view:
            answer["error_message"] = view["error_message"]
        return json_response(answer)

    def _renew(self) -> SimResponse:
        """A new key, active at once; the old one works `old_key_grace` seconds more (0: none)."""
        new_key = "pk_" + secrets.token_urlsafe(24)
        until = self.sandbox.clock() + float(self.settings["old_key_grace"])
        self.previous_keys = [(k, t) for k, t in self.previous_keys if t > self.sandbox.clock()]
        self.previous_keys.append((str(self.settings["api_key"]), until))
        self.settings["api_key"] = new_key
        self.renewals += 1
        # README: a dict holding the key (`api_key`); models.py reads `new_api_key`. Nothing else is shown.
        return json_response(dict.fromkeys(self.settings["renew_response_keys"], new_key))


def _body(req: SimRequest) -> Any:
    """The JSON body, or a marker that fails the shared checks (a body that is not JSON)."""
    try:
        return req.json()
    except ValueError:
        return _BAD_BODY
