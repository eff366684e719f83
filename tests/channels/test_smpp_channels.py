"""
Every channel over SMPP, end to end: an independent client (smpplib) submits
prefixed texts to the real SMPP server; the messages go through the real
Redis, the dispatcher and each channel's provider (a real SMTP server, local
Telegram and vendor APIs, offline HLR); the DLRs come back as deliver_sm.
"""

from __future__ import annotations

import re

import pytest_twisted
from twisted.internet import defer, reactor

from gateway.channels import Channels
from gateway.dispatch import Dispatcher
from gateway.providers.hlr.provider import from_options as hlr_provider
from gateway.providers.null import NullProvider
from gateway.providers.smtp import from_options as smtp_provider
from gateway.providers.telegram.bot import BotOptions, BotProvider
from gateway.providers.telegram.codes import from_options as tgm_provider
from gateway.providers.telegram.links import PhoneLinks
from gateway.providers.vendor import social, viber, voice
from gateway.routing import Route, Router
from gateway.smpp.auth import make_portal
from gateway.smpp.server import SMPPServer, SMPPServerFactory
from gateway.smpp.text import gsm_encode
from gateway.store.accept import Acceptor
from gateway.store.accounts import AccountStore
from gateway.store.messages import MessageStore, new_id_generator
from gateway.store.notify import Notifier
from gateway.store.outbox import Outbox
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker
from tests.channels.fakes import FakeTelegram, FakeVendor, serve
from tests.smpp.live_support import Esme, live_account

PHONE = "79261234567"
CHANNELS = ("sms", "mail", "call", "viber", "soc", "tgm", "bot", "hlr", "ping")


@pytest_twisted.async_yield_fixture
async def apis():
    telegram, vendor = FakeTelegram(), FakeVendor()
    telegram.url, port1 = await serve(telegram)
    vendor.url, port2 = await serve(vendor)
    vendor.replies["/send"] = (200, {"id": 1})
    yield telegram, vendor
    await port1.stopListening()
    await port2.stopListening()


@pytest_twisted.async_yield_fixture
async def server(redis, redis_server, relay, apis):
    telegram, vendor = apis
    ids = await new_id_generator(redis, reactor)
    router = Router([Route(name, channel=name, providers=(name if name != "ping" else "sms",)) for name in CHANNELS])
    acceptor = Acceptor(redis, router, ids, reactor, node="ch", channels=Channels.discover())
    tracker = Tracker(redis, ids, reactor, node="ch", unmatched_delay=0.05)
    outbox = Outbox(redis, reactor, lease=30)
    accounts = AccountStore(redis, reactor)
    await accounts.put(live_account())
    notifier = Notifier(redis_server.url, reactor)
    notifier.startService()
    web = {"url": vendor.url + "/send", "method": "post", "body": "phones=%phone%&mes=%text%&voice=%voice%"}
    bot = BotProvider("bot", BotOptions.parse("bot", {"token": telegram.token, "bot": "shop_bot",
                                                      "api_url": telegram.url, "poll": "no"}),
                      tracker, reactor, links=PhoneLinks(redis, reactor, "shop_bot"))
    providers = [
        NullProvider("sms", sink=tracker, clock=reactor),
        smtp_provider("mail", {"host": "127.0.0.1", "port": str(relay[1]), "tls": "none", "from": "n@shop.test"},
                      tracker, reactor),
        voice("call", dict(web), tracker, reactor), viber("viber", dict(web), tracker, reactor),
        social("soc", dict(web), tracker, reactor),
        tgm_provider("tgm", {"token": telegram.gateway_token, "api_url": telegram.url}, tracker, reactor),
        bot, hlr_provider("hlr", {}, tracker, reactor),
    ]
    dispatcher = Dispatcher(Queues(redis, reactor), providers, "ch#1", reactor, notifier=notifier, outbox=outbox,
                            assembler=acceptor.parts, poll_interval=0.5)
    acceptor.add_listener(dispatcher.wake)
    dispatcher.startService()
    factory = SMPPServerFactory(acceptor=acceptor, messages=MessageStore(redis, reactor), outbox=outbox,
                                portal=make_portal(accounts), clock=reactor, settings={}, node="ch",
                                notifier=notifier)
    smpp = SMPPServer(factory, ["tcp:0:interface=127.0.0.1"], reactor, stop_on_failure=False)
    smpp.startService()
    await smpp.ready
    await notifier.whenSubscribed()
    smpp.bot, smpp.null, smpp.messages = bot, providers[0], MessageStore(redis, reactor)
    yield smpp
    for service in (smpp, dispatcher, notifier):
        await defer.maybeDeferred(service.stopService)


@pytest_twisted.async_yield_fixture
async def esme(server):
    client = Esme(server.ports[0].getHost().port)
    await client.run("bind", "transceiver")
    yield client
    await client.run("close")


def receipt_fields(pdu) -> dict:
    return dict(re.findall(r"(\w+):(\S*)", pdu.short_message.decode("ascii")))


async def submit(esme, text: str, destination=PHONE, gsm=True):
    """Submit ``text`` (GSM 03.38 octets, or ASCII as many clients send); the response PDU."""
    octets = gsm_encode(text) if gsm else text.encode("ascii")
    return await esme.run("submit", octets, destination, registered_delivery=1)


@pytest_twisted.ensureDeferred
async def test_every_channel_over_smpp_ends_with_a_delivered_receipt(server, esme, relay, apis):
    telegram, vendor = apis
    await server.bot.links.link(PHONE, 555)
    texts = [("hello", PHONE), ("__MAIL__: Order shipped\nsubj:Order 42", "al@ex.org"),
             ("__CALL__: Your code is 4821\nvoice:m2", PHONE), ("__VIBER__: Sale today", PHONE),
             ("__SOC__: Hi there", PHONE), ("__TGM__: 482913", PHONE), ("__BOT__: Shipped\nbot:@shop_bot", PHONE),
             ("__HLR__", PHONE), ("__PING__", PHONE)]
    ids = []
    for text, destination in texts:
        resp = await submit(esme, text, destination)
        assert resp.status == 0, text
        ids.append(resp.message_id.decode())
    delivered = await esme.run("wait_deliver", len(texts))
    by_id = {receipt_fields(pdu)["id"]: receipt_fields(pdu) for pdu in delivered}
    assert set(by_id) == set(ids)
    assert all(fields["stat"] == "DELIVRD" for fields in by_id.values()), by_id
    hlr = by_id[ids[7]]
    assert (hlr["mcc"], hlr["mnc"], hlr["cn"], hlr["net"]) == ("250", "02", "Russia", "MegaFon")
    assert "submit" not in hlr and "imsi" in hlr  # the HLR format, not the DLR one
    assert b"Subject: Order 42" in relay[0].received[-1].content
    sent = [r["body"] for r in vendor.requests]
    assert {"phones": PHONE, "mes": "Your code is 4821", "voice": "m2"} in sent
    assert telegram.calls("/sendVerificationMessage")[-1]["body"]["code"] == "482913"
    assert telegram.calls("/sendMessage")[-1]["body"] == {"chat_id": 555, "text": "Shipped"}
    ping = await server.messages.get(ids[8])
    assert (ping.channel, ping.extra["protocol_id"], ping.provider) == ("ping", 0x40, "sms")


@pytest_twisted.ensureDeferred
async def test_refusals_over_smpp_carry_the_channels_status(server, esme):
    assert (await submit(esme, "__TGM__: 12")).status == 0x0001
    assert (await submit(esme, "__BOT__: no bot line")).status == 0x0001
    assert (await submit(esme, "__MAIL__: to a phone")).status == 0x000B


@pytest_twisted.ensureDeferred
async def test_ascii_underscores_with_data_coding_0_still_select_the_channel(server, esme):
    resp = await submit(esme, "__HLR__", gsm=False)
    assert resp.status == 0
    message = await server.messages.get(resp.message_id.decode())
    assert message.channel == "hlr"


@pytest_twisted.ensureDeferred
async def test_unlinked_bot_phone_gets_an_undeliverable_receipt(server, esme):
    resp = await submit(esme, "__BOT__: Hi\nbot:@shop_bot", "79009990000")
    assert resp.status == 0
    (pdu,) = await esme.run("wait_deliver", 1)
    fields = receipt_fields(pdu)
    assert (fields["stat"], fields["err"]) == ("UNDELIV", "001")
