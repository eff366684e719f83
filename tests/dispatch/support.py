"""Test providers for the dispatcher tests."""

from __future__ import annotations

from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IProvider
from gateway.model import SendResult


@implementer(IProvider)
class CountingProvider:
    """Records what it is asked to send; ``behaviour(message, attempt)`` → SendResult or Deferred.

    ``hang=True`` never answers (a provider stuck mid-batch).
    """

    def __init__(self, name, window=100, behaviour=None, hang=False):
        self.name = name
        self.window = window
        self.behaviour = behaviour or (lambda message, n: SendResult.sent(f"{name}-{message.id}"))
        self.hang = hang
        self.sent: list[str] = []
        self.outstanding = 0
        self._waiters: list[tuple[int, defer.Deferred]] = []

    def capacity(self):
        return self.window - self.outstanding

    def send(self, message):
        self.sent.append(message.id)
        for n, d in list(self._waiters):
            if len(self.sent) >= n:
                self._waiters.remove((n, d))
                d.callback(list(self.sent))
        if self.hang:
            self.outstanding += 1
            return defer.Deferred()
        return defer.succeed(self.behaviour(message, self.sent.count(message.id)))

    def when_sent(self, n: int, timeout: float = 10.0):
        """Fires with the sent ids once ``n`` sends were made (fails after ``timeout``)."""
        from twisted.internet import reactor

        if len(self.sent) >= n:
            return defer.succeed(list(self.sent))
        d = defer.Deferred()
        self._waiters.append((n, d))
        return d.addTimeout(timeout, reactor)


async def eventually(check, bound: float = 10.0, step: float = 0.02):
    """Await ``check()`` (async, returning a bool) until true; fail after ``bound`` seconds."""
    from twisted.internet import reactor, task

    waited = 0.0
    while not await check():
        assert waited < bound, "condition not reached in time"
        await task.deferLater(reactor, step, lambda: None)
        waited += step
