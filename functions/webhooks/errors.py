"""The webhooks function's one refusal: an HTTP status and a code in the API's error shape."""

from __future__ import annotations


class WebhookRejected(Exception):
    """The call is refused with `status`; nothing was changed."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
