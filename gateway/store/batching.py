"""
Turn batching: requests made during one reactor turn are sent to Redis as one
call (one script run over an array), and each caller gets its own result.
This is what lets one core accept tens of thousands of messages a second.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.python.failure import Failure

__all__ = ["TurnBatcher"]


class TurnBatcher:
    """Collects items for one reactor turn, then calls ``send(items)`` once per chunk.

    ``send`` returns a Deferred firing with one result per item, in order; a
    result that is an Exception instance fails that item's Deferred only.  A
    failure of the whole call fails every item of the chunk.
    """

    def __init__(self, send, clock, max_batch: int = 1000):
        self._send = send
        self._clock = clock
        self.max_batch = max_batch
        self._items: list = []
        #: per item: its Deferred, or (group, index) for an item of `add_many`
        self._waiting: list = []
        self._call = None

    def add(self, item) -> defer.Deferred:
        d = defer.Deferred()
        self._items.append(item)
        self._waiting.append(d)
        if self._call is None:
            self._call = self._clock.callLater(0, self.flush)
        return d

    def add_many(self, items) -> defer.Deferred:
        """Add several items; one Deferred fires with their results in order, each a result
        or an Exception instance (a failure of the whole call is each item's exception), so
        that a caller with many items pays for one Deferred rather than one per item."""
        group = _Group(len(items))
        for n, item in enumerate(items):
            self._items.append(item)
            self._waiting.append((group, n))
        if items and self._call is None:
            self._call = self._clock.callLater(0, self.flush)
        return group.done

    def flush(self) -> None:
        """Send what has been collected now (normally called by the reactor)."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        items, waiting = self._items, self._waiting
        self._items, self._waiting = [], []
        for start in range(0, len(items), self.max_batch):
            end = start + self.max_batch
            self._send_chunk(items[start:end], waiting[start:end])

    def _send_chunk(self, items, waiting) -> None:
        try:
            d = self._send(items)
        except Exception:  # a bug in send(): every caller still gets an answer
            d = defer.fail(Failure())
        d.addCallbacks(self._answer, self._fail, (waiting,), None, (waiting,))

    @staticmethod
    def _answer(results, waiting) -> None:
        for d, result in zip(waiting, results):
            if type(d) is tuple:
                d[0].set(d[1], result)
            elif isinstance(result, Exception):
                d.errback(result)
            else:
                d.callback(result)

    @staticmethod
    def _fail(failure, waiting) -> None:
        for d in waiting:
            if type(d) is tuple:
                d[0].set(d[1], failure.value)
            else:
                d.errback(failure)


class _Group:
    """The results of the items of one `TurnBatcher.add_many`, which may span chunks."""

    def __init__(self, size: int):
        self.results: list = [None] * size
        self.left = size
        self.done = defer.Deferred()
        if not size:
            self.done.callback(self.results)

    def set(self, index: int, result) -> None:
        self.results[index] = result
        self.left -= 1
        if not self.left:
            self.done.callback(self.results)
