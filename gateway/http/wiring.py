"""
Putting the HTTP APIs and the callback worker into a running gateway, like
`gateway.admin.wiring` does for the admin parts:

    site = make_site(config, redis)
    install(gateway, engine, site, config, reactor)       # admin, console, metrics
    install_http(gateway, engine, site, config, reactor)   # this module

`install_http` mounts ``/sys/*.php``, ``/api/v1``, ``/dlr/<provider>`` and
``/telegram/<provider>`` at once (answering 503 until the store is up), and
when the engine is ready builds their `HttpContext` from the engine's store
objects and starts the `CallbackWorker`.  Call it after the admin `install`, so that the acceptor the
APIs use is the metered one the admin wiring puts in place.
"""

from __future__ import annotations

from gateway.http.callbacks import CallbackWorker
from gateway.http.context import HttpContext, PendingContext
from gateway.http.site import add_apis
from gateway.logs import Logger
from gateway.store.index import ArchiveIndex
from gateway.templates import TemplateStore

__all__ = ["install_http", "HttpParts"]

log = Logger(namespace="gateway.http.wiring")


class HttpParts:
    """What `install_http` put in place: the (pending) context and, once ready, the callback worker."""

    def __init__(self, context: PendingContext):
        self.context = context
        self.callbacks: CallbackWorker | None = None


def install_http(gateway, engine, site, config, reactor=None) -> HttpParts:
    """Mount the HTTP APIs on ``site`` and start the callback worker when ``engine`` is ready."""
    if reactor is None:
        from twisted.internet import reactor
    parts = HttpParts(PendingContext(engine.providers, engine.channels))
    add_apis(site.resource, parts.context)
    engine.whenReady().addCallback(_ready, gateway, config, parts, reactor)
    return parts


def _ready(engine, gateway, config, parts: HttpParts, reactor):
    timeout = config.redis["timeout"]
    context = HttpContext(
        redis=engine.redis, clock=reactor, acceptor=engine.acceptor, accounts=engine.accounts,
        messages=engine.messages, templates=TemplateStore(engine.redis, reactor, timeout),
        index=ArchiveIndex(engine.redis, reactor, timeout), node=engine.node,
        default_region=config.http["default_region"], admin_token=config.admin["token"],
        providers=engine.providers, channels=engine.channels,
        login_limits={key: value for key, value in config.http.items() if key.startswith("failed_login_")})
    parts.context.resolve(context)
    parts.callbacks = CallbackWorker(engine.redis, engine.accounts, engine.outbox, reactor,
                                     notifier=engine.notifier, signer=context.signer)
    parts.callbacks.setServiceParent(_frontends(gateway))
    log.info("HTTP APIs ready: /sys/send.php, /api/v1 (OpenAPI at /api/v1/openapi.json), "
             "/dlr/<provider>, /telegram/<provider>; callback worker started")
    return engine


def _frontends(gateway):
    try:
        return gateway.getServiceNamed("frontends")
    except KeyError:
        return gateway
