"""
The null provider: accepts every message at once, sends it nowhere and (with a
report sink) reports it DELIVERED.  For tests and benchmarks of everything
between the accept path and the outbox.
"""

from __future__ import annotations

import itertools

from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IProvider
from gateway.model import SendResult, State

__all__ = ["NullProvider"]


@implementer(IProvider)
class NullProvider:
    """Sends nowhere; ``window`` messages at most may be outstanding at once.

    ``sink`` (an `IReportSink`), if given, gets a DELIVERED receipt for every
    message ``receipt_delay`` seconds after it was sent.
    """

    def __init__(self, name: str = "null", sink=None, clock=None, window: int = 1000,
                 receipt_delay: float = 0.0):
        self.name = name
        self.sink = sink
        self.clock = clock
        self.window = window
        self.receipt_delay = receipt_delay
        self.sent: list[str] = []
        self._outstanding = 0
        self._upstream = itertools.count(1)
        self._receipts: list[str] = []  # upstream ids whose receipt is due with the next call

    def capacity(self) -> int:
        return self.window - self._outstanding

    def send(self, message) -> defer.Deferred:
        upstream_id = f"{self.name}-{next(self._upstream)}"
        self.sent.append(message.id)
        if self.sink is not None and self.clock is not None:
            if not self._receipts:  # one timer for the receipts of messages sent in one turn
                self.clock.callLater(self.receipt_delay, self._report)
            self._receipts.append(upstream_id)
        return defer.succeed(SendResult.sent(upstream_id))

    def _report(self) -> None:
        receipts, self._receipts = self._receipts, []
        for upstream_id in receipts:
            self.sink.report(self.name, upstream_id, State.DELIVERED, 0).addErrback(lambda f: None)


def from_options(name, options, sink, reactor) -> NullProvider:
    """``[provider:NAME] type = null`` with optional ``window`` and ``receipt_delay`` (seconds)."""
    known = {"type", "window", "receipt_delay"}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}; known keys: window, receipt_delay")
    try:
        window = int(options.get("window", "1000"))
        delay = float(options.get("receipt_delay", "0"))
    except ValueError:
        raise ValueError("window must be a whole number and receipt_delay a number of seconds") from None
    return NullProvider(name, sink, reactor, window=window, receipt_delay=delay)
