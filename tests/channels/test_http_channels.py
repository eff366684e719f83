"""
The channels over HTTP, end to end: smsc.ru-style ``/sys/send.php`` flags
(mail+subj, call+voice, viber, soc, tg, bot, hlr, ping) and the JSON API's
``channel`` field, through the real HTTP site, Redis, dispatcher and each
channel's provider; refusals answered with the API's error.
"""

from __future__ import annotations

import json

import pytest_twisted
import treq
from twisted.internet import reactor

from gateway.channels import Channels
from gateway.channels.hlr import hlr_text
from gateway.config import load
from gateway.dispatch import Dispatcher
from gateway.http.callbacks import report_fields
from gateway.http.context import HttpContext
from gateway.http.site import make_site
from gateway.model import Account, IdGenerator, State
from gateway.providers.hlr.provider import from_options as hlr_provider
from gateway.providers.null import NullProvider
from gateway.providers.smtp import from_options as smtp_provider
from gateway.providers.telegram.bot import BotOptions, BotProvider
from gateway.providers.telegram.codes import from_options as tgm_provider
from gateway.providers.telegram.links import PhoneLinks
from gateway.providers.vendor import social, viber, voice
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.accounts import AccountStore
from gateway.store.index import ArchiveIndex, IndexingAcceptor
from gateway.store.messages import MessageStore
from gateway.store.outbox import Outbox
from gateway.store.passwords import api_key_digest
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker
from gateway.templates import TemplateStore
from tests.channels.fakes import FakeTelegram, FakeVendor, serve
from tests.dispatch.support import eventually

KEY = "key-shop"
PHONE = "79261234567"
CHANNELS = ("sms", "mail", "call", "viber", "soc", "tgm", "bot", "hlr", "ping")


@pytest_twisted.async_yield_fixture
async def site(redis, relay):
    telegram, vendor = FakeTelegram(), FakeVendor()
    telegram.url, tg_port = await serve(telegram)
    vendor.url, vendor_port = await serve(vendor)
    vendor.replies["/send"] = (200, {"id": 1})
    accounts = AccountStore(redis, reactor)
    await accounts.put(Account("shop", api_keys=(api_key_digest(KEY),), throughput=0, dedup_window=0,
                               dlr_url="http://127.0.0.1:9/dlr"))  # DLRs wait in the outbox (no callback worker)
    router = Router([Route(name, channel=name, providers=(name if name != "ping" else "sms",)) for name in CHANNELS])
    acceptor = Acceptor(redis, router, IdGenerator(51), reactor, node="h", channels=Channels.discover())
    tracker = Tracker(redis, IdGenerator(52), reactor, node="h", unmatched_delay=0.05)
    web = {"url": vendor.url + "/send", "method": "json",
           "body": '{"to": "%phone%", "text": "%text%", "voice": "%voice%"}'}
    bot = BotProvider("bot", BotOptions.parse("bot", {"token": telegram.token, "bot": "shop_bot",
                                                      "api_url": telegram.url, "poll": "no"}),
                      tracker, reactor, links=PhoneLinks(redis, reactor, "shop_bot"))
    await bot.links.link(PHONE, 555)
    providers = [NullProvider("sms", sink=tracker, clock=reactor),
                 smtp_provider("mail", {"host": "127.0.0.1", "port": str(relay[1]), "tls": "none",
                                        "from": "n@shop.test"}, tracker, reactor),
                 voice("call", dict(web), tracker, reactor), viber("viber", dict(web), tracker, reactor),
                 social("soc", dict(web), tracker, reactor),
                 tgm_provider("tgm", {"token": telegram.gateway_token, "api_url": telegram.url}, tracker, reactor),
                 bot, hlr_provider("hlr", {}, tracker, reactor)]
    dispatcher = Dispatcher(Queues(redis, reactor), providers, "h#1", reactor, poll_interval=60, backoff_base=0.01)
    acceptor.add_listener(dispatcher.wake)
    dispatcher.startService()
    index = ArchiveIndex(redis, reactor)
    ctx = HttpContext(redis=redis, clock=reactor, acceptor=IndexingAcceptor(acceptor, index), accounts=accounts,
                      messages=MessageStore(redis, reactor), templates=TemplateStore(redis, reactor), index=index,
                      node="h", account_ttl=0.0)
    port = reactor.listenTCP(0, make_site(load(None, {"gateway": {"node": "h"}}), redis_service=None, context=ctx),
                             interface="127.0.0.1")
    state = type("Site", (), {"url": f"http://127.0.0.1:{port.getHost().port}", "telegram": telegram,
                              "vendor": vendor, "relay": relay[0], "messages": ctx.messages,
                              "outbox": Outbox(redis, reactor), "redis": redis})
    yield state
    await port.stopListening()
    await dispatcher.stopService()
    await tg_port.stopListening()
    await vendor_port.stopListening()


async def send_php(site, **params):
    """The fmt=3 answer, its request id replaced by the id of the message it made."""
    from tests.http.conftest import message_of_request

    params.update(apikey=KEY, fmt="3", charset="utf-8")
    response = await treq.get(site.url + "/sys/send.php", params=params)
    answer = json.loads((await response.content()).decode())
    if "id" in answer:
        answer["id"] = (await message_of_request(site.redis, site.messages, "shop", answer["id"])).id
    return answer


async def api(site, body):
    response = await treq.post(site.url + "/api/v1/messages", json=body, headers={"X-API-Key": KEY})
    return response.code, json.loads((await response.content()).decode())


async def state_of(site, msg_id, wanted=State.DELIVERED):
    await eventually(lambda: site.messages.get(msg_id).addCallback(lambda m: m.state == wanted))
    return await site.messages.get(msg_id)


@pytest_twisted.ensureDeferred
async def test_send_php_flags_select_each_channel(site):
    mail = await send_php(site, phones="al@example.org", mes="Your order shipped", mail="1", subj="Order 42")
    call = await send_php(site, phones=PHONE, mes="Code 4821", call="1", voice="w2")
    vib = await send_php(site, phones=PHONE, mes="Sale", viber="1")
    soc = await send_php(site, phones=PHONE, mes="Hi", soc="1")
    tgm = await send_php(site, phones=PHONE, mes="482913", tg="1")
    bot = await send_php(site, phones=PHONE, mes="Shipped", bot="@shop_bot")
    ping = await send_php(site, phones=PHONE, ping="1")
    for answer in (mail, call, vib, soc, tgm, bot, ping):
        assert "id" in answer, answer
    for answer in (mail, call, vib, soc, tgm, bot):
        await state_of(site, answer["id"])
    assert b"Subject: Order 42" in site.relay.received[-1].content
    assert {"to": PHONE, "text": "Code 4821", "voice": "w2"} in [r["body"] for r in site.vendor.requests]
    assert site.telegram.calls("/sendVerificationMessage")[-1]["body"]["code"] == "482913"
    assert site.telegram.calls("/sendMessage")[-1]["body"] == {"chat_id": 555, "text": "Shipped"}
    message = await state_of(site, ping["id"])
    assert (message.channel, message.extra["protocol_id"]) == ("ping", 0x40)


@pytest_twisted.ensureDeferred
async def test_hlr_over_http_reports_the_hlr_fields_in_the_callback(site):
    answer = await send_php(site, phones=PHONE, hlr="1")
    message = await state_of(site, answer["id"])
    assert message.channel == "hlr"
    reports = [r for r in await site.outbox.take("shop", 100) if r.message_id == answer["id"]]
    fields = report_fields(reports[0])
    assert (fields["stat"], fields["mcc"], fields["mnc"], fields["net"], fields["cn"]) == (
        "DELIVRD", "250", "02", "MegaFon", "Russia")
    assert fields["hlr"] == hlr_text(reports[0]) and fields["hlr"].startswith(f"id:{answer['id']} stat:DELIVRD")


@pytest_twisted.ensureDeferred
async def test_json_api_channel_field_and_text_prefix(site):
    code, result = await api(site, {"messages": [
        {"to": PHONE, "channel": "tgm", "text": "4821"},
        {"to": PHONE, "channel": "bot", "bot": "@shop_bot", "text": "From the API"},
        {"to": PHONE, "text": "__VIBER__: via a prefix"},
        {"to": PHONE, "channel": "tgm", "text": "12"},
        {"to": PHONE, "channel": "bot", "text": "no bot named"},
    ]})
    assert code == 200, result
    results = result["results"]
    assert [r.get("error", {}).get("code") for r in results] == [None, None, None, "bad_parameters", "bad_parameters"]
    assert "4 to 8 digits" in results[3]["error"]["message"]
    viber_message = await state_of(site, results[2]["id"])
    assert (viber_message.channel, viber_message.text) == ("viber", "via a prefix")
    await state_of(site, results[1]["id"])
    assert site.telegram.calls("/sendMessage")[-1]["body"]["text"] == "From the API"


@pytest_twisted.ensureDeferred
async def test_send_php_refusal_of_a_bad_code_is_a_parameters_error(site):
    answer = await send_php(site, phones=PHONE, mes="12", tg="1")
    assert answer["error_code"] == 1, answer
