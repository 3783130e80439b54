"""A message record costs one write unit per write only while it stays within 1 KB (DynamoDB
rounds every write up to the next KB). Each record is written four times on its way to `sent`,
so an attribute that pushes a typical record over 1 KB doubles its biggest cost (bench line
`DynamoDB write units/msg by item`; docs/performance.md, "Cost"). This keeps a typical record
at its largest, `sent` at the first try with one full SMS of text (160 characters), under the
line: a bulk recipient with its batch's reference and callback URL (its text is the batch's,
not stored in the record), a single send with a reference (with a callback URL too, its `sent`
write takes 2 units: docs/performance.md says so). A first-try `sent` stores no attempt: its
history entry is read back as the attempt (tamtam.store.message_item.implicit_attempts)."""

from __future__ import annotations

import json

import pytest

from bench.dynamo_units import WRITE_UNIT_BYTES, item_size
from tamtam import aws
from tamtam.callbacks.settings import reset_callback_settings
from tamtam.settings import get_settings
from tamtam.store.message_item import message_pk
from tests.integration import seed
from tests.integration.bulk_helpers import api, drain, drain_all, fan_out
from tests.integration.lambdas import event, invoke

TEXT = ("Bonjour, votre commande 4821-7730 est prete. Retrait au magasin de Kaloum avant samedi 18h. "
        "Merci de votre confiance. Infos: 622 00 00 00 ou www.exemple.gn/aide")  # 160 GSM characters
REFERENCE = "order-4821-7730-6f1c2b9e-3d0a-4f8e-9b21"
# A receiver's address of a usual length (on loopback: a public name would have to resolve here).
CALLBACK = "http://127.0.0.1:8443/hooks/tamtam/status?shop=kaloum-01"


@pytest.fixture(autouse=True)
def _empty_queues(provisioned, sandbox, monkeypatch):
    monkeypatch.setenv("CALLBACK_ALLOW_LOOPBACK", "true")
    reset_callback_settings()
    drain("fanout")
    drain_all("bulk")
    yield
    drain("fanout")
    drain_all("bulk")
    drain_all("tx")
    reset_callback_settings()


def stored_size(message_id: str) -> tuple[int, str]:
    """The record's size in DynamoDB's accounting (wire format), and its status."""
    raw = aws.client("dynamodb").get_item(
        TableName=get_settings().table_name, Key={"pk": {"S": message_pk(message_id)}, "sk": {"S": "MSG"}},
        ConsistentRead=True,
    )["Item"]
    return item_size(raw), raw["status"]["S"]


def test_given_a_bulk_recipient_sent_at_the_first_try_then_its_record_stays_within_one_write_unit(sandbox):
    assert len(TEXT) == 160
    secret_status, secret = api("POST", "/v1/callback-secret")  # a callback URL needs the key that signs its calls
    assert secret_status in (200, 201), secret
    status, accepted = api("POST", "/v1/messages/bulk", {"to": ["+224622001001", "+224622001002"], "text": TEXT,
                                                         "reference": REFERENCE, "callback_url": CALLBACK})
    assert status == 202, accepted
    assert fan_out(accepted["batch_id"], then_send=True) == []

    code, page = api("GET", f"/v1/batches/{accepted['batch_id']}/messages")
    assert code == 200 and len(page["items"]) == 2
    for item in page["items"]:
        size, state = stored_size(item["id"])
        assert state == "sent"
        assert size <= WRITE_UNIT_BYTES, f"a sent bulk record is {size} bytes: each of its writes costs 2 units"
    # the text the provider got is the batch's (not stored in the records)
    sent = {o["to"].lstrip("+")[-9:]: o["text"] for o in sandbox.sandbox.outbox_items()}
    assert (sent.get("622001001"), sent.get("622001002")) == (TEXT, TEXT)


def test_given_a_single_send_sent_at_the_first_try_then_its_record_stays_within_one_write_unit():
    ev = event("api/send_message")
    ev["body"] = json.dumps({"to": "+224622001003", "text": TEXT, "reference": REFERENCE})
    answer = invoke("api", ev)
    assert answer["statusCode"] == 202, answer["body"]
    invoke("sender", seed.sqs_event(drain_all("tx")))

    size, state = stored_size(json.loads(answer["body"])["id"])

    assert state == "sent"
    assert size <= WRITE_UNIT_BYTES, f"a sent single record is {size} bytes: each of its writes costs 2 units"
