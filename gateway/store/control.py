"""
Changing a message after it was accepted, while it still waits in its queue:
SMPP cancel_sm (→ DELETED, with a DLR if the client asked) of one message or of
every waiting message from a source to a destination, and replace_sm (new
text, schedule, validity, registered_delivery).  A message already taken by a
dispatcher, sent upstream, final or dead-lettered cannot be changed any more;
``control.lua`` checks that atomically with the change.
"""

from __future__ import annotations

from typing import NamedTuple

from twisted.internet import defer

from gateway.model import Message
from gateway.smpp.constants import CommandStatus
from gateway.store.scripting import DEFAULT_TIMEOUT, script

__all__ = ["MessageControl", "ControlError", "Cancelled", "CANCEL_LIMIT", "CANCEL_BUDGET"]

#: cancel_sm by source and destination cancels at most this many messages in one call
#: (one script run, which blocks Redis while it runs: each limit costs a few tenths of a
#: second at most) ...
CANCEL_LIMIT = 10_000
#: ... and examines at most this many entries of the archive's number index.
CANCEL_BUDGET = 50_000


class ControlError(Exception):
    """The message cannot be cancelled / replaced; ``status`` is the SMPP command_status."""

    def __init__(self, status: int, message_id: str):
        self.status = CommandStatus(status)
        self.message_id = message_id
        super().__init__(f"{message_id}: {self.status.name}")


class Cancelled(NamedTuple):
    """What `MessageControl.cancel_matching` did: ``complete`` is False when it stopped at
    its limit or budget, with more messages possibly left to cancel."""

    count: int
    examined: int
    complete: bool


class MessageControl:
    """cancel / replace of queued messages, checked against the owning account."""

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    def _run(self, action: str, account: str, msg_id: str, *args) -> defer.Deferred:
        d = script("control")(self.redis, [self.now_ms(), action, account, msg_id, *args], self.clock,
                              self.timeout)
        return d.addCallback(self._status, msg_id)

    @staticmethod
    def _status(reply, msg_id: str) -> None:
        status = int(reply)
        if status:
            raise ControlError(status, msg_id)

    def cancel(self, account: str, msg_id: str, source: str | None = None,
               destination: str = "") -> defer.Deferred:
        """Cancel ``msg_id`` of ``account``: DELETED, taken off its queue; fails with `ControlError`.

        Given a ``source`` (SMPP cancel_sm), it must be the message's, and ``destination``
        too unless empty (numbers compared without a leading '+'); else ESME_RCANCELFAIL.
        """
        check = "0" if source is None else "1"
        return self._run("cancel", account, msg_id, check, source or "", destination)

    def cancel_matching(self, account: str, source: str, destination: str, service_type: str = "",
                        limit: int = CANCEL_LIMIT, budget: int = CANCEL_BUDGET) -> defer.Deferred:
        """Cancel every waiting MT message of ``account`` from ``source`` to ``destination``
        (and of ``service_type`` unless empty), as `cancel` does each; fires with `Cancelled`.

        One atomic script run over the archive's number index (see ``control.lua``).
        """
        args = [self.now_ms(), "cancel_matching", account, source, destination, service_type, limit, budget]
        d = script("control")(self.redis, args, self.clock, self.timeout)
        return d.addCallback(lambda reply: Cancelled(int(reply[0]), int(reply[1]), bool(int(reply[2]))))

    def replace(self, message: Message, *, validity: int | None = None,
                registered_delivery: int | None = None, due: int | None = None) -> defer.Deferred:
        """Store ``message`` (text and static fields) in place of the queued one of the same id.

        ``validity`` (epoch ms, 0 for none), ``registered_delivery`` and ``due``
        (when it may be sent, epoch ms) are changed only when given.
        """
        def given(value):
            return "" if value is None else int(value)

        return self._run("replace", message.account, message.id, message.static_blob(), message.text,
                         given(validity), given(registered_delivery), given(due))
