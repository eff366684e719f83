"""
Fixtures of the HTTP tests: the gateway's HTTP site over the real Redis
fixture, listening on a free loopback port, with accounts:

- ``acme``: password ``secret``, API key ``key-acme``, no limits, unlimited balance.
- ``shop``: API key ``key-shop``, balance 10.00, tariff 7: 2.50, forbidden word
  "casino", blacklist 79990000000, throughput 0, duplicate window 60 s.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor

from gateway.channels import Channels
from gateway.config import load
from gateway.http.context import HttpContext
from gateway.http.site import make_site
from gateway.model import Account, IdGenerator
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.accounts import AccountStore
from gateway.store.index import ArchiveIndex, IndexingAcceptor
from gateway.store.messages import MessageStore
from gateway.store.outbox import Outbox
from gateway.store.passwords import api_key_digest, hash_password
from gateway.store.tracker import Tracker
from gateway.templates import TemplateStore

PASSWORD_HASH = hash_password("secret", n=1024)
CHANNELS = Channels.discover()


class Gateway:
    """The parts a test talks to: ``url``, ``ctx`` (HttpContext), the stores."""

    def __init__(self, redis, port, ctx, tracker, outbox, providers):
        self.redis = redis
        self.port = port
        self.url = f"http://127.0.0.1:{port.getHost().port}"
        self.ctx = ctx
        self.tracker = tracker
        self.outbox = outbox
        self.providers = providers

    async def get(self, path, **kw):
        return await treq.get(self.url + path, **kw)

    async def sent_message(self, request_id, account="acme", phone=None):
        """The message a send.php request of one phone (or ``phone`` of it) made."""
        return await message_of_request(self.redis, self.ctx.messages, account, request_id, phone)

    async def post(self, path, **kw):
        return await treq.post(self.url + path, **kw)

    async def json(self, method, path, body=None, key="key-acme", **kw):
        headers = {"X-API-Key": key} if key else {}
        headers.update(kw.pop("headers", {}))
        if body is not None:
            kw["json"] = body
        response = await treq.request(method, self.url + path, headers=headers, **kw)
        data = await response.content()
        return response.code, (None if not data else __import__("json").loads(data))


async def message_of_request(redis, messages, account, request_id, phone=None):
    """The message send.php request ``request_id`` of ``account`` made (for ``phone``)."""
    from gateway.store import keys

    key = keys.smsc_request(account, str(request_id))
    mapped = await redis.hget(key, phone) if phone else (await redis.hvals(key) or [None])[0]
    return await messages.get(mapped) if mapped else None


def accounts():
    return [
        Account(name="acme", password=PASSWORD_HASH, api_keys=(api_key_digest("key-acme"),),
                throughput=0, dedup_window=0),
        Account(name="shop", api_keys=(api_key_digest("key-shop"),), throughput=0, dedup_window=60,
                balance=Decimal("10.00"), tariff={"7": Decimal("2.50")}, forbidden_words=("casino",),
                blacklist=frozenset({"79990000000"})),
    ]


@pytest_twisted.async_yield_fixture
async def gateway(redis):
    store = AccountStore(redis, reactor)
    for account in accounts():
        await store.put(account)
    router = Router([Route("sms", channel="sms", providers=("null",)),
                     Route("mail", channel="mail", providers=("null",)),
                     Route("hlr", channel="hlr", providers=("null",))])
    index = ArchiveIndex(redis, reactor)
    acceptor = IndexingAcceptor(Acceptor(redis, router, IdGenerator(41), reactor, node="t",
                                         channels=CHANNELS), index)
    tracker = Tracker(redis, IdGenerator(42), reactor, node="t", unmatched_retries=0)
    providers = {}
    ctx = HttpContext(redis=redis, clock=reactor, acceptor=acceptor, accounts=store,
                      messages=MessageStore(redis, reactor), templates=TemplateStore(redis, reactor),
                      index=index, node="t", admin_token="admin-token", providers=providers,
                      account_ttl=0.0)
    site = make_site(load(None, {"gateway": {"node": "t"}}), redis_service=None, context=ctx)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield Gateway(redis, port, ctx, tracker, Outbox(redis, reactor, lease=30), providers)
    await port.stopListening()


@pytest.fixture
def curl():
    import shutil

    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed")
    return path
