"""
Fixtures of the sync tests: a "remote" node (its own Redis database, its
acceptor and its change feed served on a loopback port) and the local
archive that pulls from it.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.web import resource, server

from gateway.admin.auth import AdminAuth
from gateway.archive.query import Archive
from gateway.model import IdGenerator
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.accounts import AccountStore
from gateway.store.connection import connect
from gateway.store.passwords import api_key_digest
from gateway.model import Account
from gateway.sync.feed import ChangesResource

TOKEN = "remote-admin-token"


class Remote:
    def __init__(self, redis, acceptor, url, port):
        self.redis, self.acceptor, self.url, self.port = redis, acceptor, url, port

    async def send(self, *texts, account="acme", to="79001234567"):
        from gateway.model import Submit
        acct = Account(account, throughput=0, dedup_window=0)
        return [await self.acceptor.accept(acct, Submit(destination=to, text=t)) for t in texts]


@pytest_twisted.async_yield_fixture
async def remote(redis, redis_server):
    conn = await connect(redis_server.url.rsplit("/", 1)[0] + "/1", poolsize=1, reply_timeout=10)
    accounts = AccountStore(conn, reactor)
    await accounts.put(Account("acme", api_keys=(api_key_digest("key-acme"),)))
    await accounts.put(Account("shop", api_keys=(api_key_digest("key-shop"),)))
    acceptor = Acceptor(conn, Router([Route("all", providers=("up",))]), IdGenerator(3), reactor, node="remote-1")
    root = resource.Resource()
    sync = resource.Resource()
    v1 = resource.Resource()
    root.putChild(b"sync", sync)
    sync.putChild(b"v1", v1)
    feed = SimpleNamespace(archive=Archive(conn, reactor), auth=AdminAuth(TOKEN, accounts), node="remote-1")
    v1.putChild(b"changes", ChangesResource(feed))
    site = server.Site(root)
    site.noisy = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield Remote(conn, acceptor, f"http://127.0.0.1:{port.getHost().port}", port)
    await port.stopListening()
    await conn.disconnect()


@pytest.fixture
def archive(redis):
    return Archive(redis, reactor)
