"""
Wake-up notifications over Redis pub/sub.

The scripts publish on a provider's queue channel when messages become ready
and on an account's outbox channel when a report arrives.  `Notifier` keeps
one subscriber connection, resubscribes after reconnecting and calls the
registered callbacks.  Notifications only shorten latency: every consumer
also polls, so a lost message or a Sentinel setup (not subscribed here) only
costs a poll interval.
"""

from __future__ import annotations

import txredisapi
from twisted.application import service
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint

from gateway.logs import Logger
from gateway.store.connection import parse_url
from gateway.store.messages import as_text

__all__ = ["Notifier"]


class _Subscriber(txredisapi.SubscriberProtocol):
    def messageReceived(self, pattern, channel, message):
        self.factory.notifier.deliver(as_text(channel), message)


class _SubscriberFactory(txredisapi.SubscriberFactory):
    protocol = _Subscriber

    def __init__(self, notifier, password=None):
        super().__init__(isLazy=True)
        self.notifier = notifier
        self.password = password

    def buildProtocol(self, addr):
        p = super().buildProtocol(addr)
        p.whenConnected().addCallback(self.notifier.connected)
        return p


class Notifier(service.Service):
    """Calls ``callback(channel, message)`` for messages published on subscribed channels."""

    name = "redis-notifier"
    log = Logger()

    def __init__(self, url: str, reactor=None):
        self.url = url
        self.reactor = reactor
        self._callbacks: dict[str, list] = {}
        self._protocol = None
        self._factory = None
        self._ready = False
        self._waiting: list[defer.Deferred] = []

    def whenSubscribed(self) -> defer.Deferred:
        """Fires once connected with every channel subscribed so far in place."""
        if self._ready:
            return defer.succeed(None)
        d = defer.Deferred()
        self._waiting.append(d)
        return d

    def _subscribed(self, _) -> None:
        self._ready = True
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(None)

    def subscribe(self, channel: str, callback) -> None:
        """Call ``callback(channel, message)`` for every message on ``channel``."""
        first = channel not in self._callbacks
        self._callbacks.setdefault(channel, []).append(callback)
        if first and self._protocol is not None:
            self._protocol.subscribe([channel]).addErrback(self._failed)

    def unsubscribe(self, channel: str, callback) -> None:
        callbacks = self._callbacks.get(channel, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            self._callbacks.pop(channel, None)
            if self._protocol is not None:
                self._protocol.unsubscribe([channel]).addErrback(self._failed)

    def deliver(self, channel: str, message) -> None:
        for callback in list(self._callbacks.get(channel, ())):
            try:
                callback(channel, message)
            except Exception:
                self.log.failure("wake-up callback for {channel} failed", channel=channel)

    def connected(self, protocol) -> None:
        self._protocol = protocol
        protocol.whenDisconnected().addCallback(self._lost)
        d = protocol.subscribe(list(self._callbacks)) if self._callbacks else defer.succeed(None)
        d.addCallbacks(self._subscribed, self._failed)

    def _lost(self, protocol) -> None:
        if self._protocol is protocol:
            self._protocol = None
            self._ready = False

    def _failed(self, failure) -> None:
        self.log.warn("pub/sub subscription failed: {error}", error=failure.getErrorMessage())

    def startService(self):
        super().startService()
        if self.reactor is None:
            from twisted.internet import reactor
            self.reactor = reactor
        address = parse_url(self.url)
        if address.kind == "sentinel" or address.tls:
            self.log.info("no pub/sub wake-ups for {url}: polling only", url=self.url)
            return
        if address.kind == "unix":
            endpoint = UNIXClientEndpoint(self.reactor, address.path)
        else:
            endpoint = HostnameEndpoint(self.reactor, address.host, address.port)
        self._factory = _SubscriberFactory(self, address.password)
        self._factory.startConnecting(endpoint)

    def stopService(self):
        super().stopService()
        factory, self._factory = self._factory, None
        self._protocol = None
        return factory.disconnect() if factory is not None else defer.succeed(None)
