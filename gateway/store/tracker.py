"""
Delivery tracking: receipts from providers and incoming (MO) messages.

A provider reports a receipt as ``tracker.report(provider, upstream_id, state,
error_code, at)``.  The tracker maps the upstream id to our message id (the
map is written when the message is sent and expires after the upstream TTL),
records the state change with its time and, when the message asked for it,
puts a DLR in the account's outbox.  Receipts of one reactor turn go to Redis
in one call.  A receipt can overtake the write of its upstream id (an SMSC
may send it right after submit_sm_resp), so an unknown upstream id is tried
again a few times before the receipt is kept in a capped list for inspection.
"""

from __future__ import annotations

import msgpack
from twisted.internet import defer, task
from zope.interface import implementer

from gateway.interfaces import IReportSink
from gateway.logs import Logger
from gateway.model import Direction, IdGenerator, Message, State
from gateway.store import keys
from gateway.store.batching import TurnBatcher
from gateway.store.messages import as_text
from gateway.store.scripting import DEFAULT_TIMEOUT, call, script

__all__ = ["Tracker"]


@implementer(IReportSink)
class Tracker:
    """Applies receipts and stores MO messages; see `IReportSink`."""

    log = Logger()

    def __init__(self, redis, ids: IdGenerator, clock, node: str = "",
                 timeout: float = DEFAULT_TIMEOUT, max_batch: int = 1000,
                 unmatched_retries: int = 3, unmatched_delay: float = 1.0):
        self.redis = redis
        self.ids = ids
        self.clock = clock
        self.node = node
        self.timeout = timeout
        self.unmatched_retries = unmatched_retries
        self.unmatched_delay = unmatched_delay
        self._batcher = TurnBatcher(self._apply, clock, max_batch)

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    def report(self, provider: str, upstream_id: str, state: State, error_code: int = 0,
               at: int | None = None, extra: dict | None = None) -> defer.Deferred:
        """Apply one receipt; fires with our message id, or None if the upstream id is unknown.

        ``extra`` (receipt fields beyond the state: an HLR result) is kept with
        the message and travels with its DLR (`gateway.store.outbox.Report.extra`).
        """
        at = self.now_ms() if at is None else int(at)
        packed = msgpack.packb(extra, use_bin_type=True) if extra else b""
        return self._try((provider, str(upstream_id), int(state), int(error_code), at, packed), 0)

    def _try(self, receipt, tries: int) -> defer.Deferred:
        last = tries >= self.unmatched_retries
        d = self._batcher.add(receipt + (1 if last else 0,))
        if not last:
            d.addCallback(self._again, receipt, tries)
        return d

    def _again(self, msg_id, receipt, tries):
        if msg_id is not None:
            return msg_id
        return task.deferLater(self.clock, self.unmatched_delay, self._try, receipt, tries + 1)

    def _apply(self, receipts) -> defer.Deferred:
        packed = msgpack.packb(receipts, use_bin_type=False)
        d = script("receipt")(self.redis, [self.now_ms(), packed], self.clock, self.timeout)
        return d.addCallback(self._results, receipts)

    def _results(self, reply, receipts) -> list:
        ids = as_text(reply).split(",")
        for msg_id, (provider, upstream_id, *_rest, last) in zip(ids, receipts):
            if not msg_id and last:
                self.log.warn("receipt for unknown upstream id {upstream_id} from {provider}",
                              upstream_id=upstream_id, provider=provider)
        return [msg_id or None for msg_id in ids]

    def lookup(self, provider: str, upstream_id: str) -> defer.Deferred:
        """Our message id for an upstream id (None if unknown or expired)."""
        d = call(self.redis, self.clock, "get", keys.upstream(provider, upstream_id), timeout=self.timeout)
        return d.addCallback(lambda v: as_text(v) if v is not None else None)

    def claim_mo_number(self, number: str, account: str) -> defer.Deferred:
        """MO messages to ``number`` (a short code, a sender name) go to ``account``."""
        return call(self.redis, self.clock, "set", keys.mo_number(number.lstrip("+")), account,
                    timeout=self.timeout)

    @defer.inlineCallbacks
    def deliver_mo(self, provider: str, source: str, destination: str, text: str = "",
                   raw: bytes | None = None, data_coding: int = 0, account: str | None = None,
                   at: int | None = None, extra: dict | None = None):
        """Store an incoming message and queue it for its account's client.

        The account is ``account`` or the one that claimed ``destination``;
        with neither, the message is kept in the MO orphans list.  Fires with
        the stored `Message` (``account`` '' for an orphan).
        """
        if account is None:
            owner = yield call(self.redis, self.clock, "get", keys.mo_number(destination.lstrip("+")),
                               timeout=self.timeout)
            account = as_text(owner)
        now = self.now_ms() if at is None else int(at)
        message = Message(
            id=self.ids.next(now), account=account, destination=destination, text=text,
            source=source, direction=Direction.MO, raw=raw, data_coding=data_coding,
            state=State.DELIVERED, history=[(State.DELIVERED, now)], provider=provider,
            node=self.node, created=now, extra=extra or {},
        )
        yield script("mo")(self.redis, [now, message.id, account, message.static_blob(), text],
                           self.clock, self.timeout)
        if not account:
            self.log.warn("MO {id} from {source} to {destination} claimed by no account",
                          id=message.id, source=source, destination=destination)
        return message
