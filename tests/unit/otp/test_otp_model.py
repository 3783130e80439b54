"""The OTP record: what it means at a given moment, and its storage round trip."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tamtam.otp.model import OtpItem, OtpState


def record(**changes) -> OtpItem:
    base = {
        "id": "otp_1",
        "tenant_id": "ten_1",
        "to": "+224622000001",
        "channel": "sms",
        "locale": "fr",
        "text": "{{code}}",
        "route": ["passeinfo", "messagepro"],
        "length": 6,
        "code_hash": "ab" * 32,
        "code_sealed": "c2VhbGVk",
        "max_attempts": 5,
        "message_ids": ["msg_1"],
        "last_sent_at": 1000.5,
        "created_at": "2026-01-01T00:00:00.000Z",
        "expires_at": 1300,
    }
    return OtpItem(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "now", "state"),
    [
        ({}, 1299.9, OtpState.PENDING),
        ({}, 1300, OtpState.EXPIRED),
        ({"attempts": 5}, 1200, OtpState.LOCKED),
        ({"attempts": 4}, 1200, OtpState.PENDING),
        ({"attempts": 5}, 1400, OtpState.EXPIRED),
        ({"status": "approved"}, 1400, OtpState.APPROVED),
        ({"status": "approved", "attempts": 5}, 1200, OtpState.APPROVED),
    ],
)
def test_given_a_record_then_its_state_at_a_moment(changes, now, state):
    assert record(**changes).state(now) == state


def test_given_a_record_then_it_survives_the_dynamodb_round_trip():
    otp = record(attempts=2, sends=3)
    item = otp.to_item()
    assert (item["pk"], item["sk"], item["expires_at"]) == ("OTP#otp_1", "OTP", 1300)
    assert isinstance(item["last_sent_at"], Decimal)
    as_read = {k: Decimal(v) if isinstance(v, int) else v for k, v in item.items()}  # numbers come back as Decimal
    assert OtpItem.from_item(as_read) == otp
