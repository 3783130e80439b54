"""SMSGate simulator webhooks: registration checks, and the background thread that advances
message states and delivers the events the way the Android app does (JSON
`{"id","webhookId","event","deviceId","payload"}`, `X-Signature` = lowercase hex
HMAC-SHA256 of raw body + `X-Timestamp`, retried with doubling backoff until a 2xx)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from local.sandbox.smsgate import SmsGateSim

logger = logging.getLogger("tamtam.sandbox")

EVENTS = frozenset(
    {
        "sms:received", "sms:data-received", "sms:sent", "sms:delivered", "sms:failed", "sms:cancelled",
        "system:ping", "app:started", "mms:received", "mms:downloaded", "sms:batch:received",
        "sms:batch:data-received", "mms:batch:received", "mms:batch:downloaded",
    }
)  # fmt: skip
STATE_EVENTS = {"Sent": "sms:sent", "Delivered": "sms:delivered", "Failed": "sms:failed", "Cancelled": "sms:cancelled"}
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Webhook receivers are on loopback: never send them through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def validate_webhook(body: Any, allow_http: bool) -> str | None:
    """The 400 text for a bad registration, or None."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    url, event = body.get("url"), body.get("event")
    if not isinstance(url, str) or not url:
        return "url is required"
    parts = urlsplit(url)
    plain_http_ok = allow_http and parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    if parts.scheme != "https" and not plain_http_ok:
        return "url must use https://"
    if event not in EVENTS:
        return f"unknown event {event!r}"
    if body.get("id") is not None and not (isinstance(body["id"], str) and 0 < len(body["id"]) <= 36):
        return "id must be at most 36 characters"
    if body.get("deviceId") is not None and not (isinstance(body["deviceId"], str) and len(body["deviceId"]) <= 21):
        return "deviceId must be at most 21 characters"
    return None


def sign(key: str, body: bytes, timestamp: str) -> str:
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def _local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


@dataclass
class _Delivery:
    webhook_id: str
    url: str
    event: str
    body: bytes
    attempts: int = 0
    next_at: float = field(default_factory=time.monotonic)
    outcome: str = "pending"  # "pending", "delivered", "gave_up"
    last_status: int | None = None


class WebhookDispatcher:
    """One background thread per simulator: advances message states by the sandbox clock and
    delivers queued events. Started on first use; `stop()` ends it."""

    def __init__(self, sim: SmsGateSim):
        self.sim = sim
        self._deliveries: list[_Delivery] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="sandbox-smsgate-webhooks")
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def history(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "webhookId": d.webhook_id,
                    "event": d.event,
                    "attempts": d.attempts,
                    "outcome": d.outcome,
                    "last_status": d.last_status,
                    "body": json.loads(d.body),
                }
                for d in self._deliveries
            ]

    def message_event(self, message: dict[str, Any], state: str, at: float) -> None:
        """Queue `state`'s event of `message` (one per recipient) for every matching webhook.
        Called with the simulator lock held."""
        event = STATE_EVENTS[state]
        hooks = [
            w
            for w in self.sim.webhooks.values()
            if w["event"] == event and w.get("deviceId") in (None, message["deviceId"])
        ]
        for webhook in hooks:
            for number in message["recipients"]:
                payload = self._payload(message, number, state, at)
                envelope = {
                    "id": uuid.uuid4().hex,
                    "webhookId": webhook["id"],
                    "event": event,
                    "deviceId": message["deviceId"],
                    "payload": payload,
                }
                delivery = _Delivery(webhook["id"], webhook["url"], event, json.dumps(envelope).encode())
                with self._lock:
                    self._deliveries.append(delivery)

    def received_event(self, sender: str, text: str, at: float, sim_number: int = 1) -> list[dict[str, Any]]:
        """Queue an `sms:received` event (someone texted the device) for every matching webhook,
        as the app does: payload `messageId` (the device's own id of the SMS), `message`,
        `sender` and the deprecated `phoneNumber` (who wrote), `recipient` (the device's own
        number: unknown to the sandbox device), `simNumber`, `receivedAt` (local time with an
        offset). The envelopes queued, or [] when no webhook takes the event."""
        device = str(self.sim.settings["device_id"])
        hooks = [
            w
            for w in self.sim.webhooks.values()
            if w["event"] == "sms:received" and w.get("deviceId") in (None, device)
        ]
        payload = {"messageId": uuid.uuid4().hex[:16], "message": text, "sender": sender, "recipient": None,
                   "phoneNumber": sender, "simNumber": sim_number, "receivedAt": _local_time(at)}
        envelopes = []
        for webhook in hooks:
            envelope = {"id": uuid.uuid4().hex, "webhookId": webhook["id"], "event": "sms:received", "deviceId": device,
                        "payload": payload}
            with self._lock:
                self._deliveries.append(_Delivery(webhook["id"], webhook["url"], "sms:received",
                                                  json.dumps(envelope).encode()))
            envelopes.append(envelope)
        if envelopes:
            self.ensure_running()
        return envelopes

    @staticmethod
    def _payload(message: dict[str, Any], number: str, state: str, at: float) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "messageId": message["id"],
            "sender": None,  # the device's own number, which the sandbox device does not know
            "recipient": number,
            "phoneNumber": number,
            "simNumber": message["simNumber"],
        }
        stamp = _local_time(at)
        if state == "Sent":
            payload.update(partsCount=1, sentAt=stamp)
        elif state == "Delivered":
            payload["deliveredAt"] = stamp
        elif state == "Failed":
            payload.update(failedAt=stamp, reason=message["plan"]["error"])
        else:
            payload["cancelledAt"] = stamp
        return payload

    def _run(self) -> None:
        while not self._stop.wait(float(self.sim.settings["tick"])):
            try:
                self.sim.advance()
                now = time.monotonic()
                with self._lock:
                    due = [d for d in self._deliveries if d.outcome == "pending" and d.next_at <= now]
                for delivery in due:
                    if self._stop.is_set():
                        return
                    self._attempt(delivery)
            except Exception:  # keep the thread alive whatever one delivery did
                logger.exception("sandbox smsgate webhook loop failed")

    def _attempt(self, delivery: _Delivery) -> None:
        settings = self.sim.settings
        headers = {"Content-Type": "application/json"}
        key = settings["signing_key"]
        if key:
            timestamp = str(int(time.time()))
            headers.update({"X-Signature": sign(str(key), delivery.body, timestamp), "X-Timestamp": timestamp})
        request = urllib.request.Request(  # noqa: S310 - a registered webhook's URL
            delivery.url, data=delivery.body, headers=headers, method="POST"
        )
        status: int | None = None
        try:
            with _OPENER.open(request, timeout=float(settings["webhook_timeout"])) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError) as exc:
            logger.debug("sandbox smsgate webhook %s unreachable: %s", delivery.url, exc)
        with self._lock:
            delivery.attempts += 1
            delivery.last_status = status
            if status is not None and 200 <= status < 300:
                delivery.outcome = "delivered"
            elif delivery.attempts > int(settings["webhook_retries"]):
                delivery.outcome = "gave_up"
            else:
                delivery.next_at = time.monotonic() + float(settings["webhook_backoff"]) * 2 ** (delivery.attempts - 1)
