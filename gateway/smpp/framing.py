"""Cut an SMPP byte stream into PDUs, in the style of Twisted's ``IntNStringReceiver``.

Usage in a protocol::

    def dataReceived(self, data):
        while True:
            try:
                pdus = self.framer.feed(data)
            except PDUError as error:
                for pdu in error.pdus:          # good PDUs that came before the bad one
                    self.pduReceived(pdu)
                self.send(error.response())     # the resp with error.status, or generic_nack
                if not error.intact:
                    self.transport.loseConnection()
                    return
                data = b""                      # carry on after the bad PDU
                continue
            for pdu in pdus:
                self.pduReceived(pdu)
            return

The buffer is offset-based: a chunk holding many PDUs is decoded in place, and only the
unfinished tail is kept (one copy), so large reads cost linear time; a PDU arriving one
octet at a time costs an append per octet.
"""

import struct

from gateway.smpp.codec import HEADER_LENGTH, decode_body
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import PDUError

__all__ = ["Framer", "DEFAULT_MAX_LENGTH"]

#: Large enough for a 64 KiB message_payload plus the mandatory part and other TLVs.
DEFAULT_MAX_LENGTH = 70_000

_LENGTH = struct.Struct(">I")
_HEADER = struct.Struct(">IIII")


class Framer:
    """Turn arbitrary chunks of an SMPP stream into decoded :class:`PDU` objects."""

    def __init__(self, max_length=DEFAULT_MAX_LENGTH):
        if max_length < HEADER_LENGTH:
            raise ValueError(f"max_length {max_length} is below the 16-octet header")
        self.max_length = max_length
        self._pending = bytearray()
        self._broken = None

    @property
    def buffered(self):
        """Octets received but not yet part of a complete PDU."""
        return len(self._pending)

    def feed(self, data):
        """Add ``data``; return the PDUs it completes, in order.

        Raises :class:`PDUError` for a bad PDU, with the PDUs decoded before it in
        ``error.pdus``. If ``error.intact``, the bad PDU has been skipped and the rest of
        the data stays buffered: call ``feed(b"")`` to continue. Otherwise (a
        command_length below 16 or above ``max_length``) the stream cannot be resynchronised
        and every later call raises again.
        """
        if self._broken is not None:
            raise self._failure(self._broken)
        pending = self._pending
        if pending:
            pending += data
            if len(pending) < HEADER_LENGTH:
                length = _LENGTH.unpack_from(pending)[0] if len(pending) >= 4 else None
                if length is None or HEADER_LENGTH <= length <= self.max_length:
                    return []
            else:
                length = _LENGTH.unpack_from(pending)[0]
                if HEADER_LENGTH <= length <= self.max_length and len(pending) < length:
                    return []
            data = bytes(pending)
            pending.clear()
        elif type(data) is not bytes:
            data = bytes(data)
        return self._split(data)

    def _split(self, data):
        pdus = []
        off, size = 0, len(data)
        max_length = self.max_length
        unpack_header = _HEADER.unpack_from
        while size - off >= 4:
            length = _LENGTH.unpack_from(data, off)[0]
            if length < HEADER_LENGTH or length > max_length:
                self._broken = self._framing_error(data, off, length)
                raise self._failure(self._broken, pdus)
            if size - off < length:
                break
            _, cid, status, seq = unpack_header(data, off)
            try:
                pdus.append(decode_body(data, off + HEADER_LENGTH, off + length, cid, status, seq))
            except PDUError as error:
                self._pending += memoryview(data)[off + length:]
                error.pdus = pdus
                raise
            off += length
        if off < size:
            self._pending += memoryview(data)[off:]
        return pdus

    def _framing_error(self, data, off, length):
        limit = "below 16" if length < HEADER_LENGTH else f"above {self.max_length}"
        seq = cid = None
        if len(data) - off >= HEADER_LENGTH:
            _, cid, _, seq = _HEADER.unpack_from(data, off)
        return PDUError(f"command_length {length} is {limit}", CommandStatus.ESME_RINVCMDLEN,
                        sequence_number=seq, command_id=cid, intact=False)

    @staticmethod
    def _failure(error, pdus=()):
        """A fresh copy of the sticky framing error (exceptions should not be re-raised twice)."""
        copy = PDUError(str(error), error.status, sequence_number=error.sequence_number,
                        command_id=error.command_id, intact=False)
        copy.pdus = list(pdus)
        return copy
