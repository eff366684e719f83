"""SMPP absolute and relative time values (schedule_delivery_time, validity_period)."""

from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from gateway.smpp.times import BadTime, format_absolute, parse_time

NOW = int(datetime(2025, 1, 31, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)


def utc(*args) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


def test_empty_means_not_given():
    assert parse_time("", NOW) == 0


def test_absolute_times_with_their_utc_offset():
    assert parse_time("250615160000000+", NOW) == utc(2025, 6, 15, 16, 0)
    assert parse_time("250615160000012+", NOW) == utc(2025, 6, 15, 13, 0)  # local = UTC+3
    assert parse_time("250615160000520-", NOW) == utc(2025, 6, 15, 21, 0, 0, 500_000)  # UTC-5, 0.5 s


def test_relative_times_count_from_now_with_calendar_months():
    assert parse_time("000001020304000R", NOW) == NOW + ((24 + 2) * 3600 + 3 * 60 + 4) * 1000
    assert parse_time("000100000000000R", NOW) == utc(2025, 2, 28, 12, 0)  # 31 January + 1 month
    assert parse_time("010000000000000R", NOW) == utc(2026, 1, 31, 12, 0)


@pytest.mark.parametrize("bad", ["tomorrow", "2506151600000", "250615160000000X", "251315160000000+",
                                 "250615160000049+", "250632160000000+", "250615160000000+ "])
def test_malformed_times_are_refused(bad):
    with pytest.raises(BadTime):
        parse_time(bad, NOW)


@given(st.integers(utc(2000, 1, 1), utc(2099, 12, 31)))
def test_absolute_format_round_trips_to_the_tenth_of_a_second(ms):
    assert parse_time(format_absolute(ms), NOW) == ms - ms % 100


@given(st.integers(utc(2000, 1, 1), utc(2090, 1, 1)), st.integers(0, 99), st.integers(0, 23))
def test_relative_days_and_hours_are_exact_milliseconds(now, days, hours):
    assert parse_time(f"0000{days:02d}{hours:02d}0000000R", now) == now + (days * 24 + hours) * 3_600_000
