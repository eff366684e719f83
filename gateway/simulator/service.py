"""
`SimulatorService`: the simulator as a Twisted service, inside the gateway
(``[simulator] enabled = yes``) or alone (``twistd -n smsc-sim``).

It listens for SMPP on every ``listen`` endpoint and, if ``http_listen`` is
set, serves `gateway.simulator.web` there.  `whenListening()` fires once every
listener is up; ``smpp_ports`` / ``http_ports`` then hold the listening ports
(useful with port 0).
"""

from __future__ import annotations

import random

from twisted.application import service
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, serverFromString
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.python.failure import Failure
from twisted.web import server
from zope.interface import implementer

from gateway.logs import Logger
from gateway.simulator.config import SimulatorConfig, parse_simulator_options
from gateway.simulator.session import SMSCFactory
from gateway.simulator.smsc import SMSC
from gateway.simulator.web import simulator_resource

__all__ = ["SimulatorService"]


class SimulatorService(service.Service):
    """The bundled SMSC simulator; ``options`` is the ``[simulator]`` section (or a `SimulatorConfig`)."""

    name = "simulator"
    log = Logger()

    def __init__(self, options=None, reactor=None, *, clock=None, rng: random.Random | None = None):
        if reactor is None:
            from twisted.internet import reactor
        self.config = options if isinstance(options, SimulatorConfig) else parse_simulator_options(options)
        self.reactor = reactor
        self.smsc = SMSC(self.config, clock or reactor, rng)
        self.factory = SMSCFactory(self.smsc, clock or reactor)
        self.site = server.Site(simulator_resource(self.smsc))
        self.site.displayTracebacks = False
        self.smpp_ports: list = []
        self.http_ports: list = []
        self._plain = None  # the first plain TCP SMPP port, for client_endpoint
        self._outcome = None  # True once listening, a Failure if it could not
        self._waiting: list[defer.Deferred] = []

    @property
    def port(self) -> int:
        """The first SMPP listening port number."""
        return self.smpp_ports[0].getHost().port

    def client_endpoint(self):
        """A client endpoint to this simulator's first plain-TCP listener, usable before it listens."""
        return _SimulatorEndpoint(self)

    def provider(self, sink, name: str = "simulator", **options):
        """An SMPP connector (`SMPPProvider`) to this simulator, for the gateway's demo upstream."""
        from gateway.providers.smpp import SMPPProvider

        section = {"host": "127.0.0.1", "system_id": self.config.system_id or "smsgw",
                   "password": self.config.password, "window": "100", "reconnect_max": "5"}
        section.update(options)
        return SMPPProvider(name, section, sink, self.reactor, endpoint=self.client_endpoint())

    @property
    def http_port(self) -> int:
        return self.http_ports[0].getHost().port

    def startService(self):
        super().startService()
        self._outcome = None
        listens = [self._listen(d, self.factory, self.smpp_ports, "SMPP") for d in self.config.listen]
        listens += [self._listen(d, self.site, self.http_ports, "HTTP") for d in self.config.http_listen]
        defer.gatherResults(listens, consumeErrors=True).addCallbacks(self._up, self._failed)

    def _listen(self, description: str, factory, ports: list, what: str) -> defer.Deferred:
        d = serverFromString(self.reactor, description).listen(factory)

        def listening(port):
            ports.append(port)
            if what == "SMPP" and self._plain is None and description.split(":", 1)[0] in ("tcp", "tcp6"):
                self._plain = port
            host = port.getHost()
            self.log.info("SMSC simulator {what} listening on {host}:{port}", what=what,
                          host=getattr(host, "host", ""), port=getattr(host, "port", host))
            return port

        return d.addCallback(listening)

    def _up(self, _) -> None:
        self._outcome = True
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(self)

    def _failed(self, failure: Failure) -> None:
        self.log.critical("SMSC simulator cannot listen: {error}", error=failure.getErrorMessage())
        self._outcome = failure
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.errback(failure)

    def whenListening(self) -> defer.Deferred:
        """Fires (with this service) once every endpoint listens; fails if one cannot."""
        if self._outcome is True:
            return defer.succeed(self)
        if isinstance(self._outcome, Failure):
            return defer.fail(self._outcome)
        d = defer.Deferred()
        self._waiting.append(d)
        return d

    @defer.inlineCallbacks
    def stopService(self):
        super().stopService()
        ports, self.smpp_ports, self.http_ports = self.smpp_ports + self.http_ports, [], []
        self._plain = None
        for port in ports:
            yield port.stopListening()
        for session in list(self.factory.sessions):
            session.close("simulator stopping")


@implementer(IStreamClientEndpoint)
class _SimulatorEndpoint:
    """Connects to the simulator's first plain TCP listener once it listens."""

    def __init__(self, simulator: SimulatorService):
        self.simulator = simulator

    def connect(self, factory):
        return self.simulator.whenListening().addCallback(self._connect, factory)

    def _connect(self, simulator, factory):
        if simulator._plain is None:
            raise ConnectionError("the simulator has no plain TCP listener")
        address = simulator._plain.getHost()
        host = "127.0.0.1" if address.host in ("0.0.0.0", "::", "") else address.host
        return TCP4ClientEndpoint(simulator.reactor, host, address.port).connect(factory)
