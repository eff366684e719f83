"""Telegram: the bot links phones to chats and sends to them; the Gateway API sends codes (local API servers)."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor, task

from gateway.model import Outcome, State
from gateway.providers.telegram.bot import NOT_LINKED, NOT_LINKED_REASON, OTHER_BOT, BotOptions, BotProvider
from gateway.providers.telegram.codes import NOT_ON_TELEGRAM, BadCallback, GatewayOptions, GatewayProvider
from gateway.providers.telegram.links import PhoneLinks
from tests.channels.support import RecordingSink, bounded, message

PHONE = "79001234567"


def bot_provider(telegram, redis, sink=None, clock=None, **options):
    config = {"token": telegram.token, "bot": "@shop_bot", "api_url": telegram.url, "long_poll": "0",
              "poll_interval": "5"}
    config.update(options)
    links = PhoneLinks(redis, reactor, "shop_bot")
    return BotProvider("tg", BotOptions.parse("tg", config), sink or RecordingSink(), reactor,
                       clock=clock or task.Clock(), links=links)


def bot_message(destination=PHONE, text="Your order has shipped", bot="shop_bot", msg_id="b1"):
    return message(destination, text, channel="bot", msg_id=msg_id, bot=bot)


@pytest_twisted.ensureDeferred
async def test_start_then_own_contact_links_the_phone_and_messages_reach_the_chat(telegram, redis):
    clock, sink = task.Clock(), RecordingSink()
    bot = bot_provider(telegram, redis, sink, clock)
    telegram.user_message(555, text="/start")
    telegram.user_message(555, contact={"phone_number": "+" + PHONE, "user_id": 555, "first_name": "A"})
    bot.startService()  # the first poll runs at once, on the injected clock
    try:
        await bounded(bot._polling)
        welcome, linked = telegram.calls("/sendMessage")
        keyboard = welcome["body"]["reply_markup"]["keyboard"]
        assert keyboard[0][0]["request_contact"] is True
        assert linked["body"]["reply_markup"] == {"remove_keyboard": True}
        assert await bot.links.chat(PHONE) == 555
        assert await bot.links.offset() == 1002

        clock.advance(5)  # the next poll asks from the saved offset
        await bounded(bot._polling)
        assert telegram.calls("/getUpdates")[-1]["body"]["offset"] == 1002

        result = await bounded(bot.send(bot_message()))
        assert result.outcome == Outcome.SENT and result.upstream_ids[0].startswith("555:")
        sent = telegram.calls("/sendMessage")[-1]["body"]
        assert (sent["chat_id"], sent["text"]) == (555, "Your order has shipped")
        clock.advance(0)
        assert sink.reports[-1][1:3] == (result.upstream_ids[0], State.DELIVERED)
    finally:
        await bot.stopService()


@pytest_twisted.ensureDeferred
async def test_someone_elses_contact_is_not_linked(telegram, redis):
    bot = bot_provider(telegram, redis)
    telegram.user_message(777, contact={"phone_number": PHONE, "user_id": 555, "first_name": "Not me"})
    assert await bounded(bot.poll()) == 1
    assert await bot.links.chat(PHONE) is None
    assert "own contact" in telegram.calls("/sendMessage")[-1]["body"]["text"]


@pytest_twisted.ensureDeferred
async def test_an_update_failing_for_a_passing_reason_is_fetched_again_at_the_next_poll(telegram, redis):
    bot = bot_provider(telegram, redis)
    telegram.blocked.add(777)
    telegram.user_message(777, text="/start")  # refused for good (blocked): skipped
    telegram.user_message(555, contact={"phone_number": PHONE, "user_id": 555, "first_name": "A"})
    telegram.flooded.add(555)  # the reply to the contact cannot be sent now
    assert await bounded(bot.poll()) == 1
    assert await bot.links.offset() == 1001  # past the skipped update, not past the failed one
    telegram.flooded.clear()
    assert await bounded(bot.poll()) == 1
    assert telegram.calls("/getUpdates")[-1]["body"]["offset"] == 1001
    assert await bot.links.chat(PHONE) == 555 and await bot.links.offset() == 1002


@pytest_twisted.ensureDeferred
async def test_stop_unlinks_the_chat(telegram, redis):
    bot = bot_provider(telegram, redis)
    await bot.links.link(PHONE, 555)
    telegram.user_message(555, text="/stop")
    await bounded(bot.poll())
    assert await bot.links.chat(PHONE) is None


@pytest_twisted.ensureDeferred
async def test_unlinked_phone_is_undeliverable_with_a_clear_reason(telegram, redis):
    result = await bounded(bot_provider(telegram, redis).send(bot_message("79990000000")))
    assert (result.outcome, result.error_code, result.reason) == (Outcome.PERMANENT, NOT_LINKED, NOT_LINKED_REASON)
    assert NOT_LINKED_REASON == "phone not linked to the bot"


@pytest_twisted.ensureDeferred
async def test_message_for_another_bot_fails_over(telegram, redis):
    result = await bounded(bot_provider(telegram, redis).send(bot_message(bot="other_bot")))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, OTHER_BOT)


@pytest_twisted.ensureDeferred
async def test_blocked_bot_is_permanent_and_outage_is_temporary(telegram, redis):
    bot = bot_provider(telegram, redis)
    await bot.links.link(PHONE, 555)
    telegram.blocked.add(555)
    result = await bounded(bot.send(bot_message()))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, 403)
    telegram.blocked.clear()
    telegram.down = True
    assert (await bounded(bot.send(bot_message()))).outcome == Outcome.TEMPORARY


@pytest_twisted.ensureDeferred
async def test_wrong_token_is_temporary_and_not_logged(telegram, redis):
    from twisted.logger import globalLogPublisher

    seen = []
    globalLogPublisher.addObserver(seen.append)
    try:
        bot = bot_provider(telegram, redis, token="999:WRONG")
        await bot.links.link(PHONE, 555)
        assert (await bounded(bot.send(bot_message()))).outcome == Outcome.TEMPORARY
    finally:
        globalLogPublisher.removeObserver(seen.append)
    from twisted.logger import formatEvent

    ours = [formatEvent(e) for e in seen if e.get("log_namespace", "").startswith("gateway")]
    assert ours and not any("WRONG" in text for text in ours)


def gateway_provider(telegram, sink, **options):
    config = {"token": telegram.gateway_token, "api_url": telegram.url}
    config.update(options)
    return GatewayProvider("tgw", GatewayOptions.parse("tgw", config), sink, reactor)


@pytest_twisted.ensureDeferred
async def test_code_is_sent_with_the_gateway_api_and_reported_delivered(telegram):
    sink = RecordingSink()
    result = await bounded(gateway_provider(telegram, sink, ttl="60").send(
        message(PHONE, "482913", channel="tgm", msg_id="t1")))
    assert result.outcome == Outcome.SENT
    call = telegram.calls("/sendVerificationMessage")[-1]
    assert call["headers"]["authorization"] == "Bearer gw-token"
    assert call["body"] == {"phone_number": "+" + PHONE, "code": "482913", "payload": "t1", "ttl": 60}
    assert (await sink.when(1))[0][1:3] == (result.upstream_ids[0], State.DELIVERED)


@pytest_twisted.ensureDeferred
async def test_with_a_callback_url_the_status_comes_from_the_callback(telegram):
    sink = RecordingSink()
    provider = gateway_provider(telegram, sink, callback_url="https://gw.example/dlr/tgw?token=t", dlr_token="t")
    result = await bounded(provider.send(message(PHONE, "4829", channel="tgm")))
    await task.deferLater(reactor, 0, lambda: None)
    assert sink.reports == []
    request_id = result.upstream_ids[0]
    await provider.handle_dlr({}, {"request_id": request_id, "delivery_status": {"status": "read"}})
    assert sink.reports[-1][1:3] == (request_id, State.DELIVERED)
    assert provider.token_ok("t") and not provider.token_ok("x")
    with pytest.raises(BadCallback):
        provider.handle_dlr({}, {"request_id": request_id, "delivery_status": {"status": "lost"}})


@pytest_twisted.ensureDeferred
async def test_number_not_on_telegram_is_permanent(telegram):
    provider = gateway_provider(telegram, RecordingSink())
    result = await bounded(provider.send(message("999123456", "1234", channel="tgm")))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, NOT_ON_TELEGRAM)


@pytest_twisted.ensureDeferred
async def test_bad_gateway_token_is_temporary(telegram):
    result = await bounded(gateway_provider(telegram, RecordingSink(), token="nope").send(
        message(PHONE, "1234", channel="tgm")))
    assert result.outcome == Outcome.TEMPORARY


@pytest_twisted.ensureDeferred
async def test_the_bot_gets_its_store_from_the_engine_and_polls_once_it_is_ready(telegram, redis):
    from twisted.internet import defer
    from zope.interface import implementer

    from gateway.interfaces import IStoreAccess

    @implementer(IStoreAccess)
    class Engine(RecordingSink):
        def __init__(self):
            super().__init__()
            self.ready = defer.Deferred()
            self.redis = redis

        def whenReady(self):
            return self.ready

    engine, clock = Engine(), task.Clock()
    bot = BotProvider("tg", BotOptions.parse("tg", {"token": telegram.token, "bot": "shop_bot",
                                                    "api_url": telegram.url, "long_poll": "0"}),
                      engine, reactor, clock=clock)
    bot.startService()
    try:
        assert bot.capacity() == 0 and telegram.calls("/getUpdates") == []
        engine.ready.callback(engine)
        await bounded(bot._polling)
        assert bot.capacity() == 10 and len(telegram.calls("/getUpdates")) == 1
    finally:
        await bot.stopService()
