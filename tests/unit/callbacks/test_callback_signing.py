"""The Tamtam-Signature header: HMAC-SHA256 with the secret over `<t>.<raw body>`, and the
README's few lines of Python verify it."""

from __future__ import annotations

import hashlib
import hmac

from tamtam.callbacks import signing
from tests.callback_receiver import readme_verify

BODY = b'{"id":"msg_x:3","type":"message.delivered"}'


def test_given_a_body_then_the_header_is_t_and_the_hmac_of_t_dot_body():
    header = signing.header("whsec_abc", 1796547600, BODY)
    expected = hmac.new(b"whsec_abc", b"1796547600." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1796547600,v1={expected}"


def test_given_the_readme_code_then_it_accepts_the_signature_and_refuses_any_change():
    verify = readme_verify()
    secret = signing.new_secret()
    header = signing.header(secret, 1796547600, BODY)
    assert verify(secret, header, BODY, now=1796547600 + 10)
    assert not verify(secret, header, BODY + b" ", now=1796547600 + 10)  # another body
    assert not verify("whsec_other", header, BODY, now=1796547600 + 10)  # another secret
    assert not verify(secret, header, BODY, now=1796547600 + 3600)  # too old: a replay
    assert not verify(secret, header.replace("t=1796547600", "t=1796547601"), BODY, now=1796547600)
    assert not verify(secret, "v1=deadbeef", BODY, now=1796547600)


def test_given_new_secrets_then_they_are_prefixed_random_and_long():
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and len(first) >= 40 and first != second
