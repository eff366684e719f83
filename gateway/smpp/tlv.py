"""The TLV (optional parameter) section of a PDU, driven by :data:`gateway.smpp.tables.TLVS`.

Known tags decode to typed values under their spec names; unknown tags keep their raw
``bytes`` under the integer tag, in wire order, and encode back unchanged. A tag that
repeats is a list: always for ``multi`` TLVs, and for unknown tags that occur more than
once (their occurrences then re-encode together, where the first one was); a known
single-valued TLV that repeats is ``ESME_RINVTLVSTREAM``.
"""

import struct

from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import PDUError
from gateway.smpp.tables import CSTR, INT, TLVS

__all__ = ["decode_tlvs", "encode_tlvs", "as_bytes", "encode_cstring"]

_TL = struct.Struct(">HH")
_NUL = b"\0"

# TLV kinds as small ints, and the TLV table flattened into tuples for the hot loops.
_T_INT, _T_CSTR, _T_OCTETS = 0, 1, 2
_TLV_KIND = {INT: _T_INT, CSTR: _T_CSTR}
_TLV_DECODE = {s.tag: (s.name, _TLV_KIND.get(s.kind, _T_OCTETS), s.size, s.min_size, s.multi)
               for s in TLVS}
_TLV_ENCODE = {s.name: (s.tag, _TLV_KIND.get(s.kind, _T_OCTETS), s.size, s.min_size, s.multi,
                        _TL.pack(s.tag, s.size))
               for s in TLVS}


def as_bytes(value, name):
    """Accept bytes-like values only: ``bytes(5)`` or a str would silently mean something else."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ValueError(f"{name} must be bytes, not {type(value).__name__}")


def encode_cstring(value, name, size):
    """Encode a C-Octet String value (without its NUL), checking the spec's max size."""
    raw = value.encode("latin-1") if type(value) is str else as_bytes(value, name)
    if len(raw) >= size or 0 in raw:  # int membership: a memchr, far cheaper than b"\0" in
        raise ValueError(f"{name} {value!r}: NUL inside or longer than {size - 1} octets")
    return raw


def decode_tlvs(data, off, end):
    """Decode the TLV section ``data[off:end]`` into a dict in wire order."""
    tlvs = {}
    unpack = _TL.unpack_from
    while off < end:
        if off + 4 > end:
            raise PDUError(f"{end - off} stray octets after the last TLV",
                           CommandStatus.ESME_RINVTLVSTREAM)
        tag, length = unpack(data, off)
        off += 4
        nxt = off + length
        if nxt > end:
            raise PDUError(f"TLV 0x{tag:04x} of length {length} runs past the PDU end",
                           CommandStatus.ESME_RINVTLVSTREAM)
        spec = _TLV_DECODE.get(tag)
        if spec is None:
            value = data[off:nxt]
            if tag in tlvs:  # a repeated unknown TLV: keep every occurrence, in order
                previous = tlvs[tag]
                value = (previous if type(previous) is list else [previous]) + [value]
            tlvs[tag] = value
            off = nxt
            continue
        name, kind, size, min_size, multi = spec
        if kind == _T_INT:
            if length != size:
                raise _bad_tlv_length(name, length)
            value = data[off] if size == 1 else int.from_bytes(data[off:nxt], "big")
        elif kind == _T_CSTR:
            if length > size:
                raise _bad_tlv_length(name, length)
            # Accept a missing terminator: several SMSCs send receipted_message_id so.
            nul = data.find(_NUL, off, nxt)
            value = data[off:nxt if nul < 0 else nul].decode("latin-1")
        else:
            if not min_size <= length <= size:
                raise _bad_tlv_length(name, length)
            value = data[off:nxt]
        if multi:
            tlvs.setdefault(name, []).append(value)
        elif name in tlvs:
            raise PDUError(f"TLV {name} occurs twice", CommandStatus.ESME_RINVTLVSTREAM)
        else:
            tlvs[name] = value
        off = nxt
    return tlvs


def _bad_tlv_length(name, length):
    return PDUError(f"TLV {name} has length {length}", CommandStatus.ESME_RINVTLVLEN)


def encode_tlvs(tlvs):
    """Encode a TLV dict (as :func:`decode_tlvs` returns it) in its iteration order."""
    parts = []
    append = parts.append
    for key, value in tlvs.items():
        spec = _TLV_ENCODE.get(key)
        if spec is None:
            if type(key) is not int or not 0 <= key <= 0xFFFF:
                raise ValueError(f"unknown TLV {key!r}")
            for raw in (value if type(value) is list else (value,)):
                raw = as_bytes(raw, f"TLV 0x{key:04x}")
                append(_TL.pack(key, len(raw)))
                append(raw)
            continue
        tag, kind, size, min_size, multi, fixed_header = spec
        if multi:
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"TLV {key} takes a list of values")
            values = value
        else:
            values = (value,)
        for item in values:
            if kind == _T_INT:
                append(fixed_header)
                append(item.to_bytes(size, "big"))
                continue
            if kind == _T_CSTR:
                raw = encode_cstring(item, key, size) + _NUL
            else:
                raw = as_bytes(item, key)
                if not min_size <= len(raw) <= size:
                    raise ValueError(f"TLV {key}: {len(raw)} octets, "
                                     f"expected {min_size}..{size}")
            append(_TL.pack(tag, len(raw)))
            append(raw)
    return b"".join(parts)
