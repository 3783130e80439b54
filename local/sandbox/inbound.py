"""`POST /_sandbox/<provider>/inbound` `{"from", "text"[, "channel"]}`: someone texts the
provider's number, and the provider tells its webhooks the way the real one does
(docs/providers.md, "The sandbox"):

- smsgate: the device queues a signed `sms:received` event for every webhook registered for it
  (`POST /webhooks` with `event: sms:received`), delivered by the simulator's background thread
  with the app's retries (local.sandbox.smsgate_webhooks). 202 with the queued envelopes; 409
  when no webhook takes the event.
- messagepro: Zender POSTs the form `secret`, `type` (`sms` or `whatsapp`), `data[...]` to each
  dashboard webhook of that type (setting `webhooks`: `[{"url", "secret", "types"}]`), at once,
  without retry, following redirects, ignoring the answer (`MVC_Library_Process::webhooks`).
  200 with each webhook's HTTP status; 409 when no webhook takes the type.
- passeinfo, flowsms, ventis: 400 "this provider has no inbound webhook" (none is known).
"""

from __future__ import annotations

import itertools
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from local.sandbox.core import Sandbox, SimResponse, json_response

logger = logging.getLogger("tamtam.sandbox")

INBOUND_PROVIDERS = ("smsgate", "messagepro")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # receivers are on loopback
_received_ids = itertools.count(1)  # Zender's `received` / `wa_received` row ids


def deliver(sandbox: Sandbox, provider: str, data: Any) -> SimResponse:
    if provider not in sandbox.sims:
        return json_response({"message": f"provider {provider!r} is not running in this sandbox"}, 404)
    if provider not in INBOUND_PROVIDERS:
        return json_response({"message": "this provider has no inbound webhook"}, 400)
    if not isinstance(data, dict) or not isinstance(data.get("from"), str) or not isinstance(data.get("text"), str):
        return json_response({"message": "give from and text (strings)"}, 400)
    channel = data.get("channel", "sms")
    if channel not in ("sms", "whatsapp") or (provider == "smsgate" and channel != "sms"):
        return json_response({"message": f"{provider} does not receive {channel!r}"}, 400)
    if provider == "smsgate":
        return _smsgate(sandbox, data["from"], data["text"])
    return _messagepro(sandbox, data["from"], data["text"], channel)


def _smsgate(sandbox: Sandbox, sender: str, text: str) -> SimResponse:
    sim: Any = sandbox.sims["smsgate"]
    with sim.lock:
        envelopes = sim.hooks.received_event(sender, text, sandbox.clock())
    if not envelopes:
        return json_response({"message": "no webhook is registered for sms:received"}, 409)
    return json_response({"provider": "smsgate", "queued": envelopes}, 202)


def messagepro_form(secret: str, channel: str, sender: str, text: str, settings: dict[str, Any]) -> dict[str, str]:
    """The fields Zender posts (`form_params`; PHP's http_build_query writes false as 0)."""
    received_id = next(_received_ids)
    now = int(time.time())
    if channel == "sms":
        data = {"id": received_id, "rid": received_id + 1000, "sim": 1, "device": settings["devices"][0],
                "phone": sender, "message": text, "timestamp": now}
    else:
        data = {"id": received_id, "wid": settings["whatsapp_number"], "phone": sender, "message": text,
                "attachment": 0, "timestamp": now}
    return {"secret": secret, "type": channel, **{f"data[{k}]": str(v) for k, v in data.items()}}


def _messagepro(sandbox: Sandbox, sender: str, text: str, channel: str) -> SimResponse:
    sim: Any = sandbox.sims["messagepro"]
    with sim.lock:
        hooks = [dict(w) for w in sim.settings.get("webhooks") or [] if channel in w.get("types", ("sms", "whatsapp"))]
        settings = dict(sim.settings)
    if not hooks:
        return json_response({"message": f"no webhook is set up for {channel}"}, 409)
    answers = []
    for hook in hooks:
        form = messagepro_form(str(hook["secret"]), channel, sender, text, settings)
        body = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(hook["url"], data=body, method="POST",  # noqa: S310 - a registered webhook
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        status: int | None = None
        try:
            with _OPENER.open(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as exc:  # Guzzle `http_errors: false`: an answer all the same
            status = exc.code
        except (OSError, ValueError) as exc:  # Zender catches and ignores it
            logger.debug("sandbox messagepro webhook %s unreachable: %s", hook["url"], exc)
        answers.append({"url": hook["url"], "status": status, "id": form["data[id]"]})
    return json_response({"provider": "messagepro", "type": channel, "webhooks": answers})
