"""Reassemble concatenated messages from their parts, in any order, with a timeout.

The caller decides what a part is (the payload bytes, or the whole PDU when it needs
message ids) and what identifies a message; usually::

    info = message_part(pdu.params, pdu.tlvs)
    key = (pdu.params["source_addr"], pdu.params["destination_addr"], info.concat.reference)
    parts = reassembler.add(key, info.concat.total, info.concat.seqnum, info.payload)
    if parts is not None:
        text = decode_text(b"".join(parts), pdu.params["data_coding"])

UCS2 parts must be joined as bytes before decoding: another sender may have cut a
surrogate pair between two parts. Time comes from an injected ``IReactorTime`` (``clock``,
e.g. ``twisted.internet.task.Clock`` in tests) or from explicit ``now`` arguments.
"""

__all__ = ["Reassembler"]


class _Group:
    __slots__ = ("total", "parts", "started", "call")

    def __init__(self, total, started):
        self.total = total
        self.parts = {}
        self.started = started
        self.call = None


class Reassembler:
    """Collect parts per key until all ``total`` are present.

    - Duplicate parts (same key and seqnum) are ignored; the first one is kept.
    - A part whose ``total`` disagrees with its group's is ignored.
    - A group incomplete ``timeout`` seconds after its first part expires: with a
      ``clock`` and ``on_expired`` it is reported as ``on_expired(key, {seqnum: part})``
      when the time comes; otherwise :meth:`expire` returns it.
    - At most ``max_pending`` groups are held; the oldest is expired to make room.
    """

    def __init__(self, timeout=600.0, *, clock=None, on_expired=None, max_pending=100_000):
        self.timeout = timeout
        self.clock = clock
        self.on_expired = on_expired
        self.max_pending = max_pending
        self._groups = {}

    def __len__(self):
        return len(self._groups)

    def _now(self, now):
        if now is not None:
            return now
        if self.clock is None:
            raise ValueError("Reassembler needs a clock or an explicit now")
        return self.clock.seconds()

    def add(self, key, total, seqnum, part, now=None):
        """Store one part; return all parts ordered by seqnum once the last one arrives."""
        if total == 1 and seqnum == 1:
            return [part]
        if not 1 <= seqnum <= total:
            raise ValueError(f"part {seqnum} of {total}")
        group = self._groups.get(key)
        if group is None:
            group = self._start(key, total, self._now(now))
        elif group.total != total:
            return None
        group.parts.setdefault(seqnum, part)
        if len(group.parts) < total:
            return None
        self._forget(key, group)
        return [group.parts[i] for i in range(1, total + 1)]

    def _start(self, key, total, now):
        while len(self._groups) >= self.max_pending:
            oldest_key = next(iter(self._groups))
            self._expire_one(oldest_key, self._groups[oldest_key])
        group = self._groups[key] = _Group(total, now)
        if self.clock is not None and self.on_expired is not None:
            group.call = self.clock.callLater(self.timeout, self._expire_one, key, group)
        return group

    def _forget(self, key, group):
        if self._groups.get(key) is group:
            del self._groups[key]
        if group.call is not None and group.call.active():
            group.call.cancel()

    def _expire_one(self, key, group):
        self._forget(key, group)
        if self.on_expired is not None:
            self.on_expired(key, dict(group.parts))

    def expire(self, now=None):
        """Drop the groups older than the timeout; return ``[(key, {seqnum: part})]``."""
        deadline = self._now(now) - self.timeout
        expired = [(key, group) for key, group in self._groups.items()
                   if group.started <= deadline]
        for key, group in expired:
            self._forget(key, group)
        return [(key, dict(group.parts)) for key, group in expired]
