"""text_for: a plain message's text as stored; an OTP message's template rendered with the
code unsealed in memory, or refused (and the message failed) when the code is not usable."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tamtam.messaging.texts import text_for
from tamtam.otp import keys
from tamtam.otp.delivery import OtpUnavailable
from tamtam.otp.model import OtpItem
from tamtam.otp.settings import reset_otp_settings
from tamtam.store.message_item import MessageItem
from tests.unit.otp.fakes import FakeKms, FakeTable


def message(**changes: Any) -> MessageItem:
    base = {
        "id": "msg_1",
        "tenant_id": "ten_1",
        "to": "+224622000001",
        "text": "Code: {{code}}.",
        "provider": "passeinfo",
        "route": ["passeinfo"],
        "status": "sending",
        "segments": 1,
        "encoding": "GSM-7",
        "created_at": "t",
        "updated_at": "t",
        "history": [{"status": "queued", "at": "t"}, {"status": "sending", "at": "t"}],
    }
    return MessageItem(**{**base, **changes})


def sealed_otp(kms: FakeKms, *, expires_at: float) -> OtpItem:
    return OtpItem(
        id="otp_1", tenant_id="ten_1", to="+224622000001", channel="sms", locale="fr", text="Code: {{code}}.",
        route=["passeinfo"], length=6, code_hash="00", max_attempts=5, last_sent_at=0.0, created_at="t",
        expires_at=int(expires_at), code_sealed=keys.seal(kms, "042137", otp_id="otp_1", tenant_id="ten_1"),
    )


@pytest.fixture(autouse=True)
def _otp_key(monkeypatch):
    monkeypatch.setenv("OTP_KEY_ID", "alias/otp")
    reset_otp_settings()
    yield
    reset_otp_settings()


def test_given_a_plain_message_then_its_text_and_no_kms_call():
    kms = FakeKms()
    assert text_for(message(text="Hello {{code}}"), table=FakeTable([]), kms=kms) == "Hello {{code}}"
    assert kms.calls == []


def test_given_an_otp_message_then_the_code_is_rendered_from_the_sealed_copy():
    kms = FakeKms()
    otp = sealed_otp(kms, expires_at=time.time() + 300)
    table = FakeTable([otp.to_item()])
    assert text_for(message(otp_id="otp_1"), table=table, kms=kms) == "Code: 042137."
    assert kms.calls[-1][0] == "decrypt" and kms.calls[-1][1]["otp_id"] == "otp_1"
    assert table.updates == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"expires_at": 1}, "otp_expired"), ({"status": "approved"}, "otp_approved"),
     ({"attempts": 5}, "otp_locked"), ({"tenant_id": "ten_2"}, "otp_missing")],
)
def test_given_an_unusable_code_then_refused_and_the_message_failed_without_decrypting(changes, reason):
    kms = FakeKms()
    otp = sealed_otp(kms, expires_at=time.time() + 300).model_copy(update=changes)
    table = FakeTable([otp.to_item(), message(otp_id="otp_1").to_item()])
    with pytest.raises(OtpUnavailable, match=reason):
        text_for(message(otp_id="otp_1"), table=table, kms=kms)
    assert [c[0] for c in kms.calls] == ["encrypt"]  # the sealing above; never a decrypt
    (update,) = table.updates
    assert (
        update["ExpressionAttributeValues"][":new"] == "failed" and update["ExpressionAttributeValues"][":r"] == reason
    )
    assert update["Key"] == {"pk": "MSG#msg_1", "sk": "MSG"}  # its event follows from the stream (tamtam.lifecycle)
