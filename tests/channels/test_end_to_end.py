"""
Channels end to end through the engine's own pieces, with the real Redis:
Acceptor (with the channel registry) → queues → Dispatcher → channel
provider (against a real SMTP server or a local vendor API) → Tracker →
the account's outbox, where the client's DLR waits.
"""

from __future__ import annotations

import re

import pytest
import pytest_twisted
from twisted.internet import reactor

from gateway.channels import Channels
from gateway.channels.hlr import hlr_text, is_hlr
from gateway.dispatch import Dispatcher
from gateway.model import Account, IdGenerator, State, Submit
from gateway.providers.hlr.provider import from_options as hlr_provider
from gateway.providers.null import NullProvider
from gateway.providers.smpp_options import parse_options as smpp_options
from gateway.providers.smpp_submit import SubmitBuilder
from gateway.providers.smtp import from_options as smtp_provider
from gateway.providers.telegram.bot import NOT_LINKED, BotOptions, BotProvider
from gateway.providers.telegram.links import PhoneLinks
from gateway.routing import Route, Router
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.receipt import parse_hlr
from gateway.store.accept import AcceptError, Acceptor
from gateway.store.messages import MessageStore
from gateway.store.outbox import Outbox
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker
from tests.dispatch.support import eventually

ACCOUNT = Account("shop", throughput=0, dedup_window=0)
# The regular expression smsc.ru gives its clients for parsing an HLR result.
HLR_RESULT = re.compile(r"^id:(\S+) stat:(\w+) err:(\d+) imsi:(\d*) msc:(\d*) mcc:(\d*) mnc:(\d*) "
                        r"cn:([^ ]*) net:([^ ]*) rcn:([^ ]*) rnet:([^ ]*)")


@pytest_twisted.async_yield_fixture
async def gateway(redis, relay, telegram):
    """The engine's pieces for routes sms, mail, hlr, bot and ping (no route for viber)."""
    router = Router([Route(channel, channel=channel, providers=(provider,)) for channel, provider in
                     (("sms", "sms"), ("ping", "sms"), ("mail", "mail"), ("hlr", "hlr"), ("bot", "shop_bot"))])
    acceptor = Acceptor(redis, router, IdGenerator(31), reactor, channels=Channels.discover())
    tracker = Tracker(redis, IdGenerator(32), reactor, unmatched_delay=0.05)  # a receipt may overtake the settle
    sms = NullProvider("sms")
    mail = smtp_provider("mail", {"host": "127.0.0.1", "port": str(relay[1]), "tls": "none",
                                  "from": "noreply@shop.test", "timeout": "10"}, tracker, reactor)
    hlr = hlr_provider("hlr", {"lookup": "numbering"}, tracker, reactor)
    bot = BotProvider("shop_bot", BotOptions.parse("shop_bot", {"token": telegram.token, "bot": "shop_bot",
                                                                 "api_url": telegram.url, "poll": "no"}),
                      tracker, reactor, links=PhoneLinks(redis, reactor, "shop_bot"))
    dispatcher = Dispatcher(Queues(redis, reactor), [sms, mail, hlr, bot], "e2e#1", reactor,
                            poll_interval=60, backoff_base=0.01)
    acceptor.add_listener(dispatcher.wake)
    dispatcher.startService()
    outbox = Outbox(redis, reactor)
    pieces = type("Gateway", (), {"acceptor": acceptor, "outbox": outbox, "sms": sms, "bot": bot,
                                  "messages": MessageStore(redis, reactor)})
    yield pieces
    await dispatcher.stopService()


async def dlrs(outbox, n=1):
    """The first ``n`` reports waiting for the account's client."""
    await eventually(lambda: outbox.pending(ACCOUNT.name).addCallback(lambda count: count >= n))
    reports = await outbox.take(ACCOUNT.name, 100)
    await outbox.ack(ACCOUNT.name, [r.id for r in reports])
    return reports


@pytest_twisted.ensureDeferred
async def test_hlr_request_comes_back_as_a_dlr_in_the_hlr_format(gateway):
    message = await gateway.acceptor.accept(ACCOUNT, Submit("79261234567", "__HLR__", registered_delivery=1))
    assert (message.channel, message.text) == ("hlr", "")
    (report,) = await dlrs(gateway.outbox)
    assert is_hlr(report) and report.state == State.DELIVERED
    text = hlr_text(report)
    match = HLR_RESULT.match(text)
    assert match, text
    assert match.groups() == (message.id, "DELIVRD", "000", "", "", "250", "02", "Russia", "MegaFon", "", "")
    assert parse_hlr(text).net == "MegaFon"


@pytest_twisted.ensureDeferred
async def test_hlr_of_an_invalid_number_is_undeliverable(gateway):
    await gateway.acceptor.accept(ACCOUNT, Submit("79261", "__HLR__", registered_delivery=1))
    (report,) = await dlrs(gateway.outbox)
    assert HLR_RESULT.match(hlr_text(report)).group(2, 3) == ("UNDELIV", "001")


@pytest_twisted.ensureDeferred
async def test_mail_prefix_is_sent_as_an_email_with_its_subject_and_the_comment_kept(gateway, relay):
    message = await gateway.acceptor.accept(ACCOUNT, Submit(
        "alice@example.org", "__MAIL__: Your order 42 has shipped.\nsubj:Order 42\n~~~\ncrm ticket 7",
        registered_delivery=1))
    assert (message.channel, message.text, message.comment, message.extra["subject"]) == (
        "mail", "Your order 42 has shipped.", "crm ticket 7", "Order 42")
    (report,) = await dlrs(gateway.outbox)
    assert report.state == State.DELIVERED
    content = relay[0].received[-1].content.decode()
    assert "Subject: Order 42" in content and "Your order 42 has shipped." in content
    assert "crm ticket" not in content


@pytest_twisted.ensureDeferred
async def test_bot_message_to_an_unlinked_phone_is_undeliverable_and_a_linked_one_arrives(gateway, telegram):
    await gateway.bot.links.link("79001112233", 4242)
    lost = await gateway.acceptor.accept(ACCOUNT, Submit("79009998877", "__BOT__: Hi\nbot:@shop_bot",
                                                         registered_delivery=1))
    sent = await gateway.acceptor.accept(ACCOUNT, Submit("79001112233", "__BOT__: Hello there\nbot:@shop_bot",
                                                         registered_delivery=1))
    reports = {r.message_id: r for r in await dlrs(gateway.outbox, 2)}
    assert (reports[lost.id].state, reports[lost.id].error) == (State.UNDELIVERABLE, NOT_LINKED)
    assert reports[sent.id].state == State.DELIVERED
    assert telegram.calls("/sendMessage")[-1]["body"] == {"chat_id": 4242, "text": "Hello there"}


@pytest_twisted.ensureDeferred
async def test_ping_goes_over_sms_with_protocol_id_0x40(gateway):
    message = await gateway.acceptor.accept(ACCOUNT, Submit("79001234567", "__PING__"))
    await eventually(lambda: gateway.messages.get(message.id).addCallback(lambda m: m.state == State.ENROUTE))
    assert message.id in gateway.sms.sent
    stored = await gateway.messages.get(message.id)
    (pdu,) = SubmitBuilder(smpp_options({"host": "smsc", "system_id": "x", "password": "y"}), reactor).build(stored)
    assert pdu.params["protocol_id"] == 0x40 and pdu.params["short_message"] == b""


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("submit, status", [
    (Submit("79001234567", "__TGM__: 12"), S.ESME_RINVMSGLEN),
    (Submit("79001234567", "__BOT__: no bot line"), S.ESME_RINVMSGLEN),
    (Submit("79001234567", "__MAIL__: to a phone"), S.ESME_RINVDSTADR),
    (Submit("79001234567", "__VIBER__: no provider configured"), S.VENDOR_NO_ROUTING_POLICY),
    (Submit("79001234567", "Hi", channel="tgm"), S.ESME_RINVMSGLEN),
    (Submit("79001234567", "Hi", channel="fax"), S.VENDOR_NO_ROUTING_POLICY),
])
async def test_refused_at_accept_time_with_the_channels_status(gateway, submit, status):
    with pytest.raises(AcceptError) as e:
        await gateway.acceptor.accept(ACCOUNT, submit)
    assert e.value.status == status


@pytest_twisted.ensureDeferred
async def test_a_long_message_in_parts_cannot_carry_a_channel_prefix(gateway):
    with pytest.raises(AcceptError) as e:
        await gateway.acceptor.accept_part(ACCOUNT, Submit("a@b.org", "__MAIL__: first part"), 7, 2, 1)
    assert e.value.status == S.ESME_RINVMSGLEN and "message_payload" in e.value.reason
