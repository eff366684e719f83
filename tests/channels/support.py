"""Helpers of the channel and channel-provider tests: a recording report sink, messages, a bounded wait."""

from __future__ import annotations

from twisted.internet import defer, reactor
from zope.interface import implementer

from gateway.interfaces import IReportSink
from gateway.model import Message

TIMEOUT = 10.0


@implementer(IReportSink)
class RecordingSink:
    """Keeps every receipt as ``(provider, upstream_id, state, error_code, extra)``."""

    def __init__(self):
        self.reports: list[tuple] = []
        self._waiters: list[tuple[int, defer.Deferred]] = []

    def report(self, provider, upstream_id, state, error_code=0, at=None, extra=None):
        self.reports.append((provider, upstream_id, state, error_code, extra))
        for n, d in list(self._waiters):
            if len(self.reports) >= n:
                self._waiters.remove((n, d))
                d.callback(list(self.reports))
        return defer.succeed(upstream_id)

    def deliver_mo(self, provider, source, destination, text="", raw=None, data_coding=0,
                   account=None, at=None, extra=None):
        raise AssertionError("no MO expected")

    def when(self, n: int = 1, timeout: float = TIMEOUT) -> defer.Deferred:
        """Fires with the reports once there are ``n`` (fails after ``timeout`` seconds)."""
        if len(self.reports) >= n:
            return defer.succeed(list(self.reports))
        d = defer.Deferred()
        self._waiters.append((n, d))
        return d.addTimeout(timeout, reactor)


def message(destination="79001234567", text="hello", channel="sms", msg_id="m1", **extra) -> Message:
    return Message(id=msg_id, account="acme", destination=destination, text=text, channel=channel,
                   extra=dict(extra))


def bounded(d, timeout: float = TIMEOUT) -> defer.Deferred:
    """``d`` failing with a TimeoutError after ``timeout`` seconds instead of hanging the test."""
    return d.addTimeout(timeout, reactor)
