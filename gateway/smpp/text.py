"""Text encodings of short messages: GSM 03.38, IA5, Latin-1 and UCS2 (UTF-16BE).

SMPP carries data_coding 0 as *unpacked* GSM 03.38 septets, one per octet (the SMSC packs
them for the air interface); :func:`gsm_pack` / :func:`gsm_unpack` convert to and from
the packed 7-bit form used in TPDUs. Characters of the extension table (``{ } [ ] ~ \\ |
^ € \\f``) take two septets, ESC (0x1B) and the code.

Everything that cannot be encoded or decoded raises a :class:`TextError` whose ``status``
is the vendor code 0x0400 (bad encoding) the SMPP server answers with.
"""

import codecs

from gateway.smpp.constants import CommandStatus, DataCoding

__all__ = [
    "TextError", "UnsupportedDataCoding", "GSM_BASIC", "GSM_EXTENSION", "ESC",
    "gsm_encode", "gsm_decode", "gsm_pack", "gsm_unpack", "is_gsm", "gsm_septets",
    "encode_text", "decode_text", "TEXT_CODINGS",
]

ESC = 0x1B

#: The GSM 03.38 default alphabet, indexed by septet (0x1B, ESC, shown as a space).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x20ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(GSM_BASIC) == 128

#: The extension table: septet after ESC -> character.
GSM_EXTENSION = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}

#: data_coding values this module can turn into text.
TEXT_CODINGS = (DataCoding.DEFAULT, DataCoding.IA5, DataCoding.LATIN_1, DataCoding.UCS2)


class TextError(ValueError):
    """Text that cannot be encoded, or octets that cannot be decoded, in a data_coding."""

    status = CommandStatus.VENDOR_BAD_ENCODING


class UnsupportedDataCoding(TextError):
    """A data_coding this gateway does not convert to or from text."""

    def __init__(self, data_coding):
        super().__init__(f"unsupported data_coding 0x{data_coding:02x}")
        self.data_coding = data_coding


# str.translate tables. Characters outside GSM map to a non-ASCII sentinel so one
# ``isascii()`` check after translating tells whether the whole text was encodable.
_BAD = "\uffff"
_ENCODE = {ord(ch): chr(code) for code, ch in enumerate(GSM_BASIC) if code != ESC}
_ENCODE.update({ord(ch): chr(ESC) + chr(code) for code, ch in GSM_EXTENSION.items()})
_ENCODE.update({i: _BAD for i in range(128) if i not in _ENCODE})


def gsm_encode(text):
    """Encode ``text`` as unpacked GSM 03.38 septets (one per octet), ESC for extensions."""
    out = text.translate(_ENCODE)
    if not out.isascii():
        bad = next(ch for ch in text if not ch.translate(_ENCODE).isascii())
        raise TextError(f"{bad!r} (U+{ord(bad):04X}) is not in the GSM 03.38 alphabet")
    return out.encode("ascii")


def gsm_decode(septets):
    """Decode unpacked GSM 03.38 septets; ESC + code gives the extension character.

    As 3GPP TS 23.038 asks, ESC followed by a code without an extension character shows
    the basic-table character of that code; a trailing ESC is dropped.
    """
    if not septets.isascii():
        raise TextError("GSM 03.38 septets above 0x7F: packed or not GSM text")
    if ESC not in septets:  # the basic table alone: a single-byte charmap, decoded in C
        return codecs.charmap_decode(septets, "strict", GSM_BASIC)[0]
    out, i, size = [], 0, len(septets)
    while i < size:
        code = septets[i]
        if code == ESC:
            if i + 1 < size:
                nxt = septets[i + 1]
                out.append(GSM_EXTENSION.get(nxt) or (" " if nxt == ESC else GSM_BASIC[nxt]))
            i += 2
        else:
            out.append(GSM_BASIC[code])
            i += 1
    return "".join(out)


def is_gsm(text):
    """True when ``text`` can be sent in the GSM 03.38 alphabet."""
    return text.translate(_ENCODE).isascii()


def gsm_septets(text):
    """Septets ``text`` takes in GSM 03.38 (extension characters count two)."""
    return len(gsm_encode(text))


def gsm_pack(septets, fill_bits=0):
    """Pack septets 7-bit, LSB first (3GPP TS 23.038 6.1.2.1); ``fill_bits`` after a UDH."""
    value = 0
    for index, septet in enumerate(septets):
        value |= (septet & 0x7F) << (7 * index)
    bits = 7 * len(septets) + fill_bits
    return (value << fill_bits).to_bytes((bits + 7) // 8, "little")


def gsm_unpack(data, count=None, fill_bits=0):
    """Unpack 7-bit packed septets; ``count`` (the TP-UDL) removes padding ambiguity.

    Without ``count`` every whole septet is returned, except that a final zero septet
    made of exactly seven padding bits is dropped (it would otherwise read as ``@``).
    """
    bits = len(data) * 8 - fill_bits
    value = int.from_bytes(data, "little") >> fill_bits
    if count is None:
        count = bits // 7
        if count and bits % 7 == 0 and not (value >> (7 * (count - 1))) & 0x7F:
            count -= 1
    elif count * 7 > bits:
        raise TextError(f"{len(data)} octets hold fewer than {count} septets")
    return bytes((value >> (7 * i)) & 0x7F for i in range(count))


def encode_text(text, data_coding, *, iso=False):
    """Encode ``text`` in ``data_coding`` (0, 1, 3 or 8); ``iso`` makes 0 mean Latin-1.

    Raises :class:`UnsupportedDataCoding` or :class:`TextError`.
    """
    if data_coding == DataCoding.DEFAULT and not iso:
        return gsm_encode(text)
    codec = _CODECS.get(DataCoding.LATIN_1 if data_coding == DataCoding.DEFAULT else data_coding)
    if codec is None:
        raise UnsupportedDataCoding(data_coding)
    try:
        return text.encode(codec)
    except UnicodeEncodeError as error:
        raise TextError(f"text not encodable as {codec}: {error.reason} at "
                        f"{error.start}") from None


def decode_text(data, data_coding, *, iso=False):
    """Decode message octets in ``data_coding``; ``iso`` makes 0 mean Latin-1.

    UCS2 is read as UTF-16BE, so surrogate pairs give characters outside the BMP.
    """
    if data_coding == DataCoding.DEFAULT and not iso:
        return gsm_decode(bytes(data))
    codec = _CODECS.get(DataCoding.LATIN_1 if data_coding == DataCoding.DEFAULT else data_coding)
    if codec is None:
        raise UnsupportedDataCoding(data_coding)
    try:
        return bytes(data).decode(codec)
    except UnicodeDecodeError as error:
        raise TextError(f"octets not valid {codec}: {error.reason} at {error.start}") from None


_CODECS = {DataCoding.IA5: "ascii", DataCoding.LATIN_1: "latin-1", DataCoding.UCS2: "utf-16-be"}
