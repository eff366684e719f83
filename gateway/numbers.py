"""
Phone numbers as clients write them, normalised with `phonenumbers`.

Clients send ``+79001234567``, ``79001234567``, ``8 (900) 123-45-67`` or
``00 44 7911 123456``; the gateway stores and routes one form: the E.164
digits without the ``+`` (``79001234567``), as SMPP addresses with TON
international carry them.  A number without ``+`` is tried as international
first and then as a domestic number of the default region (the account's
``default_region``, else ``[http] default_region``), which is how the trunk
prefix of ``8XXXXXXXXXX`` in Russia is understood.  A number that is neither
valid international nor valid domestic is refused (`InvalidNumber`): smsc.ru
error 7, HTTP 400.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumber

__all__ = ["InvalidNumber", "normalize", "split_list"]

_SEPARATORS = re.compile(r"[\s().\-/]")
_DIGITS = re.compile(r"\+?\d{3,20}")
_LIST = re.compile(r"[,;\s]+")


class InvalidNumber(ValueError):
    """``number`` is not a valid phone number (international or in ``region``)."""

    def __init__(self, number: str, region: str = ""):
        self.number = number
        self.region = region
        where = f" (default region {region})" if region else ""
        super().__init__(f"invalid phone number {number!r}{where}")


def split_list(value: str) -> list[str]:
    """``'+7900…, 7901…;8902…'`` → the numbers, in order, empty items dropped."""
    return [item for item in _LIST.split(value.strip()) if item]


def normalize(number: str, region: str = "RU") -> str:
    """The E.164 digits of ``number`` without '+'; raises `InvalidNumber`."""
    compact = _SEPARATORS.sub("", number or "")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _DIGITS.fullmatch(compact):
        raise InvalidNumber(number, region)
    result = _normalize(compact, (region or "").upper())
    if result is None:
        raise InvalidNumber(number, region)
    return result


@lru_cache(maxsize=65536)
def _normalize(compact: str, region: str) -> str | None:
    digits = compact.lstrip("+")
    found = _international(digits)
    if found is not None or compact.startswith("+") or not region:
        return found
    return _parsed(digits, region)


def _international(digits: str) -> str | None:
    """``digits`` read as country code + national number, if that is a valid number.

    Checks validity with precompiled patterns of phonenumbers' own metadata
    (`_valid`) instead of running the general parser: the hot path of a batch
    of thousands.  What that does not accept (leading zeros, a trunk prefix
    after the country code, invalid numbers) gets the general parser's verdict.
    """
    for size in (1, 2, 3):
        code = int(digits[:size])
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
        if regions is None:
            continue
        national = digits[size:]
        if not national:
            return None
        if not national.startswith("0") and _valid(code, regions, national):
            return digits
        return _parsed("+" + digits, None)  # leading zeros, a trunk prefix after the code, …
    return None


def _parsed(number: str, region: str | None) -> str | None:
    """The general parser's verdict (the slow path: unusual and invalid numbers)."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    return _e164(parsed) if phonenumbers.is_valid_number(parsed) else None


def _valid(code: int, regions, national: str) -> bool:
    """`phonenumbers.is_valid_number` for ``+<code><national>``, with cached compiled patterns.

    The same decision as phonenumbers: the region is the only one of the
    country code, or the first whose leading digits match / whose patterns
    accept the number; the number is valid if it matches that region's general
    pattern and one of its number-type patterns (lengths included).
    """
    if len(regions) == 1:
        return _matches(_patterns(regions[0], code), national)
    for region in regions:
        leading, patterns = _patterns(region, code)
        if leading is not None:
            if leading.match(national):
                return _matches((leading, patterns), national)
        elif _matches((leading, patterns), national):
            return True
    return False


def _matches(compiled, national: str) -> bool:
    _, patterns = compiled
    if not patterns:
        return False
    (lengths, general), types = patterns[0], patterns[1:]
    if lengths and len(national) not in lengths or not general.fullmatch(national):
        return False
    return any((not lengths or len(national) in lengths) and pattern.fullmatch(national)
               for lengths, pattern in types)


@lru_cache(maxsize=None)
def _patterns(region: str, code: int):
    """(leading digits regex or None, [(lengths, regex) of the general pattern, then of each type]).

    An empty list when the region has no general pattern (nothing is valid there).
    """
    if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        metadata = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(code, None)
    else:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return None, []
    leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
    general = metadata.general_desc
    if general is None or not general.national_number_pattern:
        return leading, []
    descs = [general] + [getattr(metadata, name) for name in _TYPES]
    return leading, [(frozenset(d.possible_length or ()), re.compile(d.national_number_pattern))
                     for d in descs if d is not None and d.national_number_pattern]


#: Validity needs one type's pattern to match: the most common kinds of number are tried first.
_TYPES = ("mobile", "fixed_line", "premium_rate", "toll_free", "shared_cost", "voip", "personal_number",
          "pager", "uan", "voicemail")


def _e164(parsed: PhoneNumber) -> str:
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
