"""
When a message may go out: account quiet hours (``22:00-08:00`` in the
account's timezone) and retry backoff.  Pure functions of epoch milliseconds.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["quiet_end", "parse_quiet", "backoff_ms"]


@lru_cache(maxsize=256)
def parse_quiet(spec: str):
    """``HH:MM-HH:MM/Zone`` → (start minute, end minute, ZoneInfo); None for ''."""
    if not spec:
        return None
    window, _, zone = spec.partition("/")
    start, _, end = window.partition("-")
    sh, sm = (int(x) for x in start.split(":"))
    eh, em = (int(x) for x in end.split(":"))
    return sh * 60 + sm, eh * 60 + em, ZoneInfo(zone or "UTC")


def quiet_end(due_ms: int, spec: str) -> int:
    """``due_ms``, or the end of the quiet window if ``due_ms`` falls inside it.

    A window whose end is before its start spans midnight (22:00-08:00).
    """
    q = parse_quiet(spec)
    if q is None:
        return due_ms
    start, end, zone = q
    if start == end:
        return due_ms
    local = datetime.fromtimestamp(due_ms / 1000, zone)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return due_ms
    day = local.date() if minute < end else local.date() + timedelta(days=1)
    naive = datetime(day.year, day.month, day.day, end // 60, end % 60)
    return max(due_ms, int(naive.replace(tzinfo=zone).timestamp() * 1000))


def backoff_ms(attempt: int, base: float = 1.0, cap: float = 300.0, jitter: float = 0.2,
               rng: random.Random | None = None) -> int:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, ± ``jitter``."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    spread = (rng or random).uniform(-jitter, jitter)
    return max(0, int(delay * (1 + spread) * 1000))
