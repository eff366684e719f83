"""
SMPP time values (SMPP 3.4 section 7.1.1): ``schedule_delivery_time``,
``validity_period``, ``final_date``.

A time is 16 characters ``YYMMDDhhmmsstnnp``: absolute when ``p`` is ``+`` or
``-`` (local time ``nn`` quarter hours ahead of / behind UTC, ``t`` tenths of a
second), relative to now when ``p`` is ``R`` (``YY`` years, ``MM`` months, ``DD``
days, ``hh:mm:ss``; ``t`` and ``nn`` are 0).  An empty string means "not given".
Times inside smsgw are epoch milliseconds.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone

__all__ = ["BadTime", "parse_time", "format_absolute"]

_FORMAT = re.compile(r"(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d)(\d\d)([-+R])")


class BadTime(ValueError):
    """A time value that is not in the SMPP format (or names an impossible date)."""


def parse_time(value: str, now_ms: int) -> int:
    """``value`` as epoch milliseconds (0 for an empty value); `BadTime` if malformed."""
    if not value:
        return 0
    match = _FORMAT.fullmatch(value)
    if match is None:
        raise BadTime(f"{value!r} is not YYMMDDhhmmsstnnp")
    yy, mo, dd, hh, mi, ss, tenth, nn, sign = match.groups()
    if sign == "R":
        return _relative(int(yy), int(mo), int(dd), int(hh), int(mi), int(ss), now_ms, value)
    if int(nn) > 48:
        raise BadTime(f"{value!r}: UTC offset of {nn} quarter hours")
    try:
        local = datetime(2000 + int(yy), int(mo), int(dd), int(hh), int(mi), int(ss), int(tenth) * 100_000,
                         tzinfo=timezone.utc)
    except ValueError as e:
        raise BadTime(f"{value!r}: {e}") from None
    offset = timedelta(minutes=15 * int(nn))
    return _ms(local - offset if sign == "+" else local + offset)


def _relative(years, months, days, hours, minutes, seconds, now_ms, value) -> int:
    """Now plus a calendar offset: years and months move the date, the rest is a duration."""
    now = datetime.fromtimestamp(now_ms // 1000, timezone.utc).replace(microsecond=now_ms % 1000 * 1000)
    month_index = now.month - 1 + months + 12 * years
    year, month = now.year + month_index // 12, month_index % 12 + 1
    if year > 9999:
        raise BadTime(f"{value!r} is too far ahead")
    day = min(now.day, calendar.monthrange(year, month)[1])
    moved = now.replace(year=year, month=month, day=day)
    moved += timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return _ms(moved)


def _ms(at: datetime) -> int:
    """Epoch milliseconds of an aware UTC datetime, in integers (no float rounding)."""
    return calendar.timegm(at.utctimetuple()) * 1000 + at.microsecond // 1000


def format_absolute(ms: int) -> str:
    """Epoch milliseconds as an absolute SMPP time in UTC (``YYMMDDhhmmsst00+``)."""
    at = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return at.strftime("%y%m%d%H%M%S") + f"{at.microsecond // 100_000}00+"
