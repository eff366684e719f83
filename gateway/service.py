"""
`build()`: the gateway's `MultiService`, assembled from a `Config`.

    MultiService "smsgw"
    ├── redis              embedded redis-server (only when [redis] url is empty)
    ├── redis-connection   the txredisapi pool every part uses
    ├── engine             store objects, router, providers, dispatcher (gateway/engine.py)
    └── frontends          started once the engine is ready:
        ├── smpp:…         SMPP listeners for client applications
        └── http:…         HTTP listeners (health, APIs, console)
"""

from __future__ import annotations

import signal

from twisted.application import service
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString

from gateway import logs
from gateway.config import Config
from gateway.engine import Engine
from gateway.logs import Logger
from gateway.store.connection import RedisService
from gateway.store.embedded import EmbeddedRedis

__all__ = ["build", "Listener", "Gateway"]


class Listener(service.Service):
    """Listens on one Twisted endpoint string and logs the address it got."""

    log = Logger()

    def __init__(self, what: str, description: str, factory, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self.what = what
        self.description = description
        self.factory = factory
        self.reactor = reactor
        self.port = None
        self.name = f"{what}:{description}"

    def startService(self):
        super().startService()
        endpoint = serverFromString(self.reactor, self.description)
        d = endpoint.listen(self.factory)

        def listening(port):
            self.port = port
            address = port.getHost()
            where = getattr(address, "port", None) or getattr(address, "name", address)
            host = getattr(address, "host", "")
            self.log.info("{what} listening on {host}:{where} ({description})",
                          what=self.what, host=host, where=where, description=self.description)
            return port

        def failed(f):
            self.log.critical("{what} cannot listen on {description}: {error}",
                              what=self.what, description=self.description, error=f.getErrorMessage())
            from twisted.internet import reactor
            reactor.callLater(0, reactor.stop)  # a gateway that cannot listen must not pretend to run
            return f

        return d.addCallbacks(listening, failed)

    def stopService(self):
        super().stopService()
        if self.port is not None:
            return defer.maybeDeferred(self.port.stopListening)


class Gateway(service.MultiService):
    """The whole gateway: holds the config and the parts other parts need to find."""

    log = Logger()

    def __init__(self, config: Config):
        super().__init__()
        self.setName("smsgw")
        self.config = config
        #: set by `twistd smsgw` (the process is ours): SIGTERM/SIGINT are a requested
        #: stop with exit status 0, and the garbage collector is tuned once running
        self.handle_signals = False

    def startService(self):
        self.log.info("smsgw starting on node {node} with {source}",
                      node=self.config.gateway["node"], source=self.config.source)
        if self.handle_signals:
            from twisted.internet import reactor

            # after the reactor installed its own handlers ("during startup")
            reactor.addSystemEventTrigger("after", "startup", self._install_signal_handlers)
            from gateway.runtime import tune_gc

            self.getServiceNamed("engine").whenReady().addCallback(lambda _: tune_gc())
        super().startService()

    def _install_signal_handlers(self):
        # twistd's own handlers re-raise the signal after shutdown, so the process
        # would end "killed by SIGTERM"; a stop the operator asked for is a clean exit.
        from twisted.internet import reactor

        def requested(signum, frame):
            name = signal.Signals(signum).name
            reactor.callFromThread(self.log.info, "received {signal}, shutting down", signal=name)
            reactor.callFromThread(reactor.stop)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, requested)

    def stopService(self):
        """Stop the parts one after another, last started first, so Redis outlives its users."""
        self.log.info("smsgw stopping")
        service.Service.stopService(self)
        return defer.ensureDeferred(self._stop_children())

    async def _stop_children(self):
        for child in reversed(list(self)):
            try:
                await defer.maybeDeferred(child.stopService)
            except Exception:
                self.log.failure("stopping {name} failed", name=child.name)
        self.log.info("smsgw stopped")


class AfterEngine(service.MultiService):
    """Starts its children (the listeners) only once the engine is ready to serve them."""

    log = Logger()

    def __init__(self, engine):
        super().__init__()
        self.setName("frontends")
        self.engine = engine

    def startService(self):
        service.Service.startService(self)
        self.engine.whenReady().addCallback(self._start_children)

    def _start_children(self, _):
        if self.running:
            for child in self:
                child.startService()


def _add_simulator(config, gateway, engine, reactor):
    """The bundled SMSC simulator in this process, and a connector named "simulator" to it."""
    from gateway.simulator.service import SimulatorService

    simulator = SimulatorService(config.simulator, reactor)
    simulator.setServiceParent(gateway)
    if "simulator" not in engine.providers:
        engine.add_provider(simulator.provider(engine))


def build(config: Config, reactor=None) -> Gateway:
    """The gateway service for *config* (not started)."""
    logs.set_level(config.gateway["loglevel"])
    gateway = Gateway(config)
    datadir = config.gateway["datadir"]
    url = config.redis["url"]
    if not url:
        embedded = EmbeddedRedis(datadir, fsync=config.redis["fsync"], reactor=reactor)
        embedded.setServiceParent(gateway)
        url = embedded.whenReady
    redis = RedisService(url, reply_timeout=config.redis["timeout"])
    redis.setServiceParent(gateway)
    engine = Engine(config, redis, reactor)
    if config.simulator["enabled"]:
        _add_simulator(config, gateway, engine, reactor)
    engine.setServiceParent(gateway)
    frontends = AfterEngine(engine)
    frontends.setServiceParent(gateway)

    from gateway.http.site import make_site

    site = make_site(config, redis)
    from gateway.admin.wiring import install  # admin API, console, metrics, archive sync and retention

    install(gateway, engine, site, config, reactor)
    from gateway.http.wiring import install_http  # /sys/*.php, /api/v1, /dlr/<provider>, callbacks

    install_http(gateway, engine, site, config, reactor)  # after install: it uses the metered acceptor
    for description in config.http["listen"]:
        Listener("http", description, site, reactor).setServiceParent(frontends)

    from gateway.smpp.server import SMPPServer, engine_factory

    SMPPServer(lambda: engine_factory(engine, config, reactor), config.smpp["listen"],
               reactor).setServiceParent(frontends)
    return gateway
