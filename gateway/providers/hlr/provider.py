"""
The HLR provider (``[provider:NAME] type = hlr``): an ``hlr`` message is a
lookup of its destination; the answer is its receipt — DELIVERED for a live
subscriber, UNDELIVERABLE with an error otherwise — with the HLR fields in
the receipt's ``extra``, so the client's DLR is in the HLR result format.

Options: ``lookup`` = numbering (default) | http; for numbering,
``language`` (of country and carrier names, default en); for http, those of
`gateway.providers.hlr.web`.
"""

from __future__ import annotations

import re

from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IHlrLookup, IProvider
from gateway.logs import Logger
from gateway.model import SendResult
from gateway.providers.hlr.answer import HlrAnswer, LookupFailed
from gateway.providers.hlr.numbering import NumberingLookup
from gateway.providers.hlr.web import KNOWN as HTTP_KEYS
from gateway.providers.hlr.web import HttpLookup, HttpLookupOptions
from gateway.providers.options import Options
from gateway.providers.vendor import WRONG_CHANNEL
from gateway.smpp.constants import CommandStatus

__all__ = ["HlrProvider", "from_options"]


@implementer(IProvider)
class HlrProvider:
    """Looks destinations up with an `IHlrLookup` and reports the answers; see the module docstring."""

    log = Logger()

    def __init__(self, name: str, lookup, sink, reactor=None, concurrency: int = 10):
        if reactor is None:
            from twisted.internet import reactor
        self.name = name
        self.lookup = IHlrLookup(lookup)
        self.sink = sink
        self.reactor = reactor
        self.concurrency = concurrency
        self._in_flight = 0

    def capacity(self) -> int:
        return max(0, self.concurrency - self._in_flight)

    def send(self, message) -> defer.Deferred:
        if message.channel != "hlr":
            return defer.succeed(SendResult.permanent(WRONG_CHANNEL, f"{self.name} does HLR lookups, "
                                                                     f"not {message.channel}"))
        self._in_flight += 1
        d = self.lookup.lookup(re.sub(r"\D", "", message.destination))
        d.addCallbacks(self._answered, self._failed, (message,), None, (message,))

        def done(result):
            self._in_flight -= 1
            return result

        return d.addBoth(done)

    def _answered(self, answer: HlrAnswer, message) -> SendResult:
        upstream_id = message.id
        self.reactor.callLater(0, self._report, upstream_id, answer)
        return SendResult.sent(upstream_id)

    def _failed(self, failure, message) -> SendResult:
        failure.trap(LookupFailed)
        self.log.warn("{provider}: HLR lookup {id} failed: {error}", provider=self.name, id=message.id,
                      error=failure.getErrorMessage())
        return SendResult.temporary(CommandStatus.VENDOR_TRANSPORT_ERROR, failure.getErrorMessage())

    def _report(self, upstream_id: str, answer: HlrAnswer) -> None:
        d = defer.maybeDeferred(self.sink.report, self.name, upstream_id, answer.state, answer.error,
                                None, answer.fields())
        d.addErrback(lambda f: self.log.warn("HLR result of {upstream_id} via {provider} not recorded: {error}",
                                             upstream_id=upstream_id, provider=self.name, error=f.getErrorMessage()))


def from_options(name, options, sink, reactor) -> HlrProvider:
    """``[provider:NAME] type = hlr``; raises `ProviderOptionError` (a ValueError)."""
    kind = str(options.get("lookup", "numbering")).strip().lower()
    if kind == "http":
        o = Options(name, options, ("lookup",) + HTTP_KEYS)
        parsed = HttpLookupOptions.parse(o)
        return HlrProvider(name, HttpLookup(parsed, reactor), sink, reactor, parsed.concurrency)
    o = Options(name, options, ("lookup", "language", "concurrency"))
    o.choice("lookup", ("numbering", "http"), "numbering")
    return HlrProvider(name, NumberingLookup(o.text("language", "en") or "en"), sink, reactor,
                       o.integer("concurrency", 100, 1, 10000))
