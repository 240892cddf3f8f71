"""The one timestamp reader (core.instants)."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from core.instants import InstantError, instant_or_none, parse_instant

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-04T14:05:00+02:00", datetime(2026, 7, 4, 12, 5, tzinfo=UTC)),
        ("2026-07-04T12:05:00Z", datetime(2026, 7, 4, 12, 5, tzinfo=UTC)),
        ("  2026-07-04 12:05:00.250+00:00\n", datetime(2026, 7, 4, 12, 5, 0, 250000, tzinfo=UTC)),
    ],
)
def test_reads_iso_8601_with_an_offset(text, expected):
    assert parse_instant(text) == expected


@pytest.mark.parametrize(
    ("value", "reason", "message"),
    [
        (1720094700, "type", "is not an ISO 8601 string"),
        ("   ", "type", "is not an ISO 8601 string"),
        ("4 July 2026", "format", "is not ISO 8601 (e.g. 2026-07-04T14:05:00+02:00)"),
        ("2026-02-30T14:05:00+02:00", "format", "is not ISO 8601"),
        ("2026-07-04T14:05:00", "naive", "has no time zone; add 'Z' or an offset"),
    ],
)
def test_unreadable_times_say_why(value, reason, message):
    with pytest.raises(InstantError) as caught:
        parse_instant(value)
    assert caught.value.reason == reason
    assert message in caught.value.message
    assert instant_or_none(value) is None


def test_a_naive_time_means_what_the_caller_says():
    assert parse_instant("2026-07-04T14:05:00", naive_zone=UTC) == datetime(2026, 7, 4, 14, 5, tzinfo=UTC)
    local = parse_instant("2026-10-25T02:30:00", naive_zone=AMSTERDAM)  # the autumn hour that occurs twice
    assert local.utcoffset() == timedelta(hours=2)  # fold=0: the first, summer-time one
    kept = parse_instant("2026-07-04T14:05:00", allow_naive=True)
    assert kept.tzinfo is None and kept == datetime(2026, 7, 4, 14, 5)
    aware = parse_instant("2026-07-04T14:05:00-03:00", naive_zone=AMSTERDAM)
    assert aware.tzinfo == timezone(timedelta(hours=-3))  # an offset in the text always wins
