"""The secret JSON each provider's client needs to talk to the sandbox instead of the real
provider: the local stack writes these into (emulated) Secrets Manager. The credentials are
the sandbox's built-in defaults, not real ones."""

from __future__ import annotations

from typing import Any


def local_secret(provider: str, sandbox_url: str) -> dict[str, Any]:
    base = sandbox_url.rstrip("/")
    secrets: dict[str, dict[str, Any]] = {
        "passeinfo": {"base_url": f"{base}/passeinfo", "client_id": "sandbox-client", "api_key": "sandbox-api-key"},
        "smsgate": {
            "base_url": f"{base}/smsgate/3rdparty/v1",
            "username": "sandbox",
            "password": "sandbox-password",
            "webhook_signing_key": "sandbox-signing-key",
        },
        "messagepro": {"base_url": f"{base}/messagepro/api", "secret": "sandbox-secret", "device": "sandbox-device",
                       "gateway": "1", "whatsapp_account": "sandbox-wa-account",
                       "webhook_secret": "sandbox-webhook-secret"},
        "flowsms": {"base_url": f"{base}/flowsms/campaigns/api/", "username": "sandbox", "password": "sandbox-password",
                    "sender_id": "TAMTAM"},
        "ventis": {
            "token_url": f"{base}/ventis/realms/Messaging/protocol/openid-connect/token",
            "base_url": f"{base}/ventis/messaging/api/v1",
            "client_id": "api-messaging",
            "client_secret": "sandbox-client-secret",
            "username": "sandbox",
            "password": "sandbox-password",
            "sender": "TAMTAM",
        },
    }
    return secrets[provider]
