"""
Fixtures of the admin API tests: the admin resources (as `install` mounts
them) over the real Redis fixture, with an `AdminContext` built by hand from
the store objects, listening on a loopback port.

Accounts: ``acme`` (API key ``key-acme``) and ``ops`` (``key-ops``, listed in
``[admin] accounts``).  Providers: ``null`` (sends nowhere) and ``smsc``
(a service that can be stopped and started).
"""

from __future__ import annotations

import json

import pytest_twisted
import treq
from twisted.application import service
from twisted.internet import reactor
from twisted.web import resource, server
from zope.interface import implementer

from gateway.admin.api import AdminApi
from gateway.admin.auth import AdminAuth
from gateway.admin.console import AdminRoot, console_resource
from gateway.admin.context import AdminContext
from gateway.archive.query import Archive
from gateway.config import load
from gateway.interfaces import IProvider
from gateway.metrics import MeteredAcceptor, MeteredSink, Metrics, MetricsResource
from gateway.model import Account, IdGenerator, SendResult
from gateway.providers.null import NullProvider
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.accounts import AccountStore
from gateway.store.passwords import api_key_digest
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker
from gateway.sync.feed import ChangesResource

TOKEN = "admin-secret"


@implementer(IProvider)
class ServiceProvider(service.Service):
    """A provider with a connection: can be started and stopped."""

    def __init__(self, name):
        self.name = name

    def capacity(self):
        return 10 if self.running else 0

    def send(self, message):
        return SendResult.sent("x")


class Admin:
    """What a test talks to: ``request(method, path, body, token)`` → (status, JSON)."""

    def __init__(self, url, ctx, tracker, metrics):
        self.url, self.ctx, self.tracker, self.metrics = url, ctx, tracker, metrics

    async def request(self, method, path, body=None, token=TOKEN, headers=None):
        h = {"Authorization": f"Bearer {token}"} if token else {}
        h.update(headers or {})
        kw = {"data": json.dumps(body).encode()} if body is not None else {}
        response = await treq.request(method, self.url + path, headers=h, **kw)
        data = await response.content()
        try:
            return response.code, json.loads(data) if data else None
        except ValueError:
            return response.code, data

    async def get(self, path, **kw):
        return await self.request("GET", path, **kw)


async def build_admin(redis, token=TOKEN, config_text=None, tmp_path=None):
    accounts = AccountStore(redis, reactor)
    await accounts.put(Account("acme", api_keys=(api_key_digest("key-acme"),), throughput=0, dedup_window=0))
    await accounts.put(Account("ops", api_keys=(api_key_digest("key-ops"),)))
    metrics = Metrics("node-a", reactor)
    tracker = MeteredSink(Tracker(redis, IdGenerator(12), reactor, node="node-a", unmatched_retries=0), metrics)
    providers = {"null": NullProvider("null"), "smsc": ServiceProvider("smsc")}
    providers["smsc"].startService()
    router = Router([Route("sms", channel="*", providers=("null",))])
    acceptor = MeteredAcceptor(Acceptor(redis, router, IdGenerator(11), reactor, node="node-a"), metrics)
    config = load(None, {"admin": {"token": token}})
    ctx = AdminContext(node="node-a", config=config, redis=redis, clock=reactor, accounts=accounts,
                       acceptor=acceptor, queues=Queues(redis, reactor, max_attempts=1), router=router,
                       providers=providers, archive=Archive(redis, reactor),
                       auth=AdminAuth(token, accounts, ["ops"]), metrics=metrics)
    return ctx, tracker, metrics


def mount(ctx, metrics):
    root = resource.Resource()
    admin = AdminRoot()
    admin.putChild(b"api", AdminApi(ctx))
    root.putChild(b"admin", admin)
    root.putChild(b"console", console_resource(lambda: bool(ctx.auth.token)))
    root.putChild(b"metrics", MetricsResource(metrics, ctx))
    sync, v1 = resource.Resource(), resource.Resource()
    root.putChild(b"sync", sync)
    sync.putChild(b"v1", v1)
    v1.putChild(b"changes", ChangesResource(ctx))
    site = server.Site(root)
    site.noisy = False
    return site


@pytest_twisted.async_yield_fixture
async def admin(redis):
    ctx, tracker, metrics = await build_admin(redis)
    port = reactor.listenTCP(0, mount(ctx, metrics), interface="127.0.0.1")
    yield Admin(f"http://127.0.0.1:{port.getHost().port}", ctx, tracker, metrics)
    await port.stopListening()
