"""Long messages: choose a data_coding, split text into parts, build and read UDH / SAR.

Per-part capacity (3GPP TS 23.040; a part is 140 octets of user data):

============  ======  ===================  ====================
coding        single  with 8-bit ref UDH   with 16-bit ref UDH
============  ======  ===================  ====================
GSM 03.38     160     153 septets          152 septets
8-bit         140     134 octets           133 octets
UCS2          70      67 UTF-16 units      66 UTF-16 units
============  ======  ===================  ====================

A GSM extension character (two septets) and a UTF-16 surrogate pair are never cut
between parts. SAR parts use the 8-bit-reference sizes (the SMSC adds the UDH). In SMPP
a data_coding 0 part is ``UDH + unpacked septets`` (no fill bits: the SMSC packs).
"""

import enum
from typing import NamedTuple

from gateway.smpp.constants import CommandStatus, DataCoding, EsmClass
from gateway.smpp.text import GSM_EXTENSION, TextError, encode_text, is_gsm

__all__ = [
    "SplitMode", "Segment", "Concat", "UserDataHeader", "MessagePart", "MessageTooLong",
    "split_text", "split_message", "count_parts", "choose_data_coding",
    "build_udh", "parse_udh", "concat_udh", "message_part", "is_too_long",
    "MAX_SHORT_MESSAGE_LENGTH", "MAX_PARTS", "IEI_CONCAT_8", "IEI_CONCAT_16",
]

#: A short_message longer than this without UDH or message_payload is answered 0x0401.
MAX_SHORT_MESSAGE_LENGTH = 160
MAX_PARTS = 255
IEI_CONCAT_8 = 0x00
IEI_CONCAT_16 = 0x08

_GSM_EXTENSION_CHARS = frozenset(GSM_EXTENSION.values())


class SplitMode(enum.Enum):
    """How the parts of a long message are tied together."""

    UDH8 = "udh8"  # concatenation UDH, 8-bit reference (IEI 0x00)
    UDH16 = "udh16"  # concatenation UDH, 16-bit reference (IEI 0x08)
    SAR = "sar"  # sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs
    PAYLOAD = "payload"  # no parts: the whole text in one message_payload TLV


class MessageTooLong(TextError):
    """More than 255 parts, or a single message that does not fit (vendor 0x0401)."""

    status = CommandStatus.VENDOR_MESSAGE_TOO_LONG


class Segment(NamedTuple):
    """One PDU's worth of a message: merge into submit_sm/deliver_sm params and tlvs.

    ``params["esm_class"] |= segment.esm_class`` (UDHI when short_message starts with a UDH).
    """

    short_message: bytes
    data_coding: int
    esm_class: int
    tlvs: dict


class Concat(NamedTuple):
    """Concatenation information of one part (from a UDH or SAR TLVs)."""

    reference: int
    total: int
    seqnum: int
    reference_bits: int = 8


class UserDataHeader(NamedTuple):
    """A parsed UDH: every information element ``(iei, data)`` in order, and its size."""

    elements: tuple
    length: int  # octets, UDHL octet included

    @property
    def concat(self):
        """The :class:`Concat` of IEI 0x00 or 0x08, or None (also when it is malformed)."""
        for iei, data in self.elements:
            if iei == IEI_CONCAT_8 and len(data) == 3:
                ref, total, seq = data
                bits = 8
            elif iei == IEI_CONCAT_16 and len(data) == 4:
                ref, total, seq = (data[0] << 8) | data[1], data[2], data[3]
                bits = 16
            else:
                continue
            if total and 1 <= seq <= total:  # TS 23.040: otherwise ignore the element
                return Concat(ref, total, seq, bits)
        return None


def _unit_limits(data_coding, iso):
    """(single, per part with 8-bit ref, per part with 16-bit ref) in the coding's units."""
    if data_coding == DataCoding.DEFAULT and not iso:
        return 160, 153, 152
    if data_coding == DataCoding.UCS2:
        return 70, 67, 66
    return 140, 134, 133


def _unit_costs(text, data_coding, iso):
    """Units each character takes: septets, octets, or UTF-16 code units."""
    if data_coding == DataCoding.DEFAULT and not iso:
        ext = _GSM_EXTENSION_CHARS
        return [2 if ch in ext else 1 for ch in text]
    if data_coding == DataCoding.UCS2:
        return [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return [1] * len(text)


def split_text(text, data_coding, mode=SplitMode.UDH8, *, iso=False):
    """Cut ``text`` into the chunks that become parts (one chunk if it fits a single SMS)."""
    single, per8, per16 = _unit_limits(data_coding, iso)
    if 2 * len(text) <= single:  # no character takes more than two units: fits, whatever it holds
        return [text]
    costs = _unit_costs(text, data_coding, iso)
    if sum(costs) <= single:
        return [text]
    if mode == SplitMode.PAYLOAD:
        raise ValueError("SplitMode.PAYLOAD sends one message_payload: nothing to split")
    limit = per16 if mode == SplitMode.UDH16 else per8
    chunks, start, used = [], 0, 0
    for index, cost in enumerate(costs):
        if used + cost > limit:
            chunks.append(text[start:index])
            start, used = index, 0
        used += cost
    chunks.append(text[start:])
    if len(chunks) > MAX_PARTS:
        raise MessageTooLong(f"text needs {len(chunks)} parts (max {MAX_PARTS})")
    return chunks


def count_parts(text, data_coding, mode=SplitMode.UDH8, *, iso=False):
    """How many SMS parts ``text`` takes in ``data_coding``."""
    return len(split_text(text, data_coding, mode, iso=iso))


def choose_data_coding(text, candidates=(DataCoding.DEFAULT, DataCoding.UCS2)):
    """The candidate data_coding that sends ``text`` in the fewest parts (earlier wins ties).

    Add ``DataCoding.LATIN_1`` / ``IA5`` to the candidates, cheapest first, when the
    route delivers them; raises :class:`TextError` when no candidate can carry the text.
    """
    best = None
    for coding in candidates:
        if coding == DataCoding.DEFAULT:
            if not is_gsm(text):
                continue
        else:
            try:
                encode_text(text, coding)
            except TextError:
                continue
        parts = len(split_text(text, coding))
        if best is None or parts < best[0]:
            best = (parts, coding)
    if best is None:
        raise TextError(f"no data_coding among {[int(c) for c in candidates]} fits the text")
    return DataCoding(best[1])


def concat_udh(reference, total, seqnum, reference_bits=8):
    """The concatenation UDH (UDHL included) for one part."""
    if reference_bits == 16:
        return bytes((6, IEI_CONCAT_16, 4, (reference >> 8) & 0xFF, reference & 0xFF,
                      total, seqnum))
    return bytes((5, IEI_CONCAT_8, 3, reference & 0xFF, total, seqnum))


def build_udh(elements):
    """A UDH (UDHL included) from ``(iei, data)`` pairs."""
    body = b"".join(bytes((iei, len(data))) + bytes(data) for iei, data in elements)
    if len(body) > 139:
        raise TextError(f"UDH of {len(body)} octets does not fit in a message")
    return bytes((len(body),)) + body


def parse_udh(user_data):
    """Split ``user_data`` (starting with UDHL) into ``(UserDataHeader, rest)``.

    Every element is kept, concatenation (0x00, 0x08) or not (port addressing...).
    """
    if not user_data:
        raise TextError("UDHI set but the message is empty")
    udhl = user_data[0]
    end = 1 + udhl
    if end > len(user_data):
        raise TextError(f"UDH length {udhl} exceeds the {len(user_data)}-octet message")
    elements, off = [], 1
    while off < end:
        if off + 2 > end:
            raise TextError("UDH ends inside an information element header")
        iei, size = user_data[off], user_data[off + 1]
        if off + 2 + size > end:
            raise TextError(f"UDH element 0x{iei:02x} of {size} octets overruns the UDH")
        elements.append((iei, bytes(user_data[off + 2:off + 2 + size])))
        off += 2 + size
    return UserDataHeader(tuple(elements), end), bytes(user_data[end:])


def split_message(text, data_coding=None, mode=SplitMode.UDH8, *, reference=0, iso=False):
    """Encode ``text`` into :class:`Segment` objects ready to go into submit_sm/deliver_sm.

    ``data_coding`` None picks GSM 03.38 or UCS2 with :func:`choose_data_coding`.
    ``reference`` ties the parts together (keep a counter per destination); it is cut to
    8 bits for UDH8. A text that fits one SMS always yields one plain segment.
    """
    if data_coding is None:
        data_coding = choose_data_coding(text)
    if mode == SplitMode.PAYLOAD:
        encoded = encode_text(text, data_coding, iso=iso)
        if count_parts(text, data_coding, iso=iso) == 1:
            return [Segment(encoded, data_coding, 0, {})]
        if len(encoded) > 0xFFFF:
            raise MessageTooLong(f"{len(encoded)} octets do not fit in message_payload")
        return [Segment(b"", data_coding, 0, {"message_payload": encoded})]
    chunks = split_text(text, data_coding, mode, iso=iso)
    if len(chunks) == 1:
        return [Segment(encode_text(text, data_coding, iso=iso), data_coding, 0, {})]
    total = len(chunks)
    segments = []
    for seqnum, chunk in enumerate(chunks, 1):
        encoded = encode_text(chunk, data_coding, iso=iso)
        if mode == SplitMode.SAR:
            segments.append(Segment(encoded, data_coding, 0, {
                "sar_msg_ref_num": reference & 0xFFFF, "sar_total_segments": total,
                "sar_segment_seqnum": seqnum}))
        else:
            bits = 16 if mode == SplitMode.UDH16 else 8
            udh = concat_udh(reference, total, seqnum, bits)
            segments.append(Segment(udh + encoded, data_coding, EsmClass.UDHI, {}))
    return segments


class MessagePart(NamedTuple):
    """What an incoming submit_sm/deliver_sm/data_sm carries: user data and its place."""

    payload: bytes  # user data without UDH (message_payload if present, else short_message)
    concat: Concat | None  # None for a complete single message
    udh: UserDataHeader | None


def message_part(params, tlvs):
    """Read the user data and concatenation info (UDH or SAR TLVs) of an incoming PDU.

    Raises :class:`TextError` for a malformed UDH.
    """
    data = tlvs.get("message_payload")
    if data is None:
        data = params.get("short_message", b"")
    udh = None
    concat = None
    if params.get("esm_class", 0) & EsmClass.UDHI:
        udh, data = parse_udh(data)
        concat = udh.concat
    if concat is None and "sar_msg_ref_num" in tlvs:
        total = tlvs.get("sar_total_segments", 0)
        seq = tlvs.get("sar_segment_seqnum", 0)
        if total and 1 <= seq <= total:
            concat = Concat(tlvs["sar_msg_ref_num"], total, seq, 16)
    if concat is not None and concat.total == 1:
        concat = None
    return MessagePart(data, concat, udh)


def is_too_long(params, tlvs):
    """True for a short_message over 160 octets sent without UDH or message_payload.

    The SMPP server answers such a submit with vendor status 0x0401
    (``CommandStatus.VENDOR_MESSAGE_TOO_LONG``).
    """
    return (len(params.get("short_message", b"")) > MAX_SHORT_MESSAGE_LENGTH
            and not params.get("esm_class", 0) & EsmClass.UDHI
            and "message_payload" not in tlvs)
