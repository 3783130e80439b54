"""SMSGate takes message ids of at most 36 characters (client-go smsgateway `Message.ID`):
every kind of gateway id gets a form that fits, stays unique and maps back."""

from __future__ import annotations

import pytest

from tamtam.ids import new_id
from tamtam.providers.smsgate import message_id_of, wire_id


def _bulk_id(index: int) -> str:
    return f"msg_{new_id('bat').removeprefix('bat_')}_{index:06d}"


@pytest.mark.parametrize("make", [lambda: new_id("msg"), lambda: new_id("otp"), lambda: _bulk_id(0),
                                  lambda: _bulk_id(999_999), lambda: f"msg_{new_id('bat').removeprefix('bat_')}_group"])
def test_given_any_kind_of_message_id_then_its_smsgate_id_fits_and_maps_back(make):
    message_id = make()
    wire = wire_id(message_id)
    assert len(wire) <= 36
    assert message_id_of(wire) == message_id


def test_given_a_bulk_id_then_it_loses_only_its_prefix():
    message_id = _bulk_id(7)
    assert len(message_id) == 37
    assert wire_id(message_id) == message_id.removeprefix("msg_")


def test_given_many_ids_then_their_smsgate_ids_are_distinct():
    ids = [new_id("msg") for _ in range(200)] + [_bulk_id(i) for i in range(200)]
    assert len({wire_id(i) for i in ids}) == len(ids)


def test_given_an_id_with_no_short_form_then_refused():
    with pytest.raises(ValueError):
        wire_id("x" * 37)
