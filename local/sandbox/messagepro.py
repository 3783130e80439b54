"""Message Pro (Zender) simulator (`/messagepro/api/<verb>/<service>`), following
docs/providers.md section 2 and Zender's own `api.php` (checked against the 2025 code base:
`system/controllers/api.php`, `smsStatusParser` in `system/resources/mvc_functions.php`).

- Parameters come from `$_REQUEST`: query string and form-encoded bodies. JSON bodies are
  not parsed, so a JSON-only request lacks `secret` and gets `400 Invalid Parameters!`.
- Every answer is HTTP 200 with `{"status", "message", "data"}`; errors live in `status`,
  with Zender's real strings. `messageId` is a string (PDO's `lastInsertId`).
- SMS (table `sent`) and WhatsApp chats (table `wa_sent`) have separate id sequences. The
  stored integer never leaves the simulator: `get/sms.message` answers `smsStatusParser`'s
  word, `get/wa.message` its own words, as Zender does.
- SMS through a device: 1 queued -> 2 pending (the phone took it) -> 3 sent `SMS_SENT` ->
  3 sent `SMS_DELIVERED` (or 4 failed `DELIVERY_FAILED` with `final_status_code`), over two
  `status_delay`s on the sandbox clock. Through a numeric gateway (credits mode): 2 pending
  until the gateway's callback, then 3 sent with no `status_code` (Zender's gateway callback
  only sets status 3: no delivered state); `gateway_refuses` stores it as 4 and answers
  `500 "Gateway was unable to send your message!"` with its `messageId`, sending nothing.
- WhatsApp chats: 1 pending -> 2 queued (the WhatsApp server took it) -> 3 sent (or 4 failed
  with `whatsapp_final_status`); Zender knows no delivered state for chats.
  `whatsapp_queue_unreachable` answers `500 "Unable to connect to WhatsApp servers!"` with
  the `messageId` of a chat that stays pending and still goes out (Zender's cron hands it over).
- Every accepted message costs `price` credits. As in Zender, only credits-mode sends are
  refused when credits run short (devices mode uses the customer's own SIM cards).

Choices, not known facts: Zender has no sender-name approval; a `sender_not_approved`
rejection answers `403 "Sender ID is not approved!"`. `error_style="envelope"` makes injected
errors come back as HTTP 200 envelopes (`{"status": 500, ...}`) instead of real HTTP errors.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import phonenumbers

from local.sandbox.core import OutboxEntry, ProviderSim, SimRequest, SimResponse, json_response

ALL_PERMISSIONS = ["sms_send", "sms_send_bulk", "otp", "wa_send", "get_credits", "get_sms_sent", "get_message",
                   "get_wa_sent"]

DEFAULTS: dict[str, Any] = {
    "secrets": {"sandbox-secret": ALL_PERMISSIONS},  # API secret -> permissions
    "devices": ["sandbox-device"],  # unique IDs of linked Android devices (devices mode)
    "gateways": {"1": "Sandbox Gateway"},  # numeric gateway ID -> name (credits mode)
    "partner_devices": ["sandbox-partner"],  # partner device unique IDs (credits mode)
    "whatsapp_accounts": ["sandbox-wa-account"],
    "whatsapp_number": "+224620000900",  # the accounts' own number (`account` in answers)
    "credits": 100.0,
    "currency": "GNF",
    "price": 1.0,  # credits per accepted message
    "status_delay": 1.0,  # seconds between the stages of a message
    "final_status_code": "SMS_DELIVERED",  # or "DELIVERY_FAILED" (device and partner sends)
    "gateway_callback": True,  # numeric gateway: pending until its callback; False: sent at once
    "gateway_refuses": False,  # numeric gateway: its handler answers false
    "whatsapp_final_status": "sent",  # or "failed"
    "whatsapp_queue_unreachable": False,  # the WhatsApp server does not answer after the chat is stored
    "return_message_id": True,  # False: old Zender, `data: false` on sends
    "message_max": 0,  # 0: no length limit
    "error_style": "http",  # or "envelope"
    "groups": {"1": ["+224622000201", "+224622000202"]},  # contact group id -> phones
    # Dashboard webhooks for received SMS and chats: [{"url", "secret", "types": ["sms", "whatsapp"]}]
    # (POST /_sandbox/messagepro/inbound, local.sandbox.inbound)
    "webhooks": [],
}

# Permission each send route checks first (the `get` routes check theirs after their parameters).
_SEND_PERMISSIONS = {"send/sms": "sms_send", "send/sms.bulk": "sms_send_bulk", "send/otp": "otp",
                     "send/whatsapp": "wa_send"}

_REJECTIONS = {
    "insufficient_credit": (403, "Not enough credits to send this message!"),
    "invalid_number": (400, "Invalid phone number!"),
    "auth_failed": (401, "Invalid API secret supplied!"),
    "sender_not_approved": (403, "Sender ID is not approved!"),
    "device_offline": (404, "Device doesn't exist!"),
}

_SMS_WORDS = {1: "queued", 2: "pending", 3: "sent"}  # smsStatusParser: anything else is "failed"
_WA_WORDS = {1: "pending", 2: "queued", 3: "sent", 4: "failed"}  # get/wa.message: else "unknown"


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
    """A Zender `response(status, message[, data])` that ends the request."""

    def __init__(self, status: int, message: str, data: Any = False):
        super().__init__(message)
        self.status, self.message, self.data = status, message, data


class MessageProSim(ProviderSim):
    name = "messagepro"

    def __init__(self, sandbox: Any):
        super().__init__(sandbox)
        self.settings = copy.deepcopy(DEFAULTS)
        self.tables: dict[str, dict[int, dict[str, Any]]] = {"sms": {}, "whatsapp": {}}  # `sent`, `wa_sent`
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
                "messages": [self._sms_item(m, now) for m in self.tables["sms"].values()],
                "chats": [self._wa_item(m, now) for m in self.tables["whatsapp"].values()],
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
                return self._dispatch(route, params)
            except _Refused as refused:
                return envelope(refused.status, refused.message, refused.data)

    def _dispatch(self, route: str, params: dict[str, str]) -> SimResponse:
        secret = params.get("secret")
        if secret is None:
            raise _Refused(400, "Invalid Parameters!")
        permissions = self.settings["secrets"].get(secret)
        if permissions is None:
            raise _Refused(401, "Invalid API secret supplied!")
        handlers = {
            "send/sms": self._send_sms,
            "send/sms.bulk": self._send_bulk,
            "send/whatsapp": self._send_whatsapp,
            "send/otp": lambda p: self._send_otp(p, secret),
            "get/otp": lambda p: self._verify_otp(p, secret, permissions),
            "get/sms.message": lambda p: self._get_message(p, permissions, "sms"),
            "get/wa.message": lambda p: self._get_message(p, permissions, "whatsapp"),
            "get/sms.sent": lambda p: self._get_sent(p, permissions, "sms"),
            "get/wa.sent": lambda p: self._get_sent(p, permissions, "whatsapp"),
            "get/credits": lambda p: self._get_credits(permissions),
        }
        if route not in handlers:  # the end of each verb's switch: 500 for send, 400 for get
            raise _Refused(400 if route.startswith("get/") else 500, "Invalid API Endpoint!")
        if route in _SEND_PERMISSIONS:
            self._allow(permissions, _SEND_PERMISSIONS[route])
        return handlers[route](params)

    @staticmethod
    def _allow(permissions: list[str], permission: str) -> None:
        if permission not in permissions:
            raise _Refused(403, "This API key doesn't have permission to use this endpoint!")

    # -- checks shared by the send routes --------------------------------------------------
    def _text(self, message: str | None, what: str = "Message") -> str:
        if not message:
            raise _Refused(400, f"{what} is too short!")
        if self.settings["message_max"] and len(message) > int(self.settings["message_max"]):
            raise _Refused(400, f"{what} is too long!")
        return message

    def _route_of(self, params: dict[str, str], count: int = 1) -> dict[str, Any]:
        """The device, gateway or partner device a send goes through (devices or credits mode)."""
        mode = params.get("mode")
        if mode == "devices":
            if "device" not in params:
                raise _Refused(400, "Invalid Parameters!")
            sim, priority = _int(params.get("sim", "1")), _int(params.get("priority", "0"))
            if sim is None:
                raise _Refused(400, "Sim parameter must be an integer value!")
            if priority is None:
                raise _Refused(400, "Priority parameter must be an integer value!")
            if params["device"] not in self.settings["devices"]:
                raise _Refused(404, "Device doesn't exist!")
            # stored priority: `< 2 ? 1 : 2`; answered: `stored < 2 ? false : true`
            return {"mode": "devices", "sender": params["device"], "sender_type": "device", "kind": "device",
                    "sim": 1 if sim < 2 else 2, "priority": priority >= 2}
        if mode != "credits" or "gateway" not in params:
            raise _Refused(400, "Invalid Parameters!")
        gateway = params["gateway"]
        if _int(gateway) is not None:
            if gateway not in self.settings["gateways"]:
                raise _Refused(404, "Specified gateway doesn't exist!")
            via = {"mode": "credits", "sender": self.settings["gateways"][gateway], "sender_type": "gateway",
                   "kind": "gateway", "sim": 0, "priority": False}
        elif gateway in self.settings["partner_devices"]:
            via = {"mode": "credits", "sender": gateway, "sender_type": "partner_device", "kind": "device",
                   "sim": 1, "priority": False}
        else:
            raise _Refused(404, "Device doesn't exist!")
        if float(self.settings["credits"]) < float(self.settings["price"]) * count:
            raise _Refused(403, "Not enough credits to send this message!")
        return via

    def _take(self, phone: str, text: str, via: dict[str, Any], channel: str = "sms", *, status: int = 0) -> int:
        """Store a message (`status` as Zender stores it; by default 2 through a numeric gateway,
        else 1) and, unless it is stored failed, put it in the outbox and charge it."""
        status = status or (2 if via["kind"] == "gateway" else 1)
        table = self.tables[channel]
        message_id = max(table, default=0) + 1
        table[message_id] = {
            "id": message_id, **via, "api": True, "recipient": phone, "message": text, "status": status,
            "created": self.sandbox.clock(), "final_status_code": self.settings["final_status_code"],
            "final_status": 4 if self.settings["whatsapp_final_status"] == "failed" else 3,
        }
        if status != 4:
            self.settings["credits"] = float(self.settings["credits"]) - float(self.settings["price"])
            self.sandbox.record(
                OutboxEntry(provider=self.name, to=phone, text=text, sender=str(via.get("sender")),
                            provider_message_id=str(message_id), channel=channel,
                            extra={"mode": via.get("mode")})
            )
        return message_id

    def _id_data(self, message_id: int) -> Any:
        return {"messageId": str(message_id)} if self.settings["return_message_id"] else False

    # -- sends ---------------------------------------------------------------------------
    def _send_sms(self, params: dict[str, str]) -> SimResponse:
        if not all(k in params for k in ("mode", "phone", "message")):
            raise _Refused(400, "Invalid Parameters!")
        phone = _phone(params["phone"])
        if phone is None:
            raise _Refused(400, "Invalid phone number!")
        text = self._text(params["message"])
        via = self._route_of(params)
        if via["kind"] == "gateway" and self.settings["gateway_refuses"]:
            raise _Refused(500, "Gateway was unable to send your message!",
                           self._id_data(self._take(phone, text, via, status=4)))
        if via["kind"] == "gateway" and not self.settings["gateway_callback"]:
            return envelope(200, "Message has been sent!", self._id_data(self._take(phone, text, via, status=3)))
        return envelope(200, "Message has been queued for sending!", self._id_data(self._take(phone, text, via)))

    def _send_bulk(self, params: dict[str, str]) -> SimResponse:
        """`numbers` and/or `groups` (comma-separated contact group ids); invalid numbers and
        unknown groups are skipped, and nobody left is `400 Invalid Parameters!`. (Choice:
        short credits refuse the whole batch; Zender skips contacts one by one.)"""
        if not all(k in params for k in ("mode", "campaign", "message")) or not (
            "numbers" in params or "groups" in params
        ):
            raise _Refused(400, "Invalid Parameters!")
        text = self._text(params["message"])
        self._route_of(params, count=0)  # device or gateway checks come before the contacts
        numbers = [n for n in params.get("numbers", "").split(",") if n.strip()]
        phones = [p for p in (_phone(n) for n in numbers) if p]
        for group in (g.strip() for g in params.get("groups", "").split(",") if g.strip()):
            phones += self.settings["groups"].get(group, [])  # contacts are stored E.164
        if not phones:
            raise _Refused(400, "Invalid Parameters!")
        via = self._route_of(params, count=len(phones))
        for phone in phones:
            self._take(phone, text, {**via, "campaign": params["campaign"]})
        return envelope(200, "Bulk messages has been queued for sending!")

    def _send_whatsapp(self, params: dict[str, str]) -> SimResponse:
        if not all(k in params for k in ("recipient", "account", "message")):
            raise _Refused(400, "Invalid Parameters!")
        kind = params.get("type", "text")
        kind = kind if kind in ("text", "media", "document") else "text"  # Zender falls back to text
        priority = _int(params.get("priority", "2"))
        if priority is None:
            raise _Refused(400, "Priority parameter must be an integer value!")
        if params["account"] not in self.settings["whatsapp_accounts"]:
            raise _Refused(404, "WhatsApp account doesn't exist!")
        phone = params["recipient"] if "@g.us" in params["recipient"] else _phone(params["recipient"])
        if phone is None:
            raise _Refused(400, "Invalid phone number!")
        text = self._text(params["message"], "Chat message") if kind == "text" else params["message"]
        via = {"mode": "whatsapp", "sender": params["account"], "kind": "chat"}
        message_id = self._take(phone, text, via, channel="whatsapp")
        if priority < 2:
            return envelope(200, "WhatsApp chat has been sent!", self._id_data(message_id))
        if self.settings["whatsapp_queue_unreachable"]:
            raise _Refused(500, "Unable to connect to WhatsApp servers!", self._id_data(message_id))
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
            message_id = self._take(phone, self._text(text, "OTP message"), self._route_of(params))
        else:
            if not params.get("account") or phone is None:
                raise _Refused(400, "Invalid Parameters!")
            if params["account"] not in self.settings["whatsapp_accounts"]:
                raise _Refused(404, "WhatsApp account doesn't exist!")
            message_id = self._take(phone, text, {"mode": "whatsapp", "sender": params["account"], "kind": "chat"},
                                    channel="whatsapp")
        codes[otp] = self.sandbox.clock() + max(expire, 1)
        return envelope(200, "OTP has been sent!", {"phone": phone, "message": text, "messageId": str(message_id),
                                                    "otp": otp})

    def _verify_otp(self, params: dict[str, str], secret: str, permissions: list[str]) -> SimResponse:
        self._allow(permissions, "otp")
        otp = _int(params.get("otp"))
        if otp is None:
            raise _Refused(400, "Invalid Parameters!")
        expiry = self.otps.get(secret, {}).pop(otp, None)  # single use
        if expiry is None or expiry <= self.sandbox.clock():
            raise _Refused(403, "OTP is invalid or expired!")
        return envelope(200, "OTP has been verified!")

    # -- queries -------------------------------------------------------------------------
    def _stored(self, msg: dict[str, Any], now: float) -> tuple[int, str | bool]:
        """The stored status and status_code of a message at `now`."""
        age, delay = now - msg["created"], float(self.settings["status_delay"])
        if msg["status"] == 4:
            return 4, False
        if msg["kind"] == "gateway":  # the gateway's callback sets status 3, never a status_code
            return (2, False) if msg["status"] == 2 and age < delay else (3, False)
        if msg["kind"] == "chat":
            if age < delay / 2:
                return 1, False
            return (2, False) if age < delay else (msg["final_status"], False)
        if age < delay / 2:
            return 1, False
        if age < delay:
            return 2, False
        if age < 2 * delay:
            return 3, "SMS_SENT"
        code = msg["final_status_code"]
        return (4 if code == "DELIVERY_FAILED" else 3), code

    def _sms_item(self, msg: dict[str, Any], now: float) -> dict[str, Any]:
        status, code = self._stored(msg, now)
        keys = ("id", "mode", "sender", "sender_type", "sim", "priority", "api")
        return {**{k: msg[k] for k in keys}, "status": _SMS_WORDS.get(status, "failed"), "status_code": code,
                "recipient": msg["recipient"], "message": msg["message"], "created": int(msg["created"])}

    def _wa_item(self, msg: dict[str, Any], now: float, *, listed: bool = False) -> dict[str, Any]:
        status, _ = self._stored(msg, now)
        word = ("sent" if status < 4 else "failed") if listed else _WA_WORDS.get(status, "unknown")
        return {"id": msg["id"], "account": self.settings["whatsapp_number"], "status": word, "api": True,
                "recipient": msg["recipient"], "message": msg["message"], "attachment": False,
                "created": int(msg["created"])}

    def _get_message(self, params: dict[str, str], permissions: list[str], channel: str) -> SimResponse:
        message_id, kind = _int(params.get("id")), params.get("type")
        if message_id is None or kind not in ("sent", "received"):
            raise _Refused(400, "Invalid Parameters!")
        if channel == "sms":
            self._allow(permissions, "get_message")
        self._allow(permissions, f"get_{'sms' if channel == 'sms' else 'wa'}_{kind}")
        msg = self.tables[channel].get(message_id) if kind == "sent" else None  # nothing is ever received here
        if msg is None:
            raise _Refused(404, "Message doesn't exist!")
        item = self._sms_item if channel == "sms" else self._wa_item
        return envelope(200, "Message was found!", item(msg, self.sandbox.clock()))

    def _get_sent(self, params: dict[str, str], permissions: list[str], channel: str) -> SimResponse:
        self._allow(permissions, "get_sms_sent" if channel == "sms" else "get_wa_sent")
        limit, page = _int(params.get("limit", "10")), _int(params.get("page", "1"))
        if limit is None or page is None:
            raise _Refused(400, "Invalid Parameters!")
        limit, page, now = abs(limit), max(abs(page), 1), self.sandbox.clock()
        rows = list(reversed(self.tables[channel].values()))[(page - 1) * limit : page * limit]
        if channel == "sms":
            return envelope(200, "Sent SMS Messages", [self._sms_item(m, now) for m in rows])
        # the list answers only "sent" (stored < 4) or "failed", unlike get/wa.message
        return envelope(200, "Sent WhatsApp Chats", [self._wa_item(m, now, listed=True) for m in rows])

    def _get_credits(self, permissions: list[str]) -> SimResponse:
        self._allow(permissions, "get_credits")
        data = {"credits": f"{float(self.settings['credits']):.3f}", "currency": self.settings["currency"]}
        return envelope(200, "Remaining Credits", data)
