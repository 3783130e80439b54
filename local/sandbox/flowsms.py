"""FLOW SMS simulator (`/flowsms/campaigns/api/...`), following docs/providers.md section 3.

A Django REST framework API with simplejwt: `token/` and `token/refresh/` hand out HS256 JWTs
signed with a sandbox key (claims `token_type`, `exp`, `iat`, `jti`, `user_id`), and the
protected routes want `Authorization: Bearer <access>`. What FLOW leaves unknown is a setting
(see `DEFAULTS`): token lifetimes, refresh rotation, the HTTP code of a successful send, the
approved sender IDs, the order of its authentication classes.

Every error answer is what the libraries answer, from these files:
- `rest_framework_simplejwt/serializers.py` TokenObtainSerializer: wrong credentials -> 401
  `{"detail": "No active account found with the given credentials"}`;
- `rest_framework_simplejwt/views.py` TokenViewBase: a TokenError becomes InvalidToken
  (`exceptions.py`: `{"detail": <message>, "code": "token_not_valid"}`), and token views' 401s
  carry `WWW-Authenticate: Bearer realm="api"`;
- `rest_framework_simplejwt/tokens.py` Token.__init__/verify, BlacklistMixin.verify: the
  messages and their order ("Token is invalid", "Token is expired", "Token is blacklisted",
  "Token has no id", "Token has no type", "Token has wrong type");
- `rest_framework_simplejwt/authentication.py` JWTAuthentication: no or non-Bearer header ->
  unauthenticated; a Bearer header without exactly two parts -> `{"detail": "Authorization
  header must contain two space-delimited values", "code": "bad_authorization_header"}`; a bad
  token -> `{"detail": "Given token not valid for any token type", "code": "token_not_valid",
  "messages": [{"token_class", "token_type", "message"}]}`;
- `rest_framework/views.py` APIView.handle_exception and exception_handler: 401 with the first
  authentication class's `WWW-Authenticate`, or 403 without it when that class has none
  (`session_authentication_first`); a string detail becomes `{"detail": ...}`;
- `rest_framework/exceptions.py`: NotAuthenticated "Authentication credentials were not
  provided.", PermissionDenied, MethodNotAllowed 'Method "GET" not allowed.', Throttled
  "Request was throttled. Expected available in N seconds." with Retry-After, ParseError
  "Malformed request.", UnsupportedMediaType;
- `rest_framework/parsers.py` JSONParser: `{"detail": "JSON parse error - <json's message>"}`;
- `rest_framework/fields.py`: "This field is required.", "This field may not be null.",
  "This field may not be blank.", ListField 'Expected a list of items but got type "str".',
  "This list may not be empty.", child errors keyed by index; `serializers.py`: "Invalid data.
  Expected a dictionary, but got list." under `non_field_errors`;
- `django/views/defaults.py` page_not_found / server_error: the HTML pages of a 404 (a path no
  URL pattern matches) and a 500; `django/middleware/common.py` CommonMiddleware
  (APPEND_SLASH): a known path without its trailing slash -> 301 to the slashed one.

Unknown, so choices: the words of FLOW's own refusals (an unapproved sender ID: 400
`{"sender_id": [...]}`; no credit: `{"non_field_errors": [...]}`; a bad phone number: "Enter a
valid phone number.", django-phonenumber-field's text, if FLOW uses it at all), the shape of
`failed_messages` items, and 502/503/504 pages (not Django's: a proxy in front).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from local.sandbox.core import OutboxEntry, ProviderSim, SimRequest, SimResponse, json_response

DEFAULTS: dict[str, Any] = {
    "username": "sandbox",
    "password": "sandbox-password",
    "user_id": 7,
    "access_lifetime": 300.0,  # seconds (simplejwt default: 5 min)
    "refresh_lifetime": 86400.0,  # seconds (simplejwt default: 1 day)
    "rotate_refresh_tokens": False,  # True: token/refresh/ also answers a new refresh token
    "blacklist_after_rotation": False,  # with rotation: the old refresh token stops working (simplejwt default: off)
    "session_authentication_first": False,  # True: auth failures on protected routes answer 403, no header
    "approved_sender_ids": ["TAMTAM"],
    "send_status": 200,  # HTTP code of a successful send-sms/ (unknown: 200 or 201)
}

_PREFIX = "/campaigns/api/"
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_AUTH_HEADERS = {"WWW-Authenticate": 'Bearer realm="api"'}
_NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}
_BAD_HEADER = {
    "detail": "Authorization header must contain two space-delimited values", "code": "bad_authorization_header"
}
_ROUTES = ("token/", "token/refresh/", "send-sms/", "senderids/", "contacts/")
_PARSED_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
# django/views/defaults.py ERROR_PAGE_TEMPLATE
_DJANGO_PAGE = (
    '\n<!doctype html>\n<html lang="en">\n<head>\n  <title>%(title)s</title>\n</head>\n<body>\n'
    "  <h1>%(title)s</h1><p>%(details)s</p>\n</body>\n</html>\n"
)


# --- HS256 JWTs ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_jwt(claims: dict[str, Any], key: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def verify_jwt(token: str, key: bytes) -> dict[str, Any] | None:
    """The claims of a token signed with `key`, or None (bad format or signature)."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        claims = json.loads(_unb64(payload))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


# --- the simulator ------------------------------------------------------------------------


class FlowSmsSim(ProviderSim):
    name = "flowsms"

    def __init__(self, sandbox: Any):
        super().__init__(sandbox)
        self.settings = {**DEFAULTS, "approved_sender_ids": list(DEFAULTS["approved_sender_ids"])}
        self.key = secrets.token_bytes(32)
        self.blacklist: set[str] = set()  # refresh jti revoked by rotation
        self.sender_ids: list[dict[str, Any]] = []  # created through POST senderids/
        self.contacts: dict[str, int] = {}  # phone -> contact id
        self.counters = {"logins": 0, "refreshes": 0, "sends": 0}
        self.campaigns = 0

    # -- frame hooks ---------------------------------------------------------------------
    def configure(self, settings: dict[str, Any]) -> None:
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown flowsms settings: {', '.join(sorted(unknown))}")
        super().configure(settings)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "settings": dict(self.settings),
                "counters": dict(self.counters),
                "sender_ids": self._sender_list(),
            }

    def error_response(self, status: int) -> SimResponse:
        if status == 401:
            return json_response(_token_error("AccessToken", "access", "Token is invalid"), 401, **_AUTH_HEADERS)
        if status == 429:  # exceptions.py Throttled, views.py exception_handler (Retry-After)
            return json_response(
                {"detail": "Request was throttled. Expected available in 60 seconds."}, 429, **{"Retry-After": "60"}
            )
        if status == 404:
            return _not_found()
        if status == 500:
            return _django_page(500, "Server Error (500)", "")
        if status > 500:  # not Django: a proxy in front of it (unknown which)
            return SimResponse(status, f"<html><body><h1>{status}</h1></body></html>", content_type="text/html")
        if status == 403:  # exceptions.py PermissionDenied
            return json_response({"detail": "You do not have permission to perform this action."}, 403)
        if status == 405:
            return _method_not_allowed("POST")
        return json_response({"detail": "Malformed request."}, status)  # exceptions.py ParseError's default

    def reject_response(self, reason: str) -> SimResponse:
        # Shapes from DRF (field errors, non_field_errors, PermissionDenied); FLOW's words are unknown.
        if reason == "invalid_number":
            return json_response({"phone_numbers": {"0": ["Enter a valid phone number."]}}, 400)
        if reason == "sender_not_approved":
            return json_response({"sender_id": ["This sender ID is not approved."]}, 400)
        if reason == "insufficient_credit":
            return json_response({"non_field_errors": ["Insufficient SMS credits."]}, 400)
        if reason == "auth_failed":
            return json_response({"detail": "You do not have permission to perform this action."}, 403)
        if reason == "device_offline":
            failed = [{"phone_number": None, "error": "SMS gateway unreachable"}]
            return json_response(self._campaign_answer([], failed), int(self.settings["send_status"]))
        return json_response({"non_field_errors": ["The message was rejected."]}, 400)

    # -- routing -------------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        if not req.path.startswith(_PREFIX):
            return _not_found()
        route = req.path[len(_PREFIX):]
        if route + "/" in _ROUTES:  # CommonMiddleware, APPEND_SLASH: a redirect (a POST loses its body)
            return SimResponse(301, "", headers={"Location": f"/flowsms{_PREFIX}{route}/"}, content_type="text/html")
        with self.lock:
            if route == "token/":
                return self._post_only(req) or self._login(_body(req))
            if route == "token/refresh/":
                return self._post_only(req) or self._refresh(_body(req))
            if route in ("send-sms/", "senderids/", "contacts/"):
                refused = self._authenticate(req)
                if refused is not None:
                    return refused
                return self._protected(route, req)
        return _not_found()

    def _protected(self, route: str, req: SimRequest) -> SimResponse:
        if route == "send-sms/":
            return self._post_only(req) or self._send(_body(req))
        if route == "senderids/" and req.method == "POST":
            return self._create_sender_id(_body(req))
        if req.method != "GET":
            return _method_not_allowed(req.method)
        if route == "senderids/":
            return json_response(self._sender_list())
        return json_response([{"id": cid, "phone_number": phone} for phone, cid in self.contacts.items()])

    @staticmethod
    def _post_only(req: SimRequest) -> SimResponse | None:
        return None if req.method == "POST" else _method_not_allowed(req.method)

    # -- tokens --------------------------------------------------------------------------
    def _token(self, token_type: str) -> str:
        now = int(self.sandbox.clock())
        lifetime = self.settings["access_lifetime" if token_type == "access" else "refresh_lifetime"]  # noqa: S105 - a token kind
        claims = {
            "token_type": token_type,
            "exp": now + int(float(lifetime)),
            "iat": now,
            "jti": uuid.uuid4().hex,
            "user_id": self.settings["user_id"],
        }
        return sign_jwt(claims, self.key)

    def _check(self, token: str, token_type: str) -> str | None:
        """None when `token` is a live token of `token_type`, else simplejwt's message, in
        tokens.py's order: decoding (signature, then expiry), the blacklist, then verify()."""
        claims = verify_jwt(token, self.key)
        if claims is None:
            return "Token is invalid"
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self.sandbox.clock():
            return "Token is expired"
        if claims.get("jti") in self.blacklist:
            return "Token is blacklisted"
        if "jti" not in claims:
            return "Token has no id"
        if "token_type" not in claims:
            return "Token has no type"
        if claims["token_type"] != token_type:
            return "Token has wrong type"
        return None

    def _login(self, body: Any) -> SimResponse:
        if isinstance(body, SimResponse):
            return body
        missing = _missing(body, ("username", "password"))
        if missing:
            return json_response(missing, 400)
        good_user = hmac.compare_digest(str(body["username"]).encode(), str(self.settings["username"]).encode())
        good_password = hmac.compare_digest(str(body["password"]).encode(), str(self.settings["password"]).encode())
        if not (good_user and good_password):
            return json_response({"detail": "No active account found with the given credentials"}, 401, **_AUTH_HEADERS)
        self.counters["logins"] += 1
        return json_response({"refresh": self._token("refresh"), "access": self._token("access")})

    def _refresh(self, body: Any) -> SimResponse:
        if isinstance(body, SimResponse):
            return body
        missing = _missing(body, ("refresh",))
        if missing:
            return json_response(missing, 400)
        problem = self._check(str(body["refresh"]), "refresh")
        if problem is not None:
            return json_response({"detail": problem, "code": "token_not_valid"}, 401, **_AUTH_HEADERS)
        self.counters["refreshes"] += 1
        answer = {"access": self._token("access")}
        if self.settings["rotate_refresh_tokens"]:
            if self.settings["blacklist_after_rotation"]:
                self.blacklist.add(verify_jwt(str(body["refresh"]), self.key)["jti"])  # type: ignore[index]
            answer["refresh"] = self._token("refresh")
        return json_response(answer)

    def _authenticate(self, req: SimRequest) -> SimResponse | None:
        """JWTAuthentication (authentication.py) behind DRF's handle_exception (views.py)."""
        parts = (req.headers.get("Authorization") or "").split()
        if not parts or parts[0] != "Bearer":
            return self._refuse(_NO_CREDENTIALS)
        if len(parts) != 2:
            return self._refuse(_BAD_HEADER)
        problem = self._check(parts[1], "access")
        if problem is not None:
            return self._refuse(_token_error("AccessToken", "access", problem))
        return None

    def _refuse(self, body: dict[str, Any]) -> SimResponse:
        if self.settings["session_authentication_first"]:  # SessionAuthentication has no header: 403
            return json_response(body, 403)
        return json_response(body, 401, **_AUTH_HEADERS)

    # -- sends and sender ids ------------------------------------------------------------
    def _send(self, body: Any) -> SimResponse:
        if isinstance(body, SimResponse):
            return body
        errors = _missing(body, ("sender_id", "message"))
        numbers = body.get("phone_numbers") if isinstance(body, dict) else None
        if isinstance(body, dict) and "non_field_errors" not in errors:
            number_errors = _list_errors(body, "phone_numbers")
            if number_errors is None and isinstance(numbers, list):
                invalid = ["Enter a valid phone number."]
                bad = {str(i): invalid for i, n in enumerate(numbers) if not _E164.match(str(n))}
                number_errors = bad or None
            if number_errors is not None:
                errors["phone_numbers"] = number_errors
        if errors:
            return json_response(errors, 400)
        if body["sender_id"] not in self.settings["approved_sender_ids"]:
            return json_response({"sender_id": [f"Sender ID '{body['sender_id']}' is not approved."]}, 400)
        messages = [self._take(str(n), body) for n in numbers]
        self.counters["sends"] += 1
        return json_response(self._campaign_answer(messages, []), int(self.settings["send_status"]))

    def _take(self, phone: str, body: dict[str, Any]) -> dict[str, Any]:
        contact_id = self.contacts.setdefault(phone, len(self.contacts) + 1)
        message_id = f"flow-{uuid.uuid4().hex[:16]}"
        status = "scheduled" if body.get("schedule_time") else "sent"
        self.sandbox.record(
            OutboxEntry(
                provider=self.name, to=phone, text=str(body["message"]), sender=str(body["sender_id"]),
                provider_message_id=message_id, extra={"schedule_time": body.get("schedule_time")},
            )
        )
        return {
            "id": self.counters["sends"] * 1000 + contact_id,
            "contact": {"id": contact_id, "phone_number": phone},
            "content": body["message"],
            "status": status,
            "sent_at": None if body.get("schedule_time") else _iso(self.sandbox.clock()),
            "delivered_at": None,
            "message_id": message_id,
            "error_description": None,
        }

    def _campaign_answer(self, messages: list[dict[str, Any]], failed: list[dict[str, Any]]) -> dict[str, Any]:
        self.campaigns += 1
        return {
            "success": bool(messages) and not failed,
            "campaign_id": self.campaigns,
            "messages_sent": len(messages),
            "messages_failed": len(failed),
            "failed_messages": failed,
            "messages": messages,
        }

    def _sender_list(self) -> list[dict[str, Any]]:
        names = self.settings["approved_sender_ids"]
        approved = [{"id": i + 1, "name": name, "status": "approved"} for i, name in enumerate(names)]
        return approved + [s for s in self.sender_ids if s["name"] not in names]

    def _create_sender_id(self, body: Any) -> SimResponse:
        if isinstance(body, SimResponse):
            return body
        missing = _missing(body, ("name",))
        if missing:
            return json_response(missing, 400)
        if any(s["name"] == body["name"] for s in self._sender_list()):
            return json_response({"name": ["sender id with this name already exists."]}, 400)
        created = {"id": 100 + len(self.sender_ids), "name": str(body["name"]), "status": "pending"}
        self.sender_ids.append(created)
        return json_response(created, 201)


def _body(req: SimRequest) -> Any:
    """request.data as DRF's default parsers give it (JSON, form; parsers.py), or the error
    answer: 415 for another content type, 400 ParseError for a body that is not JSON."""
    ctype = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype and ctype not in _PARSED_TYPES:
        return json_response({"detail": f'Unsupported media type "{ctype}" in request.'}, 415)
    if ctype == "application/x-www-form-urlencoded":
        return req.form()
    if not req.body:
        return {}
    try:
        return json.loads(req.body)
    except ValueError as exc:
        return json_response({"detail": f"JSON parse error - {exc}"}, 400)


def _missing(body: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """CharField errors (fields.py): absent, null, blank; a body that is not an object."""
    if not isinstance(body, dict):
        kind = {list: "list", str: "str", int: "int", float: "float", bool: "bool"}.get(type(body), type(body).__name__)
        return {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
    errors: dict[str, Any] = {}
    for name in names:
        if name not in body:
            errors[name] = ["This field is required."]
        elif body[name] is None:
            errors[name] = ["This field may not be null."]
        elif isinstance(body[name], str) and not body[name].strip():
            errors[name] = ["This field may not be blank."]
    return errors


def _list_errors(body: dict[str, Any], name: str) -> list[str] | None:
    """ListField errors (fields.py) for a list that may not be empty."""
    if name not in body:
        return ["This field is required."]
    value = body[name]
    if value is None:
        return ["This field may not be null."]
    if not isinstance(value, list):
        return [f'Expected a list of items but got type "{type(value).__name__}".']
    return None if value else ["This list may not be empty."]


def _token_error(token_class: str, token_type: str, message: str) -> dict[str, Any]:
    return {
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": token_class, "token_type": token_type, "message": message}],
    }


def _django_page(status: int, title: str, details: str) -> SimResponse:
    return SimResponse(status, _DJANGO_PAGE % {"title": title, "details": details}, content_type="text/html")


def _not_found() -> SimResponse:
    return _django_page(404, "Not Found", "The requested resource was not found on this server.")


def _method_not_allowed(method: str) -> SimResponse:
    return json_response({"detail": f'Method "{method}" not allowed.'}, 405)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
