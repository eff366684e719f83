"""
Long messages that arrive as separate submits (SMPP clients splitting with UDH
or SAR), assembled in Redis.

The first part to arrive fixes the message id for (account, source,
destination, concatenation reference); every part is stored before it is
acknowledged and answered with that id; the part that completes the message
gets it checked (duplicates, balance) and queued.  A message still incomplete
after ``timeout`` seconds is kept as REJECTED with error ESME_RSUBMITFAIL and
what did arrive (`PartAssembler.expire`, run by the dispatcher's housekeeping),
never dropped.  Accounts in ``SINGLE`` mode just `Acceptor.accept` each part.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import msgpack
from twisted.internet import defer

from gateway.model import Account, Submit
from gateway.smpp.constants import CommandStatus as S
from gateway.store.accept import AcceptError, Acceptor
from gateway.store.messages import as_text
from gateway.store.scripting import script

__all__ = ["PartAssembler", "INCOMPLETE"]

#: The error code of a multipart message whose parts did not all arrive.
INCOMPLETE = S.ESME_RSUBMITFAIL


class PartAssembler:
    """Accepts the parts of long messages; see the module docstring."""

    def __init__(self, acceptor: Acceptor, timeout: float = 120.0):
        self.acceptor = acceptor
        self.timeout_ms = int(timeout * 1000)

    def accept_part(self, account: Account, submit: Submit, reference: int, total: int,
                    number: int) -> defer.Deferred:
        """Store part ``number`` (1-based) of ``total``; fires with the message (same id for all parts)."""
        if not (2 <= total <= 255 and 1 <= number <= total):
            return defer.fail(AcceptError(S.ESME_RINVOPTPARAMVAL, f"bad part {number} of {total}"))
        channels = self.acceptor.channels
        if number == 1 and channels is not None and channels.prefixed(submit.text):
            return defer.fail(AcceptError(S.ESME_RINVMSGLEN, "a channel prefix (__MAIL__: …) needs the whole text "
                                                             "in one submit: use message_payload"))
        part = replace(submit, parts=total)
        try:
            message, envelope = self.acceptor.prepare(account, part)
        except AcceptError as e:
            return defer.fail(e)
        envelope = list(envelope)
        envelope[8] = ""  # the text is assembled in Redis
        key = f"{submit.source}\0{submit.destination}\0{reference}".encode()
        digest = hashlib.sha1(key).hexdigest()[:20]
        now = self.acceptor.now_ms()
        args = [now, digest, number, total, now + self.timeout_ms,
                msgpack.packb(envelope, use_bin_type=False), submit.text]
        a = self.acceptor
        d = script("part")(a.redis, args, a.clock, a.timeout)
        return d.addCallback(self._answer, message)

    def _answer(self, reply, message):
        status, msg_id = int(reply[0]), as_text(reply[1])
        if status != 0:
            raise AcceptError(status)
        message.id = msg_id
        if message.provider:
            self.acceptor.notify([message.provider])
        return message

    def expire(self) -> defer.Deferred:
        """Keep incomplete messages past their deadline as REJECTED; fires with the count."""
        a = self.acceptor
        return script("part_expire")(a.redis, [a.now_ms(), int(INCOMPLETE)], a.clock, a.timeout).addCallback(int)
