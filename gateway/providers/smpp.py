"""
The SMPP client connector: ``[provider:NAME] type = smpp``.

`SMPPProvider` is an `IProvider` and a `MultiService`: one `ClientLink` per
connection (one for transmitter / receiver / transceiver, two for
``bind = transmitter+receiver``), each reconnecting and re-binding on its own
with backoff.  Starting, stopping or `restart`-ing a connector touches no
other connector.

Sending: a message becomes one submit_sm per part (`SubmitBuilder`); parts
go out as the token bucket allows (``throughput``) and the window has room
(``window``).  The outcome, per `IProvider.send`:

- every part acknowledged → ``SendResult.sent(*message_ids)``, one id per part;
- ESME_RTHROTTLED / ESME_RMSGQFUL → the bucket pauses (doubling while the
  SMSC keeps throttling) and the message is a temporary failure; the other
  ``temporary_errors`` and a connection lost with the part unanswered too;
- any other error status → ``SendResult.permanent(status)`` (fail over);
- a long message whose first parts went through retries the failed parts
  (up to ``PART_RETRIES`` times) rather than failing the whole message and
  sending its accepted parts again.

Receipts and MO come back through the sink (`IncomingHandler`).  `status()`
describes the connector for the admin console.
"""

from __future__ import annotations

import random

from twisted.application import service
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.ssl import Certificate, CertificateOptions, PrivateCertificate, optionsForClientTLS
from zope.interface import implementer

from gateway.interfaces import IProvider
from gateway.logs import Logger
from gateway.model import Outcome, SendResult
from gateway.providers.pacing import UNLIMITED, Pacer, RateMeter, TokenBucket
from gateway.providers.smpp_incoming import IncomingHandler
from gateway.providers.smpp_options import OptionError, SMPPOptions, parse_options
from gateway.providers.smpp_submit import SubmitBuilder
from gateway.smpp.client import BindParams, ClientLink, LinkState, NotBound
from gateway.smpp.constants import CommandStatus
from gateway.smpp.session import ResponseTimeout, SessionClosed, SMPPError
from gateway.smpp.text import TextError

__all__ = ["SMPPProvider", "OptionError", "PART_RETRIES"]

#: How often a failed part of a partly sent long message is sent again before giving up.
PART_RETRIES = 3
_TRANSPORT = CommandStatus.VENDOR_TRANSPORT_ERROR


@implementer(IProvider)
class SMPPProvider(service.MultiService):
    """An upstream SMSC reached over SMPP; see the module docstring."""

    log = Logger()

    def __init__(self, name: str, options: dict, sink, reactor=None, *, clock=None,
                 rng: random.Random | None = None, endpoint=None):
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor
        self.name = name
        self.options: SMPPOptions = parse_options(options)
        self.sink = sink
        self.reactor = reactor
        self.clock = clock or reactor
        o = self.options
        self.bucket = TokenBucket(o.throughput, self.clock, o.burst or None)
        self.pacer = Pacer(self.bucket, self.clock)
        self.meter = RateMeter(self.clock)
        self.builder = SubmitBuilder(o, self.clock)
        self.incoming = IncomingHandler(name, sink, self.clock, receipt_ids=o.receipt_ids,
                                        iso=o.smsc_alphabet == "latin1", mo_timeout=o.mo_timeout)
        self.last_error = ""
        self.counters = {"submitted": 0, "parts": 0, "throttled": 0, "temporary": 0, "permanent": 0}
        self._throttled_in_a_row = 0
        endpoint = endpoint or self._endpoint()  # given: the in-process simulator (host, port, tls unused)
        rng = rng or random.Random()
        jitter = lambda: rng.random() * o.reconnect_initial  # noqa: E731  (up to one initial delay)
        self.links = []
        for mode in o.bind_modes:
            link = ClientLink(
                f"{name}/{mode.value}", endpoint, self._bind_params(mode), self.clock,
                on_request=self.incoming.handle, session_options=self._session_options(),
                backoff=(o.reconnect_initial, o.reconnect_max, o.reconnect_factor), jitter=jitter,
                stop_timeout=min(5.0, o.response_timeout),
            )
            link.setName(mode.value)
            link.setServiceParent(self)
            self.links.append(link)
        self.transmitter = next((link for link in self.links if link.bind_params.mode.transmits), None)

    # -- construction

    def _bind_params(self, mode) -> BindParams:
        o = self.options
        return BindParams(mode, o.system_id, o.password, o.system_type, o.interface_version,
                          address_range=o.address_range)

    def _session_options(self) -> dict:
        o = self.options
        return {"window": o.window, "response_timeout": o.response_timeout,
                "enquire_link_interval": o.enquire_link or None, "max_pdu_size": 70_000}

    def _endpoint(self):
        o = self.options
        endpoint = HostnameEndpoint(self.reactor, o.host, o.port, timeout=max(1.0, o.response_timeout))
        if o.tls:
            endpoint = wrapClientTLS(self._tls_options(), endpoint)
        return endpoint

    def _tls_options(self):
        o = self.options
        client = _load_pem("tls_cert", o.tls_cert, PrivateCertificate) if o.tls_cert else None
        if not o.tls_verify:
            extra = {} if client is None else {"privateKey": client.privateKey.original,
                                               "certificate": client.original}
            return CertificateOptions(verify=False, **extra)
        trust = _load_pem("tls_ca", o.tls_ca, Certificate) if o.tls_ca else None
        return optionsForClientTLS(o.tls_hostname or o.host, trustRoot=trust, clientCertificate=client)

    # -- life cycle

    def setName(self, name: str) -> None:
        """Keep `name`: routes, queues and receipts know the connector by it.

        A parent that labels its children (``provider:NAME``) gets the label in
        ``service_name``; the service is still registered under `name`.
        """
        if self.parent is not None:
            raise RuntimeError("cannot change the name of a service that has a parent")
        self.service_name = name

    def stopService(self):
        self.pacer.fail_all(SessionClosed(f"connector {self.name} stopping"))
        return super().stopService()

    def restart(self) -> defer.Deferred:
        """Stop (unbinding politely) and start again, leaving other connectors alone."""
        d = defer.maybeDeferred(self.stopService) if self.running else defer.succeed(None)
        return d.addCallback(lambda _: self.startService())

    def whenBound(self) -> defer.Deferred:
        """Fires once every connection of this connector is bound."""
        return defer.gatherResults([link.whenBound() for link in self.links]).addCallback(lambda _: self)

    # -- IProvider

    def capacity(self) -> int:
        """0 unless bound for sending; else the free window, capped by the throughput tokens."""
        session = self.transmitter.session if self.transmitter is not None else None
        if session is None or not session.transmitting or self.bucket.paused:
            return 0
        queued = self.pacer.queued
        free = session.windowFree - queued
        tokens = self.bucket.available()
        if tokens < UNLIMITED:
            tokens += int(self.bucket.rate)  # a second's worth may wait in the pacer
        return max(0, min(free, tokens - queued))

    def send(self, message) -> defer.Deferred:
        if self.transmitter is None:
            return defer.succeed(SendResult.permanent(CommandStatus.ESME_RINVBNDSTS,
                                                      f"connector {self.name} only receives"))
        if self.transmitter.session is None:
            return defer.succeed(SendResult.temporary(_TRANSPORT, f"connector {self.name} is not bound"))
        try:
            pdus = self.builder.build(message)
        except TextError as e:
            return defer.succeed(SendResult.permanent(e.status, str(e)))
        self.counters["submitted"] += 1
        if len(pdus) == 1:  # the common case, without the bookkeeping of parts
            d = self.pacer.run(self._submit, pdus[0])
            return d.addCallbacks(_sent, self._failed, errbackArgs=(message,))
        return defer.ensureDeferred(self._send_parts(message, pdus))

    def _failed(self, failure, message) -> SendResult:
        outcome = self._classify([failure])
        self._count(outcome, message)
        return outcome

    async def _send_parts(self, message, pdus) -> SendResult:
        ids: list = [None] * len(pdus)
        todo, retries = list(range(len(pdus))), 0
        while True:
            results = await defer.DeferredList([self.pacer.run(self._submit, pdus[i]) for i in todo],
                                               consumeErrors=True)
            failed = []
            for index, (ok, value) in zip(todo, results):
                if ok:
                    ids[index] = value
                else:
                    failed.append((index, value))
            if not failed:
                return SendResult.sent(*[i for i in ids if i])
            outcome = self._classify([failure for _, failure in failed])
            partial = any(i is not None for i in ids)
            if outcome.outcome is not Outcome.TEMPORARY or not partial or retries == PART_RETRIES:
                self._count(outcome, message)
                return outcome
            todo, retries = [index for index, _ in failed], retries + 1

    def _submit(self, pdu) -> defer.Deferred:
        session = self.transmitter.session
        if session is None:
            return defer.fail(NotBound(f"connector {self.name} lost its bind"))
        d = session.submit(pdu)
        return d.addCallbacks(self._accepted, self._refused)

    def _accepted(self, response) -> str:
        self._throttled_in_a_row = 0
        self.counters["parts"] += 1
        self.meter.count()
        return response.params.get("message_id", "").strip()

    def _refused(self, failure):
        if failure.check(SMPPError) and failure.value.status in self.options.throttling_errors:
            self._slow_down(failure.value.status)
        return failure

    def _slow_down(self, status: int) -> None:
        o = self.options
        self.counters["throttled"] += 1
        pause = min(o.throttle_pause_max, o.throttle_pause * 2 ** self._throttled_in_a_row)
        self._throttled_in_a_row += 1
        if not self.bucket.paused:
            self.log.info("{provider}: SMSC answered 0x{status:X}, pausing {pause:g} s", provider=self.name,
                          status=status, pause=pause)
        self.bucket.pause(pause)

    def _classify(self, failures) -> SendResult:
        """One outcome for the failed parts: permanent if any part is refused for good."""
        temporary = None
        for failure in failures:
            if failure.check(SMPPError):
                status = failure.value.status
                if status not in self.options.temporary_errors:
                    return SendResult.permanent(status, str(failure.value))
                temporary = temporary or SendResult.temporary(status, str(failure.value))
            elif failure.check(SessionClosed, ResponseTimeout, NotBound):
                temporary = temporary or SendResult.temporary(_TRANSPORT, failure.getErrorMessage())
            else:
                self.log.failure("{provider}: submit failed unexpectedly", failure, provider=self.name)
                temporary = temporary or SendResult.temporary(_TRANSPORT, failure.getErrorMessage())
        return temporary

    def _count(self, outcome: SendResult, message) -> None:
        kind = outcome.outcome.value
        self.counters[kind] += 1
        self.last_error = f"{message.id}: {outcome.reason} (0x{outcome.error_code:X})"

    # -- status

    def status(self) -> dict:
        """The connector for the admin console: state, binds, window, rate, last error."""
        o = self.options
        links = [_link_status(link) for link in self.links]
        main = self.transmitter or self.links[0]
        session = main.session
        in_use = self.pacer.queued + (session.window - session.windowFree if session else 0)
        errors = [e for e in [self.last_error] + [link.last_error for link in self.links] if e]
        return {
            "name": self.name, "type": "smpp", "state": _overall(self.links, self.running),
            "since": main.since, "bind": o.bind, "host": o.host, "port": o.port, "tls": o.tls,
            "system_id": o.system_id, "links": links,
            "window": {"size": o.window, "in_use": in_use},
            "throughput": {"limit": o.throughput, "paused": self.bucket.paused},
            "rate_10s": self.meter.rate(), "capacity": self.capacity(),
            "last_error": errors[0] if errors else "",
            "counters": dict(self.counters, receipts=self.incoming.receipts,
                             receipts_unmatched=self.incoming.unmatched, mo=self.incoming.mo),
        }


def _sent(upstream_id: str) -> SendResult:
    return SendResult.sent(upstream_id) if upstream_id else SendResult.sent()


def _link_status(link: ClientLink) -> dict:
    session = link.session
    return {"mode": link.bind_params.mode.value, "state": link.state.value, "since": link.since,
            "last_error": link.last_error, "failures": link.failures,
            "smsc": session.smsc_system_id if session else "", "peer": session.peer if session else ""}


def _overall(links, running: bool) -> str:
    """The least ready state of the connections ("bound" only when every one is)."""
    if not running:
        return LinkState.STOPPED.value
    order = (LinkState.STOPPED, LinkState.CONNECTING, LinkState.BINDING, LinkState.UNBINDING, LinkState.BOUND)
    return min((link.state for link in links), key=order.index).value


def _load_pem(key: str, path: str, kind):
    try:
        with open(path, "rb") as f:
            return kind.loadPEM(f.read())
    except OSError as e:
        raise OptionError(key, path, f"cannot read the file: {e.strerror}") from None
    except Exception as e:  # OpenSSL's errors: not a PEM certificate (and key)
        raise OptionError(key, path, f"not a PEM {'certificate and key' if kind is PrivateCertificate else 'certificate'}: {e}") from None
