"""
The per-account view of the archive that ``/api/v1`` searches (``GET /messages``).

The archive itself (`gateway.archive`) is written by the store's Lua scripts
in the same run as each message, so every accepted or received message is in
it the moment the client hears OK, and a crash cannot leave one out.  This
module keeps the small interface the HTTP API was built on: `ArchiveIndex`
searches one account's messages of this gateway (records pulled from other
nodes are left out), and `IndexingAcceptor` / `IndexingSink` remain as
pass-through wrappers (with `ArchiveIndex.record` / `flush` doing nothing),
so code that wraps with them keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet import defer
from zope.interface import implementer

from gateway.archive import query as archive_query
from gateway.archive.records import id_prefix
from gateway.interfaces import IAcceptor, IReportSink
from gateway.logs import Logger
from gateway.model import Message
from gateway.store.scripting import DEFAULT_TIMEOUT

__all__ = ["ArchiveIndex", "ArchiveQuery", "IndexingAcceptor", "IndexingSink", "id_prefix"]


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
    """Searches one account's archived messages (see the module docstring)."""

    log = Logger()

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT, max_batch: int = 1000,
                 scan_factor: int = 20):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout
        self.scan_factor = scan_factor
        self.archive = archive_query.Archive(redis, clock, timeout)

    def record(self, message: Message) -> None:
        """Nothing to do: the message was filed in the archive when it was stored."""

    def flush(self) -> defer.Deferred:
        return defer.succeed([])

    def search(self, query: ArchiveQuery) -> defer.Deferred:
        """Fires with ``(messages, next_cursor)``; ``next_cursor`` is None at the end.

        At most ``limit * scan_factor`` index entries are examined per page; a
        page cut short by that says where to go on in ``next_cursor``.
        """
        wanted = archive_query.ArchiveQuery(
            since=query.since, until=query.until, direction=query.direction, accounts=(query.account,),
            numbers=(query.number,) if query.number else (), states=tuple(sorted(query.states)),
            local_only=True, limit=query.limit, cursor=query.cursor,
            budget=max(query.limit * self.scan_factor, 1000))
        d = defer.ensureDeferred(self.archive.search(wanted))
        return d.addCallback(lambda page: ([m for _, m in page.items], page.cursor))


@implementer(IAcceptor)
class IndexingAcceptor:
    """An `IAcceptor` that passes everything to the one it wraps (the archive needs no help)."""

    def __init__(self, acceptor, index: ArchiveIndex):
        self.acceptor = acceptor
        self.index = index

    def __getattr__(self, name):  # add_listener, prepare, router, …: the wrapped acceptor's
        return getattr(self.acceptor, name)

    def accept(self, account, submit, msg_id=None) -> defer.Deferred:
        if msg_id is None:
            return self.acceptor.accept(account, submit)
        return self.acceptor.accept(account, submit, msg_id)

    def accept_many(self, account, submits) -> defer.Deferred:
        return self.acceptor.accept_many(account, submits)

    def accept_part(self, account, submit, reference, total, number) -> defer.Deferred:
        return self.acceptor.accept_part(account, submit, reference, total, number)


@implementer(IReportSink)
class IndexingSink:
    """An `IReportSink` that passes everything to the one it wraps (the archive needs no help)."""

    def __init__(self, sink, index: ArchiveIndex):
        self.sink = sink
        self.index = index

    def __getattr__(self, name):
        return getattr(self.sink, name)

    def report(self, provider, upstream_id, state, error_code=0, at=None, extra=None) -> defer.Deferred:
        if extra is None:
            return self.sink.report(provider, upstream_id, state, error_code, at)
        return self.sink.report(provider, upstream_id, state, error_code, at, extra)

    def deliver_mo(self, provider, source, destination, text="", raw=None, data_coding=0,
                   account=None, at=None, extra=None) -> defer.Deferred:
        return self.sink.deliver_mo(provider, source, destination, text, raw, data_coding,
                                    account, at, extra)
