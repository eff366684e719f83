"""
The per-account outbox: delivery receipts and MO messages waiting for the
account's client.

Reports are written by the scripts that change message states (and by
`Tracker.deliver_mo`).  A node holding a receiver bind of the account — or the
HTTP callback sender — `take`s them with a lease, `ack`s what the client
confirmed and `release`s what it could not hand over; reports whose lease
lapsed return by `reclaim`.  A report not delivered within the retention
period is moved by `expire` to the account's undelivered archive (never
dropped), where an admin can read it with `undelivered`.  Each new report is
published on the account's wake channel (`keys.outbox_wake`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgpack
from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IOutbox
from gateway.model import Message, State
from gateway.store import keys
from gateway.store.messages import as_bytes
from gateway.store.scripting import DEFAULT_TIMEOUT, call, script

__all__ = ["Report", "Outbox", "DEFAULT_RETENTION"]

DEFAULT_RETENTION = 3 * 86400  # seconds a report waits for its client


@dataclass(slots=True)
class Report:
    """A DLR (``kind`` 'dlr') or an MO message (``kind`` 'mo') for an account's client."""

    kind: str
    id: str
    message_id: str
    state: State
    error: int
    at: int
    message: Message
    #: receipt fields beyond the state, from the provider (the HLR result of an ``hlr`` message)
    extra: dict = field(default_factory=dict)

    @classmethod
    def unpack(cls, blob) -> "Report":
        kind, rid, msg_id, state, error, at, static, text, *rest = msgpack.unpackb(as_bytes(blob), raw=True)
        message = Message.from_static_blob(static, text.decode("utf-8"))
        message.state, message.error = State(state), error
        extra = msgpack.unpackb(rest[0], raw=False) if rest and rest[0] else {}
        return cls(kind.decode(), rid.decode(), msg_id.decode(), message.state, error, at, message, extra)


@implementer(IOutbox)
class Outbox:
    """Reports per account, taken with a lease and acknowledged."""

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT, lease: float = 60.0,
                 retention: float = DEFAULT_RETENTION):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout
        self.lease_ms = int(lease * 1000)
        self.retention_ms = int(retention * 1000)

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    def _run(self, *args) -> defer.Deferred:
        return script("outbox")(self.redis, (self.now_ms(),) + args, self.clock, self.timeout)

    def take(self, account: str, n: int = 100) -> defer.Deferred:
        """Up to ``n`` waiting reports of ``account``, oldest first, leased to the caller."""
        d = self._run("take", account, n, self.lease_ms)
        return d.addCallback(lambda reply: [Report.unpack(b) for b in msgpack.unpackb(as_bytes(reply), raw=True) or ()])

    def ack(self, account: str, report_ids) -> defer.Deferred:
        """The client has the reports: remove them for good."""
        return self._run("ack", account, *report_ids).addCallback(int)

    def release(self, account: str, report_ids) -> defer.Deferred:
        """The reports could not be handed over: make them available again now."""
        return self._run("release", account, *report_ids).addCallback(int)

    def reclaim(self) -> defer.Deferred:
        """Put reports whose lease lapsed back (their taker died or hung)."""
        return self._run("reclaim").addCallback(int)

    def expire(self) -> defer.Deferred:
        """Move reports older than the retention period to the undelivered archive."""
        return self._run("expire", self.retention_ms).addCallback(int)

    def pending(self, account: str) -> defer.Deferred:
        """How many reports of ``account`` wait (taken or not)."""
        return call(self.redis, self.clock, "hlen", keys.outbox_items(account), timeout=self.timeout)

    def undelivered(self, account: str, start: int = 0, count: int = 100) -> defer.Deferred:
        """Reports that outlived the retention period, oldest first."""
        d = call(self.redis, self.clock, "lrange", keys.outbox_undelivered(account), start,
                 start + count - 1, timeout=self.timeout)
        return d.addCallback(lambda blobs: [Report.unpack(b) for b in blobs])

    @staticmethod
    def wake_channel(account: str) -> str:
        """The pub/sub channel published when ``account`` gets a report."""
        return keys.outbox_wake(account)
