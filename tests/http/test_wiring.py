"""`install_http`: the APIs answer 503 until the engine is ready, then work; the callback worker runs."""

from __future__ import annotations

import pytest_twisted
import treq
from twisted.application import service
from twisted.internet import defer, reactor

from gateway.config import load
from gateway.http.site import make_site
from gateway.http.wiring import install_http
from gateway.store.messages import MessageStore
from gateway.store.outbox import Outbox


class Engine:
    """The attributes of `gateway.engine.Engine` the HTTP wiring reads."""

    def __init__(self, gateway):
        ctx = gateway.ctx
        self.providers, self.node, self.notifier, self.channels = {}, "t", None, ctx.channels
        self.redis, self.accounts, self.acceptor = ctx.redis, ctx.accounts, ctx.acceptor
        self.messages, self.outbox = MessageStore(ctx.redis, reactor), Outbox(ctx.redis, reactor)
        self.ready = defer.Deferred()

    def whenReady(self):
        return self.ready


@pytest_twisted.ensureDeferred
async def test_apis_wait_for_the_engine_then_serve(gateway):
    config = load(None, {"gateway": {"node": "t"}, "admin": {"token": "adm"}})
    root = service.MultiService()
    root.startService()
    engine = Engine(gateway)
    site = make_site(config, None)
    parts = install_http(root, engine, site, config, reactor)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}"
    try:
        early = await treq.get(url + "/api/v1/balance", headers={"X-API-Key": "key-acme"})
        assert early.code == 503 and (await early.json())["error"]["code"] == "unavailable"
        document = await treq.get(url + "/api/v1/openapi.json")  # the channels are known from the start
        assert document.code == 200
        schemas = (await document.json())["components"]["schemas"]
        assert schemas["MessageIn"]["properties"]["channel"]["enum"] == engine.channels.names
        engine.ready.callback(engine)
        late = await treq.get(url + "/api/v1/balance", headers={"X-API-Key": "key-acme"})
        assert late.code == 200 and (await late.json())["account"] == "acme"
        sent = await treq.get(url + "/sys/send.php", params={"apikey": "key-acme", "phones": "79001234567",
                                                            "mes": "wired", "fmt": "1"})
        assert (await sent.text()).endswith(",1")
        assert parts.callbacks is not None and parts.callbacks.running
    finally:
        await port.stopListening()
        await root.stopService()
