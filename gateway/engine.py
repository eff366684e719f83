"""
The message engine of one gateway process: the store objects over the Redis
connection, the router, the providers and the dispatcher, built from the
configuration.  The parts that face clients (SMPP server, HTTP site) are given
the engine and use its attributes once it is ready.

Providers are built synchronously from ``[provider:NAME]`` sections (through
the provider plugins), so a bad provider option stops start-up like any other
configuration error; everything that needs Redis is built in `startService`,
once the connection is up.
"""

from __future__ import annotations

from twisted.application import service
from twisted.internet import defer
from zope.interface import implementer

from gateway.channels import Channels
from gateway.config import Config, ConfigError
from gateway.discovery import discover
from gateway.interfaces import IProvider, IProviderPlugin, IReportSink, IStoreAccess
from gateway.logs import Logger
from gateway.routing import Route, Router
from gateway.store.scripting import StoreUnavailable

__all__ = ["Engine", "build_providers", "build_router", "check_route_channels"]


def build_router(config: Config) -> Router:
    routes = [Route(name, r["account"], r["channel"], r["prefix"], tuple(r["providers"]))
              for name, r in config.routes.items()]
    try:
        return Router(routes)
    except ValueError as e:
        raise ConfigError(config.source, "route:*", None, None, str(e)) from None


def check_route_channels(config: Config, router: Router, channels) -> None:
    """A route naming a channel no plugin provides would never match: a configuration error."""
    for route in router.routes:
        if route.channel != "*" and route.channel not in channels:
            raise ConfigError(config.source, f"route:{route.name}", "channel", route.channel,
                              "no such channel; installed: " + ", ".join(channels.names) + " (or *)")


def build_providers(config: Config, sink, reactor) -> dict:
    """One `IProvider` per ``[provider:NAME]`` section, by name."""
    plugins = discover(IProviderPlugin, config.gateway["plugins_dir"], key="type")
    providers = {}
    for name, options in config.providers.items():
        plugin = plugins.get(options["type"])
        if plugin is None:
            raise ConfigError(config.source, f"provider:{name}", "type", options["type"],
                              "no provider plugin of that type; known types: " + ", ".join(sorted(plugins)))
        try:
            provider = plugin.provider(name, dict(options), sink, reactor)
        except ValueError as e:
            raise ConfigError(config.source, f"provider:{name}", None, None, str(e)) from None
        if not IProvider.providedBy(provider):
            raise ConfigError(config.source, f"provider:{name}", "type", options["type"],
                              f"plugin {plugin!r} built {provider!r}, which does not provide IProvider")
        providers[name] = provider
    return providers


@implementer(IReportSink, IStoreAccess)
class Engine(service.MultiService):
    """Store, router, providers and dispatcher of one process; see the module docstring."""

    name = "engine"
    log = Logger()

    def __init__(self, config: Config, redis_service, reactor=None):
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor
        self.config = config
        self.redis_service = redis_service
        self.reactor = reactor
        self.node = config.gateway["node"]
        self.router = build_router(config)
        self.channels = Channels.discover(config.gateway["plugins_dir"])
        check_route_channels(config, self.router, self.channels)
        self.providers = build_providers(config, self, reactor)
        for provider in self.providers.values():
            self._adopt(provider)
        self.ready = False
        self._waiting: list[defer.Deferred] | None = []
        # built in startService, once Redis is connected
        self.redis = self.ids = self.accounts = self.acceptor = self.tracker = None
        self.outbox = self.queues = self.messages = self.notifier = self.dispatcher = None
        self.owner = None

    def _adopt(self, provider) -> None:
        # a provider that is a service (a connection upstream) runs with the engine;
        # its service name is its provider name
        if service.IService.providedBy(provider):
            provider.setServiceParent(self)

    def add_provider(self, provider) -> None:
        """Add a provider built elsewhere (the in-process simulator's connector), before start."""
        if self.running:
            raise RuntimeError("providers are added before the engine starts")
        self.providers[provider.name] = provider
        self._adopt(provider)

    def whenReady(self) -> defer.Deferred:
        """Fires with the engine once every store object exists."""
        if self._waiting is None:
            return defer.succeed(self)
        d = defer.Deferred()
        self._waiting.append(d)
        return d

    def startService(self):
        super().startService()  # providers that are services start connecting now
        d = defer.ensureDeferred(self._start())
        d.addErrback(self._failed)
        return d

    def _failed(self, failure):
        self.log.failure("the engine could not start", failure)
        from twisted.internet import reactor

        reactor.callLater(0, reactor.stop)  # a gateway without its store must not pretend to run

    async def _start(self):
        from gateway.dispatch import Dispatcher, owner_id
        from gateway.store.accept import Acceptor
        from gateway.store.accounts import AccountStore
        from gateway.store.messages import MessageStore, new_id_generator
        from gateway.store.notify import Notifier
        from gateway.store.outbox import Outbox
        from gateway.store.queues import Queues
        from gateway.store.tracker import Tracker

        timeout = self.config.redis["timeout"]
        self.redis = redis = await self.redis_service.whenConnected()
        clock = self.reactor
        self.ids = await new_id_generator(redis, clock)
        self.owner = owner_id(self.node, self.ids.node_number)
        self.accounts = AccountStore(redis, clock, timeout)
        await self.accounts.sync_from_config(self.config.accounts)
        self.acceptor = Acceptor(redis, self.router, self.ids, clock, self.node, timeout, channels=self.channels)
        self.tracker = Tracker(redis, self.ids, clock, self.node, timeout)
        self.outbox = Outbox(redis, clock, timeout, lease=self.config.gateway["report_lease"])
        self.queues = Queues(redis, clock, timeout)
        self.messages = MessageStore(redis, clock, timeout)
        self.notifier = Notifier(self.redis_service.url, reactor=self.reactor)
        lease = self.config.gateway["lease"]
        self.dispatcher = Dispatcher(self.queues, list(self.providers.values()), self.owner, clock,
                                     notifier=self.notifier, outbox=self.outbox, assembler=self.acceptor.parts,
                                     lease=lease, housekeeping_interval=min(5.0, lease / 2))
        self.acceptor.add_listener(self.dispatcher.wake)
        self.acceptor.set_direct(self.dispatcher)  # new messages skip an empty queue
        for child in (self.notifier, self.dispatcher):
            child.setServiceParent(self)  # a running MultiService starts them now
        if self.config.defaults_only:
            self.log.warn("DEMO MODE: no --config given, so account 'demo' with password 'demo' is enabled "
                          "and routed to the bundled SMSC simulator, and the admin console token is 'demo-admin'; "
                          "give a configuration file for real use")
        self.log.info("engine ready on node {owner}: {accounts} account(s) from config, providers: {providers}, "
                      "{routes} route(s)", owner=self.owner, accounts=len(self.config.accounts),
                      providers=", ".join(self.providers) or "none", routes=len(self.router.routes))
        self.ready = True
        waiting, self._waiting = self._waiting, None
        for d in waiting:
            d.callback(self)

    def stopService(self):
        """Stop the children one by one, last started first (the dispatcher drains before Redis goes)."""
        service.Service.stopService(self)
        return defer.ensureDeferred(self._stop())

    async def _stop(self):
        for child in reversed(list(self)):
            try:
                await defer.maybeDeferred(child.stopService)
            except Exception:
                self.log.failure("stopping {name} failed", name=child.name)

    # -- IReportSink, for providers (delegates to the tracker) -----------------------------

    # A connector may bind, and its SMSC deliver held receipts, before Redis is connected
    # (a restart that first stops a stale embedded redis-server): a temporary failure then,
    # which the connector answers so that the SMSC sends the receipt again later.

    def report(self, provider, upstream_id, state, error_code=0, at=None, extra=None):
        if self.tracker is None:
            return defer.fail(StoreUnavailable("the engine is not ready yet"))
        return self.tracker.report(provider, upstream_id, state, error_code, at, extra)

    def deliver_mo(self, provider, source, destination, text="", raw=None, data_coding=0,
                   account=None, at=None, extra=None):
        if self.tracker is None:
            return defer.fail(StoreUnavailable("the engine is not ready yet"))
        return self.tracker.deliver_mo(provider, source, destination, text, raw, data_coding,
                                       account, at, extra)
