"""PasseInfo simulator (`/passeinfo/v1/...`), following docs/providers.md section 1.

Static `Api-Key` + `Client-Id` headers on every call; JSON bodies. What the real service
leaves unknown is a setting here (see `DEFAULTS`): the contact format, the renew answer's
key and HTTP method, whether the old key keeps working for a while after a renewal, and
the send answer's id key. The real error body shape is unknown; this simulator answers
`{"status": "error", "message": ...}` with a meaningful HTTP status, which is a choice, not
a known fact (the SDK never looks at the status code).
"""

from __future__ import annotations

import hmac
import re
import secrets
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
    "renew_methods": ["GET", "POST"],  # the SDK variants disagree on the method
    "renew_response_keys": ["new_api_key", "api_key"],  # ... and on the answer's key
    "old_key_grace": 0.0,  # seconds the previous key still works after a renewal
    "groups": {"sandbox-group": ["622000101", "622000102", "622000103"]},  # group id -> contacts
}

_STATUS_PREFIX = "/v1/message/get_single_status/"
_GROUP_PREFIX = "/v1/message/send_message_to_group/"
_GUINEA_NATIONAL = re.compile(r"^[2-7]\d{8}$")  # 9 digits: 6x mobile, 3x fixed line


def _error(message: str, status: int) -> SimResponse:
    return json_response({"status": "error", "message": message}, status)


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
        if status >= 500:  # what a reverse proxy in front of the API answers: not JSON
            text = f"<html><head><title>{status}</title></head><body><h1>{status} Server Error</h1></body></html>"
            return SimResponse(status, text, content_type="text/html; charset=utf-8")
        if status == 429:
            return _error("Too many requests", 429)
        return _error("Request failed", status)

    def reject_response(self, reason: str) -> SimResponse:
        answers = {
            "insufficient_credit": ("Insufficient SMS balance", 402),
            "invalid_number": ("Invalid contact number", 400),
            "sender_not_approved": ("Sender name not approved", 400),
            "auth_failed": ("Invalid API key", 401),
            "provider_unavailable": ("Service temporarily unavailable", 503),
        }
        message, status = answers.get(reason, ("Message rejected", 400))
        return _error(message, status)

    # -- routing -------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        with self.lock:
            if not self._authorized(req):
                return self.reject_response("auth_failed")
            route = (req.method, req.path.rstrip("/"))
            if route == ("POST", "/v1/message/single_message"):
                return self._single(req.json())
            if route == ("POST", "/v1/message/send_bulk_contacts_messages"):
                return self._bulk(req.json())
            if req.method == "POST" and req.path.startswith(_GROUP_PREFIX):
                return self._group(req.path[len(_GROUP_PREFIX):].strip("/"), req.json())
            if req.method == "GET" and req.path.startswith(_STATUS_PREFIX):
                return self._status(req.path[len(_STATUS_PREFIX):].strip("/"))
            if route == ("GET", "/v1/user/get_solde"):
                return json_response({"solde": int(self.settings["balance"])})
            if req.path.rstrip("/") == "/v1/user/renew_api_key" and req.method in self.settings["renew_methods"]:
                return self._renew()
            return _error(f"Not found: {req.method} {req.path}", 404)

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
            return _error("Request body must be a JSON object", 400)
        for field_name in ("message", contacts_field, "senderName"):
            if not body.get(field_name):
                return _error(f"Missing required field: {field_name}", 400)
        if not isinstance(body["message"], str) or not isinstance(body["senderName"], str):
            return _error("message and senderName must be strings", 400)
        approved = self.settings["approved_senders"]
        if approved is not None and body["senderName"] not in approved:
            return self.reject_response("sender_not_approved")
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
            return self.reject_response("invalid_number")
        if int(self.settings["balance"]) <= 0:
            return self.reject_response("insufficient_credit")
        message_id = self._take(body["contact"], e164, body)
        answer: dict[str, Any] = {"status": "success"}
        answer.update({key: message_id for key in self.settings["send_id_keys"]})
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
            return _error("Group not found", 404)
        if int(self.settings["balance"]) < len(contacts):
            return self.reject_response("insufficient_credit")
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
            return _error("contacts must be a list", 400)
        if int(self.settings["balance"]) < len(body["contacts"]):
            return self.reject_response("insufficient_credit")
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
            return _error("Message not found", 404)
        view = self._view(msg, self.sandbox.clock())
        answer = {"status": view["status"], "message_id": message_id, "timestamp": int(msg["created"])}
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
        answer: dict[str, Any] = {"status": "success"}
        answer.update({key: new_key for key in self.settings["renew_response_keys"]})
        return json_response(answer)
