"""`schedule_at`: ISO 8601 with an offset, not in the past, at most 30 days ahead."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tamtam.bulk.schedule import parse_schedule
from tamtam.errors import InvalidRequest

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T09:00:00Z", NOW + 3600),
        ("2026-11-22T10:00:00+01:00", NOW + 3600),
        ("2026-11-22T08:00:00.500+00:00", NOW + 0.5),
        ("2026-12-22T08:00:00Z", NOW + 30 * 86400),
    ],
)
def test_given_a_time_with_an_offset_within_30_days_then_its_epoch(text, expected):
    assert parse_schedule(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2026-11-22T07:59:59Z", "past"),
        ("2026-12-22T08:00:01Z", "30 days"),
        ("2026-11-22T09:00:00", "offset"),
        ("2026-11-22", "offset"),
        ("tomorrow", "ISO 8601"),
        ("2026-02-30T08:00:00Z", "ISO 8601"),
    ],
)
def test_given_a_bad_time_then_invalid_schedule(text, words):
    with pytest.raises(InvalidRequest) as err:
        parse_schedule(text, now=NOW)
    assert (err.value.code, err.value.field) == ("invalid_schedule", "schedule_at")
    assert words in err.value.message


def test_given_no_time_then_none():
    assert parse_schedule(None, now=NOW) is None
