"""Which FLOW SMS answers are token refusals (renew and retry once) and which are not."""

from __future__ import annotations

import json

import pytest
import requests

from tamtam.providers.flowsms import token_refused


def answer(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return response


@pytest.mark.parametrize(
    ("status", "body", "refused"),
    [
        (401, {"detail": "Authentication credentials were not provided."}, True),
        (401, b"", True),
        # DRF coerces a 401 to 403 when the first authentication class has no WWW-Authenticate header
        (403, {"detail": "Given token not valid for any token type", "code": "token_not_valid", "messages": []}, True),
        (403, {"detail": "Authentication credentials were not provided."}, True),
        (403, {"detail": "Authorization header must contain two space-delimited values",
               "code": "bad_authorization_header"}, True),
        (403, {"detail": "You do not have permission to perform this action."}, False),
        (403, {"detail": "Sender ID is pending approval"}, False),
        (403, b"<h1>403 Forbidden</h1>", False),
        (400, {"detail": "Token is invalid", "code": "token_not_valid"}, False),
    ],
)
def test_given_an_answer_when_asking_whether_the_token_was_refused_then_only_auth_failures_are(status, body, refused):
    assert token_refused(answer(status, body)) is refused
