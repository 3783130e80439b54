"""Message Pro (Zender) simulator (`/messagepro/api/<verb>/<service>`), following
docs/providers.md section 2 and Zender's own `api.php`.

- Parameters come from `$_REQUEST`: query string and form-encoded bodies. JSON bodies are
  not parsed, so a JSON-only request lacks `secret` and gets `400 Invalid Parameters!`.
- Every answer is HTTP 200 with `{"status", "message", "data"}`; errors live in `status`,
  with Zender's real strings.
- Messages go queued (1) -> sent (3, `SMS_SENT`) -> delivered (3, `SMS_DELIVERED`), one
  `status_delay` apart on the sandbox clock; `final_status_code="DELIVERY_FAILED"` ends them
  failed (4) instead.
- Every accepted message costs `price` credits. As in Zender, only credits-mode sends are
  refused when credits run short (devices mode uses the customer's own SIM cards).

Choices, not known facts: Zender has no sender-name approval; a `sender_not_approved`
rejection answers `403 "Sender ID is not approved!"`. `error_style="envelope"` makes injected
errors come back as HTTP 200 envelopes (`{"status": 500, ...}`) instead of real HTTP errors.
"""

from __future__ import annotations

import random
from typing import Any

import phonenumbers

from local.sandbox.core import OutboxEntry, ProviderSim, SimRequest, SimResponse, json_response

ALL_PERMISSIONS = ["sms_send", "sms_send_bulk", "otp", "wa_send", "get_credits", "get_sms_sent", "get_message"]

DEFAULTS: dict[str, Any] = {
    "secrets": {"sandbox-secret": ALL_PERMISSIONS},  # API secret -> permissions
    "devices": ["sandbox-device"],  # unique IDs of linked Android devices (devices mode)
    "gateways": ["1"],  # gateway IDs (credits mode)
    "whatsapp_accounts": ["sandbox-wa-account"],
    "credits": 100.0,
    "currency": "GNF",
    "price": 1.0,  # credits per accepted message
    "status_delay": 1.0,  # seconds between queued -> sent -> delivered
    "final_status_code": "SMS_DELIVERED",  # or "DELIVERY_FAILED"
    "return_message_id": True,  # False: old Zender, `data: false` on sends
    "message_max": 0,  # 0: no length limit
    "error_style": "http",  # or "envelope"
    "groups": {"1": ["+224622000201", "+224622000202"]},  # contact group id -> phones
}

_PERMISSIONS = {
    "send/sms": ("sms_send",),
    "send/sms.bulk": ("sms_send_bulk",),
    "send/otp": ("otp",),
    "get/otp": ("otp",),
    "send/whatsapp": ("wa_send",),
    "get/sms.message": ("get_message", "get_sms_sent"),
    "get/sms.sent": ("get_sms_sent",),
    "get/credits": ("get_credits",),
}

_REJECTIONS = {
    "insufficient_credit": (403, "Not enough credits to send this message!"),
    "invalid_number": (400, "Invalid phone number!"),
    "auth_failed": (401, "Invalid API secret supplied!"),
    "sender_not_approved": (403, "Sender ID is not approved!"),
    "device_offline": (404, "Device doesn't exist!"),
}


def envelope(status: int, message: str | bool, data: Any = False) -> SimResponse:
    """Zender's `response()`: always HTTP 200."""
    return json_response({"status": status, "message": message, "data": data})


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _phone(raw: str) -> str | None:
    """E.164 when valid (Zender forces a leading `+` and asks libphonenumber), else None."""
    try:
        number = phonenumbers.parse("+" + raw.strip().lstrip("+"), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class _Refused(Exception):
    """A Zender `response(status, message)` that ends the request."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class MessageProSim(ProviderSim):
    name = "messagepro"

    def __init__(self, sandbox: Any):
        super().__init__(sandbox)
        self.settings = {key: (list(v) if isinstance(v, list) else v) for key, v in DEFAULTS.items()}
        self.settings["secrets"] = {k: list(v) for k, v in DEFAULTS["secrets"].items()}
        self.messages: dict[int, dict[str, Any]] = {}
        self.otps: dict[str, dict[int, float]] = {}  # secret -> otp -> expiry

    # -- frame hooks ---------------------------------------------------------------------
    def configure(self, settings: dict[str, Any]) -> None:
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown messagepro settings: {', '.join(sorted(unknown))}")
        super().configure(settings)

    def state(self) -> dict[str, Any]:
        with self.lock:
            now = self.sandbox.clock()
            return {
                "settings": {k: v for k, v in self.settings.items() if k != "secrets"},
                "credits": float(self.settings["credits"]),
                "messages": [self._item(m, now) for m in self.messages.values()],
            }

    def error_response(self, status: int) -> SimResponse:
        if self.settings["error_style"] == "envelope":
            return envelope(status, "We encountered a gateway error!" if status >= 500 else "Invalid Parameters!")
        if status >= 500:  # what the web server in front of PHP answers
            text = f"<html><head><title>{status}</title></head><body><h1>{status} Server Error</h1></body></html>"
            return SimResponse(status, text, content_type="text/html; charset=utf-8")
        return SimResponse(status, "Too Many Requests" if status == 429 else "Error", content_type="text/plain")

    def reject_response(self, reason: str) -> SimResponse:
        status, message = _REJECTIONS.get(reason, (400, "Invalid Parameters!"))
        return envelope(status, message)

    # -- routing -------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        route = req.path.removeprefix("/api/").strip("/")
        params = req.form()
        with self.lock:
            try:
                secret = self._authenticate(route, params)
                return self._dispatch(route, params, secret)
            except _Refused as refused:
                return envelope(refused.status, refused.message)

    def _authenticate(self, route: str, params: dict[str, str]) -> str:
        secret = params.get("secret")
        if not secret:
            raise _Refused(400, "Invalid Parameters!")
        permissions = self.settings["secrets"].get(secret)
        if permissions is None:
            raise _Refused(401, "Invalid API secret supplied!")
        if route not in _PERMISSIONS:
            raise _Refused(500, "Invalid API Endpoint!")
        if not any(p in permissions for p in _PERMISSIONS[route]):
            raise _Refused(403, "This API key doesn't have permission to use this endpoint!")
        return secret

    def _dispatch(self, route: str, params: dict[str, str], secret: str) -> SimResponse:
        handlers = {
            "send/sms": self._send_sms,
            "send/sms.bulk": self._send_bulk,
            "send/whatsapp": self._send_whatsapp,
            "get/sms.message": self._get_message,
            "get/sms.sent": self._get_sent,
            "get/credits": self._get_credits,
            "get/otp": lambda p: self._verify_otp(p, secret),
            "send/otp": lambda p: self._send_otp(p, secret),
        }
        return handlers[route](params)

    # -- checks shared by the send routes --------------------------------------------------
    def _text(self, message: str | None) -> str:
        if not message:
            raise _Refused(400, "Message is too short!")
        if self.settings["message_max"] and len(message) > int(self.settings["message_max"]):
            raise _Refused(400, "Message is too long!")
        return message

    def _route_of(self, params: dict[str, str], count: int = 1) -> dict[str, Any]:
        """The device or gateway a send goes through (devices or credits mode)."""
        mode = params.get("mode")
        if mode == "devices":
            if not params.get("device"):
                raise _Refused(400, "Invalid Parameters!")
            sim, priority = _int(params.get("sim", "1")), _int(params.get("priority", "0"))
            if sim is None:
                raise _Refused(400, "Sim parameter must be an integer value!")
            if priority is None:
                raise _Refused(400, "Priority parameter must be an integer value!")
            if params["device"] not in self.settings["devices"]:
                raise _Refused(404, "Device doesn't exist!")
            return {"mode": "devices", "sender": params["device"], "sender_type": "device",
                    "sim": 1 if sim < 2 else 2, "priority": priority < 2}
        if mode != "credits" or not params.get("gateway"):
            raise _Refused(400, "Invalid Parameters!")
        if params["gateway"] not in self.settings["gateways"]:
            raise _Refused(404, "Specified gateway doesn't exist!")
        if float(self.settings["credits"]) < float(self.settings["price"]) * count:
            raise _Refused(403, "Not enough credits to send this message!")
        return {"mode": "credits", "sender": params["gateway"], "sender_type": "gateway", "sim": 0, "priority": False}

    def _take(self, phone: str, text: str, via: dict[str, Any], channel: str = "sms") -> int:
        message_id = max(self.messages, default=0) + 1
        self.messages[message_id] = {
            "id": message_id, **via, "api": True, "recipient": phone, "message": text,
            "created": self.sandbox.clock(), "channel": channel,
            "final_status_code": self.settings["final_status_code"],
        }
        self.settings["credits"] = float(self.settings["credits"]) - float(self.settings["price"])
        self.sandbox.record(
            OutboxEntry(provider=self.name, to=phone, text=text, sender=str(via.get("sender")),
                        provider_message_id=str(message_id), channel=channel, extra={"mode": via.get("mode")})
        )
        return message_id

    def _id_data(self, message_id: int) -> Any:
        return {"messageId": message_id} if self.settings["return_message_id"] else False

    # -- sends ---------------------------------------------------------------------------
    def _send_sms(self, params: dict[str, str]) -> SimResponse:
        if not all(params.get(k) for k in ("mode", "phone")) or "message" not in params:
            raise _Refused(400, "Invalid Parameters!")
        phone = _phone(params["phone"])
        if phone is None:
            raise _Refused(400, "Invalid phone number!")
        text = self._text(params["message"])
        message_id = self._take(phone, text, self._route_of(params))
        return envelope(200, "Message has been queued for sending!", self._id_data(message_id))

    def _send_bulk(self, params: dict[str, str]) -> SimResponse:
        """`numbers` and/or `groups` (comma-separated contact group ids)."""
        if not all(params.get(k) for k in ("mode", "campaign", "message")) or not (params.get("numbers") or params.get("groups")):
            raise _Refused(400, "Invalid Parameters!")
        text = self._text(params["message"])
        numbers = [n for n in params.get("numbers", "").split(",") if n.strip()]
        for group in (g.strip() for g in params.get("groups", "").split(",") if g.strip()):
            numbers += self.settings["groups"].get(group, [])
        phones = [p for p in (_phone(n) for n in numbers) if p]
        via = self._route_of(params, count=len(phones))
        for phone in phones:
            self._take(phone, text, {**via, "campaign": params["campaign"]})
        return envelope(200, "Bulk messages has been queued for sending!")

    def _send_whatsapp(self, params: dict[str, str]) -> SimResponse:
        if not all(params.get(k) for k in ("account", "recipient", "message")):
            raise _Refused(400, "Invalid Parameters!")
        if params.get("type", "text") not in ("text", "media", "document"):
            raise _Refused(400, "Invalid Parameters!")
        if _int(params.get("priority", "2")) is None:
            raise _Refused(400, "Priority parameter must be an integer value!")
        if params["account"] not in self.settings["whatsapp_accounts"]:
            raise _Refused(404, "WhatsApp account doesn't exist!")
        phone = _phone(params["recipient"])
        if phone is None:
            raise _Refused(400, "Invalid phone number!")
        via = {"mode": "whatsapp", "sender": params["account"], "sender_type": "account", "sim": 0, "priority": False}
        message_id = self._take(phone, params["message"], via, channel="whatsapp")
        return envelope(200, "WhatsApp chat has been queued for sending!", self._id_data(message_id))

    def _send_otp(self, params: dict[str, str], secret: str) -> SimResponse:
        expire = _int(params.get("expire", "300"))
        if "message" not in params or expire is None or params.get("type") not in ("sms", "whatsapp"):
            raise _Refused(400, "Invalid Parameters!")
        codes = self.otps.setdefault(secret, {})
        otp = random.randint(100000, 999999)
        while otp in codes:
            otp = random.randint(100000, 999999)
        text = params["message"].replace("{{otp}}", str(otp))
        phone = _phone(params.get("phone", ""))
        if params["type"] == "sms":
            if not params.get("mode") or phone is None:
                raise _Refused(400, "Invalid Parameters!" if not params.get("mode") else "Invalid phone number!")
            message_id = self._take(phone, self._text(text), self._route_of(params))
        else:
            if not params.get("account") or phone is None:
                raise _Refused(400, "Invalid Parameters!")
            if params["account"] not in self.settings["whatsapp_accounts"]:
                raise _Refused(404, "WhatsApp account doesn't exist!")
            via = {"mode": "whatsapp", "sender": params["account"], "sender_type": "account", "sim": 0,
                   "priority": False}
            message_id = self._take(phone, text, via, channel="whatsapp")
        codes[otp] = self.sandbox.clock() + max(expire, 1)
        return envelope(200, "OTP has been sent!", {"phone": phone, "message": text, "messageId": message_id,
                                                    "otp": otp})

    def _verify_otp(self, params: dict[str, str], secret: str) -> SimResponse:
        otp = _int(params.get("otp"))
        if otp is None:
            raise _Refused(400, "Invalid Parameters!")
        expiry = self.otps.get(secret, {}).pop(otp, None)  # single use
        if expiry is None or expiry <= self.sandbox.clock():
            raise _Refused(403, "OTP is invalid or expired!")
        return envelope(200, "OTP has been verified!")

    # -- queries -------------------------------------------------------------------------
    def _item(self, msg: dict[str, Any], now: float) -> dict[str, Any]:
        age, delay = now - msg["created"], float(self.settings["status_delay"])
        if age < delay:
            status, code = 1, False
        elif age < 2 * delay:
            status, code = 3, "SMS_SENT"
        else:
            code = msg["final_status_code"]
            status = 4 if code == "DELIVERY_FAILED" else 3
        keys = ("id", "mode", "sender", "sender_type", "sim", "priority", "api", "recipient", "message")
        return {**{k: msg[k] for k in keys}, "status": status, "status_code": code, "created": int(msg["created"])}

    def _get_message(self, params: dict[str, str]) -> SimResponse:
        message_id, kind = _int(params.get("id")), params.get("type")
        if message_id is None or kind not in ("sent", "received"):
            raise _Refused(400, "Invalid Parameters!")
        msg = self.messages.get(message_id) if kind == "sent" else None
        if msg is None or msg["channel"] != "sms":
            raise _Refused(404, "Message doesn't exist!")
        return envelope(200, "SMS Message", self._item(msg, self.sandbox.clock()))

    def _get_sent(self, params: dict[str, str]) -> SimResponse:
        limit, page = _int(params.get("limit", "10")), _int(params.get("page", "1"))
        if not limit or not page or limit < 1 or page < 1:
            raise _Refused(400, "Invalid Parameters!")
        now = self.sandbox.clock()
        sent = [self._item(m, now) for m in reversed(self.messages.values()) if m["channel"] == "sms"]
        return envelope(200, "Sent Messages", sent[(page - 1) * limit : page * limit])

    def _get_credits(self, params: dict[str, str]) -> SimResponse:
        data = {"credits": f"{float(self.settings['credits']):.3f}", "currency": self.settings["currency"]}
        return envelope(200, "Remaining Credits", data)
