"""The fixed-window counter every limit counts with, the tenant settings that change the limits,
and the OTP rules that need no AWS: which range a number is in, which countries are open by
default, and which transitions count as failures. A fake table applies the counter's condition."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tamtam import limits, routing, tenant_settings
from tamtam.errors import RateLimited
from tamtam.lifecycle.changes import Change
from tamtam.lifecycle.derive import status_transitions
from tamtam.otp import limits as otp_limits
from tamtam.otp.settings import reset_otp_settings


class CounterTable:
    """update_item of tamtam.limits.take: ADD under `attribute_not_exists(#n) OR #n <= :room`;
    get_item of a tenant item."""

    def __init__(self, tenant: dict[str, Any] | None = None):
        self.counters: dict[str, int] = {}
        self.tenant = tenant

    def update_item(self, *, Key: dict, ExpressionAttributeValues: dict, **_: Any) -> dict:  # noqa: N803
        taken = self.counters.get(Key["pk"])
        if taken is not None and taken > ExpressionAttributeValues[":room"]:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "UpdateItem")
        self.counters[Key["pk"]] = (taken or 0) + ExpressionAttributeValues[":count"]
        return {}

    def get_item(self, **_: Any) -> dict:
        return {"Item": self.tenant} if self.tenant else {}


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    for name in ("OTP_ALLOWED_PREFIXES", "OTP_MIN_LENGTH", "ROUTES"):
        monkeypatch.delenv(name, raising=False)
    tenant_settings.reset_cache()
    reset_otp_settings()
    routing.configured_routes.cache_clear()
    yield
    tenant_settings.reset_cache()
    reset_otp_settings()
    routing.configured_routes.cache_clear()


def test_given_takes_within_a_window_then_the_limit_holds_and_a_refusal_adds_nothing():
    table = CounterTable()
    takes = [limits.take(table, "k", count=2, limit=5, window=60, now=6000.5) for _ in range(3)]
    assert takes == [None, None, 60]  # 2 + 2 fit, a third 2 would make 6: the window ends in 60 s
    assert limits.take(table, "k", count=1, limit=5, window=60, now=6059.2) is None  # exactly 5
    assert limits.take(table, "k", count=1, limit=5, window=60, now=6059.2) == 1
    assert table.counters == {"LIMIT#k#100": 5}


def test_given_the_next_window_then_it_counts_from_zero():
    table = CounterTable()
    assert limits.take(table, "k", count=5, limit=5, window=60, now=6000) is None
    assert limits.take(table, "k", count=5, limit=5, window=60, now=6060) is None
    assert table.counters == {"LIMIT#k#100": 5, "LIMIT#k#101": 5}


def test_given_more_than_the_whole_limit_then_never_taken():
    table = CounterTable()
    assert limits.take(table, "k", count=6, limit=5, window=3600, now=7200) == 3600
    assert table.counters == {}


def test_given_a_tenant_setting_then_it_replaces_the_default_send_limits_and_zero_turns_one_off():
    table = CounterTable({"pk": "TENANT#t", "sk": "TENANT", "messages_per_minute": 0, "bulk_recipients_per_hour": 7})
    assert (limits.messages_limit(table, "t"), limits.bulk_limit(table, "t")) == (0, 7)
    for _ in range(1000):
        limits.take_message(table, "t")  # no limit: nothing counted
    assert table.counters == {}
    with pytest.raises(Exception, match="over this account's limit of 7") as refused:
        limits.take_recipients(table, "t", 8, field="to")
    assert (refused.value.status, refused.value.code) == (422, "too_many_recipients")


def test_given_a_malformed_tenant_setting_then_only_that_one_is_ignored():
    table = CounterTable({"pk": "TENANT#t", "sk": "TENANT", "otp_min_length": 2, "otp_allowed_prefixes": ["+33", "33x"],
                          "messages_per_minute": 50, "routes": {"+33": ["flowsms"]}})
    settings = tenant_settings.settings_for(table, "t")
    assert (settings.otp_min_length, settings.otp_allowed_prefixes) == (None, None)
    assert (settings.messages_per_minute, settings.routes) == (50, {"+33": ["flowsms"]})


@pytest.mark.parametrize(
    ("to", "digits", "expected"), [("+224622001234", 3, "+224622001"), ("+33612345678", 4, "+3361234")]
)
def test_given_a_number_then_its_range_is_the_number_without_its_last_digits(to, digits, expected):
    assert otp_limits.number_range(to, digits) == expected


def test_given_the_default_routes_then_only_their_countries_are_open_to_codes_not_the_catch_all():
    assert otp_limits.route_countries() == ("+224", "+241")
    assert otp_limits.route_countries({"+33": ["flowsms"]}) == ("+224", "+241", "+33")
    assert otp_limits.allowed_prefixes(CounterTable(), "t") == ("+224", "+241")


def test_given_the_deployment_setting_or_the_tenant_s_list_then_they_come_first(monkeypatch):
    monkeypatch.setenv("OTP_ALLOWED_PREFIXES", "+221, +224")
    reset_otp_settings()
    assert otp_limits.allowed_prefixes(CounterTable(), "t") == ("+221", "+224")
    own = CounterTable({"pk": "TENANT#u", "sk": "TENANT", "otp_allowed_prefixes": ["+33"]})
    assert otp_limits.allowed_prefixes(own, "u") == ("+33",)


def _change(n: int, old: str | None, new: str, *, created: bool = False, message: str = "m1") -> Change:
    return Change(stream_event_id=f"e{n}", message_id=message, tenant_id="t", batch_id=None, sequence=n,
                  old_status=old, new_status=new, reason=None, provider="passeinfo", at="", created=created)


def test_given_transitions_then_each_move_into_failed_or_unconfirmed_counts_once_and_created_failed_none():
    changes = [
        _change(1, "sending", "unconfirmed"), _change(2, "unconfirmed", "failed"),
        _change(1, "sending", "failed", message="m2"),
        _change(0, None, "failed", created=True, message="m3"),  # a recipient refused at fan-out
        _change(2, "sent", "delivered", message="m4"),
    ]
    assert status_transitions(changes) == {"failed": 2, "unconfirmed": 1}


class CountingTable(CounterTable):
    def __init__(self, tenant: dict[str, Any] | None = None):
        super().__init__(tenant)
        self.writes = 0

    def update_item(self, **kwargs: Any) -> dict:
        self.writes += 1
        return super().update_item(**kwargs)


@pytest.fixture
def minute(monkeypatch):
    """Send-limit settings from a clean environment, the clock at second 5 of a minute, no lease held."""
    from tamtam import clock
    from tamtam.settings import reset_settings

    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("SEND_LIMIT_MESSAGES_PER_MINUTE", "600")
    reset_settings()
    limits.reset_leases()
    now = [60_000 * 60 + 5.0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    yield now
    limits.reset_leases()
    reset_settings()


def test_given_a_busy_minute_then_single_sends_are_counted_a_lease_at_a_time(minute):
    table = CountingTable()

    for _ in range(100):
        limits.take_message(table, "ten_busy")

    assert table.writes == 4 + 9  # leases of 1, 2, 4, 8, then 10 at a time
    taken = table.counters["LIMIT#SEND#ten_busy#60000"]
    assert 100 <= taken < 100 + limits.LEASE_MAX  # what is leased and not used yet is counted


def test_given_a_lease_larger_than_what_is_left_then_the_last_units_are_taken_one_by_one(minute):
    table = CountingTable({"pk": "TENANT#ten_four", "sk": "TENANT", "messages_per_minute": 4})

    for _ in range(4):
        limits.take_message(table, "ten_four")
    with pytest.raises(RateLimited) as refused:
        limits.take_message(table, "ten_four")

    assert table.counters == {"LIMIT#SEND#ten_four#60000": 4}  # exactly the limit: nothing leased is lost
    assert refused.value.retry_after == 55


def test_given_a_new_minute_then_units_leased_in_the_last_one_are_not_spent(minute):
    table = CountingTable()
    for _ in range(4):  # leases of 1, 2 and 4: three units left over
        limits.take_message(table, "ten_edge")
    minute[0] += 60

    limits.take_message(table, "ten_edge")

    assert table.counters["LIMIT#SEND#ten_edge#60001"] == 1
    assert table.writes == 4
