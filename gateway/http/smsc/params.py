"""
Reading smsc.ru request parameters: query string and form body alike, decoded
in the request's ``charset`` (utf-8, windows-1251 — smsc.ru's default — or
koi8-r), and the value formats of ``time``, ``valid`` and ``translit``.

Without ``charset`` smsc.ru reads windows-1251.  Clients that send UTF-8
without saying so are common (and a valid multi-byte UTF-8 sequence is
practically never meant as windows-1251 text), so such a value is read as
UTF-8; everything else as windows-1251.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from gateway.http.errors import BadDate, BadParameters

__all__ = ["Params", "CHARSETS", "parse_time", "parse_valid", "transliterate"]

CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "windows-1251": "cp1251", "cp1251": "cp1251",
            "koi8-r": "koi8_r", "koi8r": "koi8_r"}
MOSCOW = timezone(timedelta(hours=3))


class Params:
    """The decoded parameters of one request (``request.args``: query and form body)."""

    def __init__(self, args: dict):
        raw_charset = _first(args, b"charset").decode("ascii", "replace").strip().lower()
        if raw_charset and raw_charset not in CHARSETS:
            raise BadParameters(f"unsupported charset {raw_charset!r}; use utf-8, windows-1251 or koi8-r",
                                field="charset")
        self.charset = CHARSETS.get(raw_charset, "")
        self.response_charset = raw_charset if raw_charset in CHARSETS else "windows-1251"
        self._args = args

    def get(self, name: str, default: str = "") -> str:
        raw = _first(self._args, name.encode())
        if not raw:
            return default
        if self.charset:
            try:
                return raw.decode(self.charset)
            except UnicodeDecodeError:
                raise BadParameters(f"parameter {name!r} is not valid {self.charset}", field=name) from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1251", "replace")

    def has(self, name: str) -> bool:
        return bool(_first(self._args, name.encode()))

    def integer(self, name: str, default: int = 0, allowed=None) -> int:
        value = self.get(name).strip()
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            raise BadParameters(f"parameter {name!r} must be a whole number", field=name) from None
        if allowed is not None and number not in allowed:
            raise BadParameters(f"parameter {name!r} must be one of {sorted(allowed)}", field=name)
        return number

    def flag(self, name: str) -> bool:
        return self.get(name).strip() not in ("", "0")


def _first(args: dict, name: bytes) -> bytes:
    values = args.get(name)
    return values[0] if values else b""


def parse_time(value: str, tz_hours: int, now: datetime) -> int:
    """Epoch ms to send at, from smsc.ru's ``time`` (0: now); ``tz_hours`` is the offset from Moscow.

    Forms: ``DDMMYYhhmm``, ``DD.MM.YY hh:mm`` (or ``YYYY``), ``h1-h2`` (the next
    moment between those hours), ``0<unix time>``, ``+<minutes>``.
    """
    value = value.strip()
    if not value:
        return 0
    zone = timezone(MOSCOW.utcoffset(None) + timedelta(hours=tz_hours))
    local = now.astimezone(zone)
    if value.startswith("+") and value[1:].isdigit():
        return _ms(now + timedelta(minutes=int(value[1:])))
    if re.fullmatch(r"0\d{9,10}", value):
        return int(value[1:]) * 1000
    if match := re.fullmatch(r"(\d{1,2})-(\d{1,2})", value):
        return _ms(_next_window(local, int(match.group(1)), int(match.group(2))))
    for pattern in ("%d%m%y%H%M", "%d.%m.%y %H:%M", "%d.%m.%Y %H:%M"):
        try:
            return _ms(datetime.strptime(value, pattern).replace(tzinfo=zone))
        except ValueError:
            continue
    raise BadDate(f"invalid time {value!r}: expected DDMMYYhhmm, DD.MM.YY hh:mm, h1-h2, 0<unix time> or +<minutes>",
                  field="time")


def _next_window(local: datetime, start: int, end: int) -> datetime:
    if not (0 <= start <= 23 and 0 <= end <= 24 and start < end):
        raise BadDate(f"invalid hour range {start}-{end}", field="time")
    if start <= local.hour < end:
        return local
    day = local if local.hour < start else local + timedelta(days=1)
    return day.replace(hour=start, minute=0, second=0, microsecond=0)


def parse_valid(value: str) -> int:
    """Seconds a message stays valid, from smsc.ru's ``valid`` (``hh:mm`` or hours 1-24; 0: default)."""
    value = value.strip()
    if not value:
        return 0
    if match := re.fullmatch(r"(\d{1,2}):(\d{2})", value):
        seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60
    elif value.isdigit():
        seconds = int(value) * 3600
    else:
        raise BadParameters(f"invalid valid {value!r}: expected hh:mm or hours (1-24)", field="valid")
    if not 60 <= seconds <= 24 * 3600:
        raise BadParameters("valid must be between 00:01 and 24:00", field="valid")
    return seconds


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


_TRANSLIT = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    ["a", "b", "v", "g", "d", "e", "yo", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
     "t", "u", "f", "h", "ts", "ch", "sh", "sch", "", "y", "'", "e", "yu", "ya"],
))


def transliterate(text: str) -> str:
    """Cyrillic → Latin letters (``translit=1``): 'Привет' → 'Privet'."""
    out = []
    for char in text:
        latin = _TRANSLIT.get(char.lower())
        if latin is None:
            out.append(char)
        elif char.isupper():
            out.append(latin.capitalize())
        else:
            out.append(latin)
    return "".join(out)
