"""Encode and decode SMPP PDUs, driven by the tables in :mod:`gateway.smpp.tables`.

- ``decode(data) -> PDU`` takes exactly one PDU (header included).
- ``decode_at(data, off, length) -> PDU`` decodes in place from a larger buffer, and
  ``decode_body`` does so once the header is read (the :class:`~gateway.smpp.framing.Framer`
  reads it), so that no PDU is copied out first.
- ``encode(pdu) -> bytes``.

Mandatory parameters are handled by per-command functions generated from the tables
(:mod:`gateway.smpp.codegen`), TLVs by :mod:`gateway.smpp.tlv`. Bad input raises
:class:`~gateway.smpp.pdu.PDUError` carrying the status to answer with:

=========================  ===========================================================
``ESME_RINVCMDID``         unknown command_id
``ESME_RINVCMDLEN``        the body ends inside the mandatory parameters
``ESME_RINVPARLEN``        a C-Octet String longer than its maximum
``ESME_RINVDESTFLAG``      a submit_multi dest_flag other than 1 or 2
``ESME_RINVTLVSTREAM``     a TLV header or value running past the end, a repeated TLV
``ESME_RINVTLVLEN``        a known TLV with a length its type does not allow
``ESME_RMISSINGTLV``       an SMPP 5.0 mandatory TLV is absent
=========================  ===========================================================

``encode`` raises ``ValueError`` for values that cannot be put on the wire.
"""

import struct

from gateway.smpp.codegen import DECODERS as _DECODERS
from gateway.smpp.codegen import ENCODERS as _ENCODERS
from gateway.smpp.codegen import HEADER as _HEADER
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.pdu import PDUError

__all__ = ["encode", "decode", "decode_at", "decode_body", "HEADER_LENGTH", "COMMANDS"]

HEADER_LENGTH = 16
#: Every command the codec knows.
COMMANDS = tuple(CommandId(cid) for cid in _DECODERS)
_Status = CommandStatus
_unpack_header = _HEADER.unpack_from


def decode(data):
    """Decode one complete PDU (header included) from ``data``."""
    try:  # the common case first: a bytes object holding one known, well-sized PDU
        length, cid, status, seq = _unpack_header(data)
        if length == len(data) and type(data) is bytes:
            return _DECODERS[cid](data, HEADER_LENGTH, length, status, seq)
    except PDUError as error:
        error.sequence_number, error.command_id = seq, cid
        raise
    except (struct.error, KeyError, TypeError):
        pass
    return _decode_checked(data)


def _decode_checked(data):
    """:func:`decode` for anything but the common case: report why, or convert and retry."""
    data = bytes(data)
    size = len(data)
    if size < HEADER_LENGTH:
        raise PDUError(f"{size} octets is shorter than a PDU header",
                       _Status.ESME_RINVCMDLEN, intact=False)
    length, cid, status, seq = _unpack_header(data)
    if length != size:
        raise PDUError(f"command_length {length} but {size} octets given",
                       _Status.ESME_RINVCMDLEN, sequence_number=seq, command_id=cid,
                       intact=False)
    return decode_body(data, HEADER_LENGTH, size, cid, status, seq)


def decode_at(data, off, length):
    """Decode the PDU of ``length`` octets at ``data[off:]`` (``data`` must be bytes).

    The caller has checked that ``length >= 16`` and that all the octets are present.
    """
    _, cid, status, seq = _HEADER.unpack_from(data, off)
    return decode_body(data, off + HEADER_LENGTH, off + length, cid, status, seq)


def decode_body(data, off, end, command_id, command_status, sequence_number):
    """Decode the body ``data[off:end]`` of a PDU whose header fields are already read."""
    try:
        return _DECODERS[command_id](data, off, end, command_status, sequence_number)
    except KeyError:
        if command_id in _DECODERS:
            raise
        raise _unknown(command_id, sequence_number) from None
    except PDUError as error:
        error.sequence_number, error.command_id = sequence_number, command_id
        raise


def _unknown(command_id, sequence_number):
    return PDUError(f"unknown command_id 0x{command_id:08x}", _Status.ESME_RINVCMDID,
                    sequence_number=sequence_number, command_id=command_id)


def encode(pdu):
    """Encode ``pdu`` to wire bytes; ``ValueError`` names the value that does not fit."""
    try:
        return _ENCODERS[pdu.command_id](pdu)
    except KeyError:
        if pdu.command_id in _ENCODERS:
            raise
        raise ValueError(f"cannot encode command_id {pdu.command_id!r}") from None
    except (struct.error, OverflowError, TypeError, AttributeError) as error:
        raise ValueError(f"cannot encode {pdu!r}: {error}") from error
