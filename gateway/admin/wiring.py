"""
Putting the archive, sync, admin API, console and metrics into a running
gateway: `install` mounts the resources on the HTTP site and adds the services
(sync puller, archive retention) to the service tree; once the engine is ready
it builds their `AdminContext` and hooks the metrics in.

    site = make_site(config, redis)
    from gateway.admin.wiring import install
    install(gateway, engine, site, config, reactor)

Paths: ``/admin/api/…`` (admin API), ``/admin`` (→ ``/console/``), ``/console/``,
``/metrics``, ``/sync/v1/changes`` (the feed other nodes pull).
"""

from __future__ import annotations

from twisted.application import service
from twisted.web import resource

from gateway.admin.api import AdminApi
from gateway.admin.auth import AdminAuth
from gateway.admin.console import AdminRoot, console_resource
from gateway.admin.context import AdminContext
from gateway.archive.query import Archive
from gateway.archive.retention import Retention
from gateway.http.auth import FailedLogins, shared_logins
from gateway.logs import Logger
from gateway.metrics import MeteredAcceptor, MeteredSink, Metrics, MetricsResource
from gateway.sync.client import FeedClient
from gateway.sync.feed import ChangesResource
from gateway.sync.nodes import nodes_from_config
from gateway.sync.puller import Puller

__all__ = ["install", "Installed"]

log = Logger(namespace="gateway.admin.wiring")


class Installed:
    """What `install` put in place; ``context`` is set once the engine is ready."""

    def __init__(self, metrics, api, feed, metrics_resource, services):
        self.metrics = metrics
        self.api = api
        self.feed = feed
        self.metrics_resource = metrics_resource
        self.services = services
        self.context: AdminContext | None = None


def install(gateway, engine, site, config, reactor=None) -> Installed:
    """Mount the admin, console, metrics and sync resources and add their services; see the module."""
    if reactor is None:
        from twisted.internet import reactor
    nodes = nodes_from_config(config)  # a bad [sync] nodes stops start-up like any config error
    metrics = Metrics(config.gateway["node"], reactor)
    parts = Installed(metrics, AdminApi(), ChangesResource(), MetricsResource(metrics),
                      service.MultiService())
    parts.services.setName("archive-sync")
    # under the frontends: started once the engine is ready, stopped before it
    parts.services.setServiceParent(_frontends(gateway))
    _mount(site.resource, parts, enabled=lambda: bool(config.admin["token"]))
    engine.whenReady().addCallback(_ready, gateway, config, parts, nodes, reactor)
    return parts


def _frontends(gateway):
    try:
        return gateway.getServiceNamed("frontends")
    except KeyError:
        return gateway


def _mount(root, parts: Installed, enabled) -> None:
    admin = AdminRoot()
    admin.putChild(b"api", parts.api)
    root.putChild(b"admin", admin)
    root.putChild(b"console", console_resource(enabled))
    root.putChild(b"metrics", parts.metrics_resource)
    sync, v1 = resource.Resource(), resource.Resource()
    sync.putChild(b"v1", v1)
    v1.putChild(b"changes", parts.feed)
    root.putChild(b"sync", sync)


def _ready(engine, gateway, config, parts: Installed, nodes, reactor):
    metrics = parts.metrics
    engine.dispatcher.observers.append(metrics.observe_send)
    engine.acceptor = MeteredAcceptor(engine.acceptor, metrics)   # frontends built after this count too
    engine.tracker = MeteredSink(engine.tracker, metrics)         # Engine.report / deliver_mo go through it
    archive = Archive(engine.redis, reactor, config.redis["timeout"])
    puller = None
    if nodes:
        puller = Puller(archive, nodes, reactor, config.sync["interval"],
                        client=FeedClient(reactor, config.sync["timeout"]), timeout=config.redis["timeout"])
        puller.setServiceParent(parts.services)
    Retention(engine.redis, reactor, config.archive["retention_days"]).setServiceParent(parts.services)
    ctx = AdminContext(
        node=engine.node, config=config, redis=engine.redis, clock=reactor, accounts=engine.accounts,
        acceptor=engine.acceptor, queues=engine.queues, router=engine.router, providers=engine.providers,
        archive=archive, auth=AdminAuth(config.admin["token"], engine.accounts, config.admin["accounts"],
                       _admin_failures(engine.redis, reactor, config)),
        puller=puller, metrics=metrics, notifier=engine.notifier,
        registries=lambda: _registries(gateway), load_routes=_route_loader(config),
    )
    parts.context = parts.api.context = parts.feed.context = parts.metrics_resource.context = ctx
    log.info("admin API {state}, console at /console/, metrics at /metrics, {nodes} sync node(s)",
             state="enabled" if config.admin["token"] else "disabled (no [admin] token)", nodes=len(nodes))
    return engine


def _admin_failures(redis, reactor, config) -> FailedLogins:
    """Bad admin credentials per address, counted on every node (the ``[http]`` login limits)."""
    limit, window, block = (config.http[k] for k in ("failed_login_limit", "failed_login_window",
                                                      "failed_login_block"))
    return FailedLogins(reactor, limit, window, block,
                        shared=shared_logins(redis, reactor, "admin_ip"))


def _registries(root) -> list:
    """The SMPP servers' bind registries found in the service tree (any service whose factory has one)."""
    found, todo = [], [root]
    while todo:
        current = todo.pop()
        registry = getattr(getattr(current, "factory", None), "registry", None)
        if registry is not None and hasattr(registry, "sessions"):
            found.append(registry)
        if isinstance(current, service.MultiService):
            todo.extend(current)
    return found


def _route_loader(config):
    if config.defaults_only:
        return None

    def load_routes():
        from gateway.config import load
        from gateway.engine import build_router

        return build_router(load(config.source)).routes

    return load_routes
