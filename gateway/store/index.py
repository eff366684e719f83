"""
The archive index: which messages an account sent and received, in time order.

Message ids start with their creation time in base 36 (`gateway.model.IdGenerator`),
so a zset of ids with score 0 read in lexicographic order *is* a time index,
and a period is a range of id prefixes.  Two indexes per account: all of its
messages (``keys.archive``) and those of one phone number
(``keys.archive_number``: the destination of an MT, the source of an MO).
Direction and state are filtered while reading.

The index is written after the message itself, by `IndexingAcceptor` (wraps
the `IAcceptor` the SMPP server and the HTTP API share) and `IndexingSink`
(wraps the `IReportSink` providers hand MO messages to), batched per reactor
turn into one run of ``index.lua``.  A gateway killed between the two writes
leaves that message out of the index (it is still stored, sent and tracked);
a failed index write is logged, never turned into a refusal of a message
Redis already holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgpack
from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IAcceptor, IReportSink
from gateway.logs import Logger
from gateway.model import Direction, Message
from gateway.store import keys
from gateway.store.batching import TurnBatcher
from gateway.store.messages import message_from_hash
from gateway.store.scripting import DEFAULT_TIMEOUT, call, script

__all__ = ["ArchiveIndex", "ArchiveQuery", "IndexingAcceptor", "IndexingSink", "id_prefix"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def id_prefix(ms: int) -> str:
    """The first 9 characters of every message id created at ``ms`` (epoch ms)."""
    digits = []
    for _ in range(9):
        ms, r = divmod(ms, 36)
        digits.append(_ALPHABET[r])
    return "".join(reversed(digits))


def phone_of(message: Message) -> str:
    """The phone number a message is filed under: MT destination, MO source."""
    number = message.source if message.direction == Direction.MO else message.destination
    return (number or "").lstrip("+")


@dataclass
class ArchiveQuery:
    """One page of an archive search: newest first, ``cursor`` continues a previous page."""

    account: str
    since: int | None = None   # epoch ms, inclusive
    until: int | None = None   # epoch ms, inclusive
    direction: str | None = None
    number: str | None = None
    states: frozenset = field(default_factory=frozenset)
    limit: int = 100
    cursor: str | None = None


class ArchiveIndex:
    """Writes and searches the per-account time index."""

    log = Logger()

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT, max_batch: int = 1000,
                 scan_factor: int = 20):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout
        self.scan_factor = scan_factor
        self._batcher = TurnBatcher(self._write, clock, max_batch)

    def record(self, message: Message) -> defer.Deferred:
        """Index one stored message (batched with the others of this reactor turn)."""
        return self._batcher.add((message.account, message.id, phone_of(message)))

    def _write(self, entries) -> defer.Deferred:
        packed = msgpack.packb(entries, use_bin_type=False)
        d = script("index")(self.redis, [packed], self.clock, self.timeout)
        return d.addCallback(lambda _: [True] * len(entries))

    def _call(self, method, *args) -> defer.Deferred:
        return call(self.redis, self.clock, method, *args, timeout=self.timeout)

    @defer.inlineCallbacks
    def search(self, query: ArchiveQuery):
        """Fires with ``(messages, next_cursor)``; ``next_cursor`` is None at the end.

        Reads ids newest first in chunks and filters them; stops when the page
        is full or after examining ``limit * scan_factor`` ids (then the cursor
        says where to go on), so a rare filter cannot make one request long.
        """
        key = (keys.archive_number(query.account, query.number) if query.number
               else keys.archive(query.account))
        upper = ("(" + query.cursor if query.cursor
                 else "(" + id_prefix(query.until + 1) if query.until is not None else "+")
        lower = "[" + id_prefix(query.since) if query.since is not None else "-"
        found, budget, chunk = [], query.limit * self.scan_factor, max(query.limit, 50)
        while budget > 0:
            ids = yield self._call("execute_command", "ZREVRANGEBYLEX", key, upper, lower,
                                   "LIMIT", 0, min(chunk, budget))
            ids = [i.decode() if isinstance(i, bytes) else i for i in ids or ()]
            if not ids:
                return found, None
            budget -= len(ids)
            messages = yield self._load(ids)
            for msg_id, message in zip(ids, messages):
                if message is not None and _matches(message, query):
                    found.append(message)
                    if len(found) == query.limit:
                        return found, msg_id
            upper = "(" + ids[-1]
        return found, upper[1:]

    def _load(self, ids) -> defer.Deferred:
        ds = [self._call("hgetall", keys.message(i)) for i in ids]
        d = defer.gatherResults(ds, consumeErrors=True)
        d.addErrback(lambda f: f.value.subFailure)
        return d.addCallback(lambda rows: [message_from_hash(r) if r else None for r in rows])


def _matches(message: Message, query: ArchiveQuery) -> bool:
    if query.direction and message.direction.value != query.direction:
        return False
    if query.states and message.state.name not in query.states:
        return False
    return True


@implementer(IAcceptor)
class IndexingAcceptor:
    """An `IAcceptor` that files every accepted message in the archive index."""

    log = Logger()

    def __init__(self, acceptor, index: ArchiveIndex):
        self.acceptor = acceptor
        self.index = index

    def __getattr__(self, name):  # add_listener, prepare, router, …: the wrapped acceptor's
        return getattr(self.acceptor, name)

    def accept(self, account, submit) -> defer.Deferred:
        return self.acceptor.accept(account, submit).addCallback(self._indexed)

    def accept_part(self, account, submit, reference, total, number) -> defer.Deferred:
        d = self.acceptor.accept_part(account, submit, reference, total, number)
        return d.addCallback(self._indexed)

    def _indexed(self, message):
        if not isinstance(message, Message):
            return message
        d = self.index.record(message)
        d.addErrback(lambda f: self.log.warn("message {id} not indexed: {error}",
                                             id=message.id, error=f.getErrorMessage()))
        return d.addCallback(lambda _: message)


@implementer(IReportSink)
class IndexingSink:
    """An `IReportSink` that files every incoming (MO) message in the archive index."""

    log = Logger()

    def __init__(self, sink, index: ArchiveIndex):
        self.sink = sink
        self.index = index

    def __getattr__(self, name):
        return getattr(self.sink, name)

    def report(self, provider, upstream_id, state, error_code=0, at=None) -> defer.Deferred:
        return self.sink.report(provider, upstream_id, state, error_code, at)

    def deliver_mo(self, provider, source, destination, text="", raw=None, data_coding=0,
                   account=None, at=None, extra=None) -> defer.Deferred:
        d = self.sink.deliver_mo(provider, source, destination, text, raw, data_coding,
                                 account, at, extra)
        return d.addCallback(self._indexed)

    def _indexed(self, message):
        if not message.account:
            return message
        d = self.index.record(message)
        d.addErrback(lambda f: self.log.warn("MO {id} not indexed: {error}",
                                             id=message.id, error=f.getErrorMessage()))
        return d.addCallback(lambda _: message)
