"""
How a `Message` becomes the submit_sm PDUs of an SMPP connector.

- data_coding: the cheapest that carries the text among the configured
  candidates (GSM 03.38 before UCS2 by default), UCS2 as the fallback;
  binary messages (``raw``) keep their own data_coding.
- long messages: UDH (8- or 16-bit reference), SAR TLVs or one
  message_payload, as configured; every part asks for a receipt.
- addresses: an alphanumeric sender is TON 5 / NPI 0, ``+digits`` TON 1 /
  NPI 1, other digits TON 0 / NPI 1, unless the section fixes them.
"""

from __future__ import annotations

import itertools

from gateway.smpp.constants import CommandId, DataCoding, EsmClass, Npi, RegisteredDelivery, Ton
from gateway.smpp.pdu import PDU
from gateway.smpp.split import (
    MessageTooLong, Segment, SplitMode, choose_data_coding, concat_udh, split_message,
)
from gateway.smpp.text import TextError, encode_text, gsm_encode
from gateway.smpp.times import format_absolute

__all__ = ["SubmitBuilder", "CANDIDATES", "address_ton_npi"]

#: data_coding candidates per ``data_coding`` option, cheapest first (UCS2 is the fallback).
CANDIDATES = {
    "auto": (DataCoding.DEFAULT, DataCoding.UCS2),
    "auto_latin1": (DataCoding.DEFAULT, DataCoding.LATIN_1, DataCoding.UCS2),
    "latin1": (DataCoding.LATIN_1, DataCoding.UCS2),
    "ucs2": (DataCoding.UCS2,),
}

_BINARY_SINGLE, _BINARY_PART = 140, 134


def address_ton_npi(address: str) -> tuple[int, int, str]:
    """(TON, NPI, address as sent) for a sender or recipient given as text."""
    if not address:
        return Ton.UNKNOWN, Npi.UNKNOWN, ""
    if address.startswith("+") and address[1:].isdigit():
        return Ton.INTERNATIONAL, Npi.ISDN, address[1:]
    if address.isdigit():
        return Ton.UNKNOWN, Npi.ISDN, address
    return Ton.ALPHANUMERIC, Npi.UNKNOWN, address


class SubmitBuilder:
    """Builds submit_sm PDUs for one connector's options (`SMPPOptions`)."""

    def __init__(self, options, clock):
        self.options = options
        self.clock = clock
        self.candidates = CANDIDATES[options.data_coding]
        self.iso = options.smsc_alphabet == "latin1"
        self._references = itertools.count(1)

    def build(self, message) -> list[PDU]:
        """The PDUs for ``message``, in part order; raises `TextError` (status 0x0400/0x0401)."""
        segments = self.segments(message)
        base = self._base_params(message)
        pdus = []
        for segment in segments:
            params = dict(base)
            params["short_message"] = segment.short_message
            params["data_coding"] = segment.data_coding
            params["esm_class"] = base["esm_class"] | segment.esm_class
            pdus.append(PDU(CommandId.submit_sm, params=params, tlvs=dict(segment.tlvs)))
        return pdus

    def segments(self, message) -> list[Segment]:
        reference = next(self._references)
        mode = self.options.split_mode
        if message.raw is not None and message.data_coding not in (0, 1, 3, 8):
            return _binary_segments(message.raw, message.data_coding, mode, reference)
        text = message.text
        single = self._single(text)
        if single is not None:
            return [single]
        try:
            coding = choose_data_coding(text, self.candidates)
        except TextError:
            coding = DataCoding.UCS2
        if coding == DataCoding.DEFAULT and self.iso and not _latin1(text):
            coding = DataCoding.UCS2  # the SMSC reads data_coding 0 as Latin-1
        return split_message(text, coding, mode, reference=reference, iso=self.iso)

    def _single(self, text: str) -> Segment | None:
        """A text that fits one SMS in the first candidate coding, encoded (the common case, made quick)."""
        first = self.candidates[0]
        limit = 160 if first == DataCoding.DEFAULT else 140  # septets (the SMSC packs them) or octets
        try:
            if first == DataCoding.DEFAULT and not self.iso:
                encoded = gsm_encode(text)
            else:
                encoded = encode_text(text, first, iso=self.iso)
        except TextError:
            return None
        return Segment(encoded, first, 0, {}) if len(encoded) <= limit else None

    def _base_params(self, message) -> dict:
        o = self.options
        source = message.source or o.default_source
        s_ton, s_npi, source = address_ton_npi(source)
        d_ton, d_npi, destination = address_ton_npi(message.destination)
        params = {
            "service_type": o.service_type,
            "source_addr_ton": s_ton if o.source_ton is None else o.source_ton,
            "source_addr_npi": s_npi if o.source_npi is None else o.source_npi,
            "source_addr": source,
            "dest_addr_ton": d_ton if o.dest_ton is None else o.dest_ton,
            "dest_addr_npi": d_npi if o.dest_npi is None else o.dest_npi,
            "destination_addr": destination,
            "esm_class": 0,
            # a channel's fixed protocol_id (ping: 0x40), else the client's own ("pid")
            "protocol_id": int(message.extra.get("protocol_id", message.extra.get("pid", 0))) if message.extra else 0,
            "priority_flag": min(max(int(message.priority), 0), 3),
            "registered_delivery": RegisteredDelivery.RECEIPT,
        }
        if message.validity:
            params["validity_period"] = format_absolute(message.validity)
        return params


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _binary_segments(raw: bytes, data_coding: int, mode: SplitMode, reference: int) -> list[Segment]:
    """Binary user data, split by octets the way text is split by characters."""
    if len(raw) <= _BINARY_SINGLE:
        return [Segment(raw, data_coding, 0, {})]
    if mode == SplitMode.PAYLOAD:
        if len(raw) > 0xFFFF:
            raise MessageTooLong(f"{len(raw)} octets do not fit in message_payload")
        return [Segment(b"", data_coding, 0, {"message_payload": raw})]
    per_part = _BINARY_PART - (1 if mode == SplitMode.UDH16 else 0)
    chunks = [raw[i:i + per_part] for i in range(0, len(raw), per_part)]
    if len(chunks) > 255:
        raise MessageTooLong(f"{len(raw)} octets need {len(chunks)} parts")
    segments = []
    for number, chunk in enumerate(chunks, 1):
        if mode == SplitMode.SAR:
            segments.append(Segment(chunk, data_coding, 0, {
                "sar_msg_ref_num": reference & 0xFFFF, "sar_total_segments": len(chunks),
                "sar_segment_seqnum": number}))
        else:
            bits = 16 if mode == SplitMode.UDH16 else 8
            udh = concat_udh(reference, len(chunks), number, bits)
            segments.append(Segment(udh + chunk, data_coding, EsmClass.UDHI, {}))
    return segments
