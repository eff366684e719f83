"""
`ConcurrentSends`: the capacity and send bookkeeping of providers that make up
to ``options.concurrency`` requests at once (HTTP aggregators, messenger and
voice vendors, Telegram).  A provider implements ``async _send(message) ->
SendResult``; the mixin counts the sends under way.
"""

from __future__ import annotations

from twisted.internet import defer

__all__ = ["ConcurrentSends"]


class ConcurrentSends:
    """`IProvider.capacity` and `IProvider.send` around an ``async _send``."""

    _in_flight = 0

    def capacity(self) -> int:
        return max(0, self.options.concurrency - self._in_flight)

    def send(self, message) -> defer.Deferred:
        self._in_flight += 1
        d = defer.ensureDeferred(self._send(message))

        def done(result):
            self._in_flight -= 1
            return result

        return d.addBoth(done)
