"""
The offline HLR lookup (``lookup = numbering``): what the numbering plan
says about a number, from the ``phonenumbers`` data — whether it is a valid
number, its country, the carrier its range was allocated to, and MCC/MNC
where the E.212 tables (`gateway.providers.hlr.mccmnc`) know them.

A valid number answers DELIVERED, an invalid one UNDELIVERABLE with error
`INVALID_NUMBER`.  It cannot know whether the subscriber exists, is
switched on, roams or was ported (no IMSI, no MSC): use an HLR vendor
(``lookup = http``) for that.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import carrier, geocoder
from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IHlrLookup
from gateway.model import State
from gateway.providers.hlr.answer import INVALID_NUMBER, HlrAnswer
from gateway.providers.hlr.mccmnc import mcc_for, mnc_for

__all__ = ["NumberingLookup"]


@implementer(IHlrLookup)
class NumberingLookup:
    """Answers from numbering data, in ``language`` (country and carrier names)."""

    def __init__(self, language: str = "en"):
        self.language = language

    def lookup(self, msisdn: str) -> defer.Deferred:
        return defer.succeed(self.answer(msisdn))

    def answer(self, msisdn: str) -> HlrAnswer:
        try:
            number = phonenumbers.parse("+" + msisdn.lstrip("+"), None)
        except phonenumbers.NumberParseException as e:
            return HlrAnswer(State.UNDELIVERABLE, INVALID_NUMBER, reason=f"not a phone number: {e}")
        if not phonenumbers.is_valid_number(number):
            return HlrAnswer(State.UNDELIVERABLE, INVALID_NUMBER, reason="no such number in the numbering plan")
        region = phonenumbers.region_code_for_number(number) or ""
        network = carrier.name_for_number(number, self.language)
        return HlrAnswer(State.DELIVERED, 0, mcc=mcc_for(region), mnc=mnc_for(region, network),
                         cn=geocoder.country_name_for_number(number, self.language), net=network)
