"""
Per-provider message queues in Redis, with reliable hand-off.

A message waits in its provider's *ready* queue (higher priority first, FIFO
within a priority) or *delayed* queue (schedule, quiet hours, retry backoff).
A dispatcher `take`s a batch into *in-flight*, tagged with its owner id; the
owner keeps a lease alive with `renew`.  When a lease lapses (the process
died or hung), `reap` — run by any node — puts that owner's in-flight messages
back on their ready queues.  `settle` applies send outcomes: sent (state
ENROUTE, upstream ids mapped), temporary error (retry later with backoff, or
dead-letter after ``max_attempts``), permanent error (fail over to the next
provider of the message's route; UNDELIVERABLE when none is left).

Times are epoch milliseconds from the injected clock, passed to the scripts.
"""

from __future__ import annotations

import msgpack
from twisted.internet import defer

from gateway.model import Message, Outcome, SendResult
from gateway.store import keys
from gateway.store.messages import as_bytes, as_text
from gateway.store.scripting import DEFAULT_TIMEOUT, call, script

__all__ = ["Queues", "LeaseLost", "DEFAULT_UPSTREAM_TTL", "DEFAULT_MAX_ATTEMPTS"]

DEFAULT_UPSTREAM_TTL = 3 * 86400   # seconds an upstream id stays mapped (receipts come later)
DEFAULT_MAX_ATTEMPTS = 10

_KINDS = {Outcome.SENT: "sent", Outcome.TEMPORARY: "retry", Outcome.PERMANENT: "fail"}


class LeaseLost(Exception):
    """The owner's lease had lapsed (its in-flight messages may have been reaped); renew first."""

    def __init__(self, owner: str):
        super().__init__(f"lease of {owner!r} lapsed")
        self.owner = owner


class Queues:
    """Queue operations for all providers; stateless apart from configuration."""

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT,
                 upstream_ttl: int = DEFAULT_UPSTREAM_TTL, max_attempts: int = DEFAULT_MAX_ATTEMPTS):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout
        self.upstream_ttl = upstream_ttl
        self.max_attempts = max_attempts

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    def _run(self, name: str, *args) -> defer.Deferred:
        return script(name)(self.redis, args, self.clock, self.timeout)

    def renew(self, owner: str, lease_ms: int) -> defer.Deferred:
        """Extend ``owner``'s lease to now + ``lease_ms``; fires False if it had lapsed."""
        return self._run("renew", self.now_ms(), owner, lease_ms).addCallback(lambda r: int(r) == 1)

    def take(self, owner: str, provider: str, n: int) -> defer.Deferred:
        """Up to ``n`` ready messages of ``provider``, now in flight for ``owner``.

        Fails with `LeaseLost` if ``owner`` holds no live lease.
        """
        d = self._run("take", self.now_ms(), owner, provider, n)
        return d.addCallback(self._taken, owner)

    @staticmethod
    def _taken(reply, owner) -> list[Message]:
        if reply is None:
            raise LeaseLost(owner)
        messages = []
        for item in msgpack.unpackb(as_bytes(reply), raw=True) or ():
            msg_id, blob, text, attempts, index = item
            message = Message.from_static_blob(blob, text.decode("utf-8"))
            message.attempts = attempts
            if index < len(message.route):
                message.provider = message.route[index]
            messages.append(message)
        return messages

    def settle(self, owner: str, outcomes) -> defer.Deferred:
        """Apply ``[(message_id, SendResult, retry_due_ms), ...]``; fires with a bool per outcome.

        False means the message was no longer in flight for ``owner`` (it was
        reaped); a successful send is recorded all the same.
        """
        batch = [(msg_id, _KINDS[r.outcome], r.error_code, due, list(r.upstream_ids))
                 for msg_id, r, due in outcomes]
        packed = msgpack.packb(batch, use_bin_type=False)
        d = self._run("settle", self.now_ms(), owner, self.upstream_ttl, self.max_attempts, packed)
        return d.addCallback(lambda reply: [flag == "1" for flag in as_text(reply).split(",")])

    def promote(self, provider: str, limit: int = 1000) -> defer.Deferred:
        """Move due delayed messages to ready (expired ones to EXPIRED); fires with the count."""
        return self._run("promote", self.now_ms(), provider, limit).addCallback(int)

    def reap(self) -> defer.Deferred:
        """Return the in-flight messages of every owner whose lease lapsed; fires with the count."""
        return self._run("reap", self.now_ms(), "").addCallback(int)

    def return_orphans(self, owner: str, provider: str, known) -> defer.Deferred:
        """Return ``provider``'s in-flight messages held by ``owner`` other than ``known`` (the
        ids it is still sending or settling) to the ready queue; fires with the count.

        For an owner that lost the reply of a `take`: Redis may have run it, and the
        messages it moved would otherwise stay in flight under a lease that never lapses.
        """
        return self._run("orphans", self.now_ms(), owner, provider, *known).addCallback(int)

    def release(self, owner: str) -> defer.Deferred:
        """A clean stop: return ``owner``'s in-flight messages now and drop its lease."""
        return self._run("reap", self.now_ms(), owner).addCallback(int)

    def providers(self) -> defer.Deferred:
        """Names of providers that have (had) queued messages."""
        d = call(self.redis, self.clock, "smembers", keys.PROVIDERS, timeout=self.timeout)
        return d.addCallback(lambda names: sorted(as_text(n) for n in names))

    @defer.inlineCallbacks
    def depth(self, provider: str):
        """``{"ready": n, "delayed": n, "inflight": n}`` for ``provider``."""
        ready, delayed, inflight = yield defer.gatherResults([
            call(self.redis, self.clock, "zcard", keys.ready(provider), timeout=self.timeout),
            call(self.redis, self.clock, "zcard", keys.delayed(provider), timeout=self.timeout),
            call(self.redis, self.clock, "hlen", keys.inflight(provider), timeout=self.timeout),
        ], consumeErrors=True).addErrback(lambda f: f.value.subFailure)
        return {"ready": int(ready), "delayed": int(delayed), "inflight": int(inflight)}

    def dead(self, start: int = 0, count: int = 100) -> defer.Deferred:
        """Dead-lettered messages, oldest first: ``[(message_id, dead_since_ms), ...]``."""
        d = call(self.redis, self.clock, "zrange", keys.DEAD, start, start + count - 1, True,
                 timeout=self.timeout)
        return d.addCallback(lambda pairs: [(as_text(i), int(float(s))) for i, s in pairs])

    def retry_dead(self, ids) -> defer.Deferred:
        """Put dead-lettered messages back on their queues with a fresh attempt count."""
        return self._run("dead", self.now_ms(), "retry", *ids).addCallback(int)

    def drop_dead(self, ids) -> defer.Deferred:
        """Give up on dead-lettered messages: UNDELIVERABLE (with a DLR if asked)."""
        return self._run("dead", self.now_ms(), "drop", *ids).addCallback(int)

    @staticmethod
    def outcome(message_id: str, result: SendResult, retry_due_ms: int = 0):
        """One entry for `settle`."""
        return (message_id, result, retry_due_ms)
