"""
Searching the archive.

The indexes are per UTC day (see `gateway.store.keys`), so a search walks only
the days of its period, newest first (or oldest first), and within a day only
the smallest index among its single-value filters (``archive_scan.lua`` picks
it by counting, then checks the other filters by set membership; a number's
index is its range in the day's number index, plus the key per number that
earlier versions wrote).  State and
channel have no index of their own (writing and moving those entries cost more
on every message than they saved searches): they are checked on the messages
of the index walked.  The work of a search is therefore bounded by the
narrowest indexed filter within the period, never by the size of the whole
archive, and in any case by ``budget`` index entries: a search that spends its
budget answers with what it found and a cursor to go on from (``partial``).
Every `Page` says how many entries it examined.

Text (``text`` query: a case-insensitive substring of the text or of the ``~~~``
comment) is matched here, on the messages the indexes let through.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgpack
from twisted.internet import defer

from gateway.archive.records import day_of, id_prefix, ms_of_id
from gateway.model import Message, State
from gateway.store import keys
from gateway.store.messages import as_bytes, as_text, message_from_hash
from gateway.store.scripting import DEFAULT_TIMEOUT, call, script

__all__ = ["Archive", "ArchiveQuery", "Page", "BadQuery", "DEFAULT_BUDGET", "archived_message"]

DEFAULT_BUDGET = 20_000


class BadQuery(ValueError):
    """A search that cannot be run as asked (``field`` names the parameter)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass
class ArchiveQuery:
    """What to look for.  Times are epoch ms (inclusive); empty tuples mean any value.

    ``origins`` names nodes records were pulled from; ``""`` stands for this
    gateway's own messages (those of every node sharing its Redis).
    """

    since: int | None = None
    until: int | None = None
    direction: str | None = None
    accounts: tuple = ()
    numbers: tuple = ()
    states: tuple = ()
    channels: tuple = ()
    origins: tuple = ()
    text: str = ""
    local_only: bool = False
    newest_first: bool = True
    limit: int = 100
    cursor: str | None = None
    budget: int = DEFAULT_BUDGET

    def groups(self) -> list:
        """The index filters: ``[[field, [values]], ...]`` (see ``archive_scan.lua``)."""
        out = []
        if self.direction:  # only incoming messages have a direction index: MT is "not MO"
            out.append(["d", ["MO"]] if self.direction == "MO" else ["-d", ["MO"]])
        for name, values in (("a", self.accounts), ("n", [n.lstrip("+") for n in self.numbers]),
                             ("s", [int(State[s]) if isinstance(s, str) else int(s) for s in self.states]),
                             ("c", self.channels), ("o", self.origins)):
            if values:
                out.append([name, [str(v) for v in values]])
        return out


@dataclass
class Page:
    """One page of results: ``(key, Message)`` pairs and where to go on."""

    items: list = field(default_factory=list)
    cursor: str | None = None
    examined: int = 0
    partial: bool = False


class Archive:
    """Reads the archive: search, one record, the change feed; stores pulled records."""

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout

    def _call(self, method, *args) -> defer.Deferred:
        return call(self.redis, self.clock, method, *args, timeout=self.timeout)

    def _run(self, name, *args) -> defer.Deferred:
        return script(name)(self.redis, args, self.clock, self.timeout)

    async def get(self, key: str) -> Message | None:
        """The message archived under ``key`` (an id, or ``id@origin``), or None."""
        fields = await self._call("hgetall", keys.message(key))
        return archived_message(fields) if fields and b"d" in _keys_of(fields) else None

    async def load(self, members) -> list:
        """``(key, Message)`` for each member still stored, in order."""
        if not members:
            return []
        ds = [self._call("hgetall", keys.message(m)) for m in members]
        rows = await defer.gatherResults(ds, consumeErrors=True).addErrback(lambda f: f.value.subFailure)
        return [(m, archived_message(r)) for m, r in zip(members, rows) if r and b"d" in _keys_of(r)]

    async def days(self, query: ArchiveQuery) -> list[int]:
        """The days that have messages within the query's period (and before/after its cursor)."""
        low = day_of(query.since) if query.since is not None else "-inf"
        high = day_of(query.until) if query.until is not None else "+inf"
        at = ms_of_id(query.cursor) if query.cursor else None
        if at is not None:
            if query.newest_first:
                high = day_of(at) if high == "+inf" else min(high, day_of(at))
            else:
                low = day_of(at) if low == "-inf" else max(low, day_of(at))
        if query.newest_first:
            found = await self._call("zrevrangebyscore", keys.ARCHIVE_DAYS, high, low)
        else:
            found = await self._call("zrangebyscore", keys.ARCHIVE_DAYS, low, high)
        return [int(as_text(d)) for d in found]

    def bounds(self, query: ArchiveQuery) -> tuple[str, str]:
        """The ZRANGEBYLEX ``(max, min)`` of the query's period and cursor."""
        high = "(" + id_prefix(query.until + 1) if query.until is not None else "+"
        low = "[" + id_prefix(query.since) if query.since is not None else "-"
        if query.cursor:
            if query.newest_first:
                high = "(" + query.cursor if high == "+" or query.cursor < high[1:] else high
            else:
                low = "(" + query.cursor if low == "-" or query.cursor >= low[1:] else low
        return high, low

    async def search(self, query: ArchiveQuery) -> Page:
        """One page of messages matching ``query``; see the module docstring."""
        if query.limit < 1:
            raise BadQuery("limit must be at least 1", "limit")
        groups = msgpack.packb(query.groups(), use_bin_type=False)
        page, budget = Page(), query.budget
        high, low = self.bounds(query)
        needle = query.text.casefold()
        days = await self.days(query)
        for n, day in enumerate(days):
            while True:
                if budget <= 0:
                    page.partial = True
                    return page
                step = await self._scan(day, query, high, low, query.limit - len(page.items), budget, groups)
                exhausted, last, examined, members = step
                budget -= examined
                page.examined += examined
                loaded = await self.load(members)
                page.examined += len(members)
                page.items += [(k, m) for k, m in loaded if not needle or _has_text(m, needle)]
                if last:
                    page.cursor = last
                    high, low = (("(" + last, low) if query.newest_first else (high, "(" + last))
                if len(page.items) >= query.limit:
                    if exhausted and n == len(days) - 1:
                        page.cursor = None
                    return page
                if exhausted:
                    break
            high, low = self.bounds(ArchiveQuery(since=query.since, until=query.until))
        page.cursor = None
        return page

    async def _scan(self, day, query, high, low, limit, budget, groups):
        reply = await self._run("archive_scan", day, "desc" if query.newest_first else "asc", high, low,
                                limit, max(1, budget), "1" if query.local_only else "0", groups)
        exhausted, last, examined, _count = reply[:4]
        return int(exhausted) == 1, as_text(last), int(examined), [as_text(m) for m in reply[4:]]

    async def changes(self, after: int, limit: int, account: str = "", budget: int = 5000):
        """The change feed after sequence ``after``: ``([(key, seq, Message)], next_after, examined)``."""
        reply = await self._run("archive_changes", after, limit, budget, account)
        last, examined, flat = int(float(as_text(reply[0]))), int(reply[1]), reply[2:]
        members = [as_text(m) for m in flat[0::2]]
        seqs = {as_text(m): int(float(as_text(s))) for m, s in zip(flat[0::2], flat[1::2])}
        loaded = await self.load(members)
        return [(k, seqs[k], m) for k, m in loaded], last, examined

    async def put(self, origin: str, messages) -> tuple[int, int]:
        """Store messages pulled from node ``origin``; fires with ``(added, updated)``."""
        rows = [(m.id, m.static_blob(), m.text, int(m.state),
                 " ".join(f"{int(s)}@{at}" for s, at in m.history), m.provider, m.error, m.comment)
                for m in messages]
        if not rows:
            return 0, 0
        reply = await self._run("archive_put", origin, msgpack.packb(rows, use_bin_type=False))
        return int(reply[0]), int(reply[1])


def archived_message(fields: dict) -> Message:
    """A `Message` from its hash, with the receipt's extra fields (an HLR result) as ``extra["receipt"]``."""
    message = message_from_hash(fields)
    raw = fields.get("rx", fields.get(b"rx"))
    if raw:
        try:
            receipt = msgpack.unpackb(as_bytes(raw), raw=False)
        except (ValueError, msgpack.UnpackException):
            receipt = None
        if isinstance(receipt, dict):
            message.extra = {**message.extra, "receipt": receipt}
    return message


def _keys_of(fields: dict) -> set:
    return {k if isinstance(k, bytes) else str(k).encode() for k in fields}


def _has_text(message: Message, needle: str) -> bool:
    return needle in message.text.casefold() or needle in message.comment.casefold()
