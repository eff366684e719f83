"""Telegram bot in webhook mode: setWebhook at start, updates POSTed to /telegram/<provider> over real loopback HTTP."""

from __future__ import annotations

import json
import re

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor, task
from twisted.logger import formatEvent, globalLogPublisher

from gateway.config import load
from gateway.http.context import PendingContext
from gateway.http.site import add_apis, make_site
from gateway.model import Outcome
from gateway.providers.options import ProviderOptionError
from gateway.providers.telegram.bot import BotOptions, BotProvider
from gateway.providers.telegram.links import PhoneLinks
from gateway.providers.telegram.webhook import derived_secret
from tests.channels.support import RecordingSink, bounded, message

PHONE = "79001234567"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Site:
    """The gateway's HTTP site with the APIs mounted as `install_http` does; ``providers`` by name."""

    def __init__(self, port, providers):
        self.port = port
        self.url = f"http://127.0.0.1:{port.getHost().port}"
        self.providers = providers

    async def post(self, path, body, secret=None, raw=None):
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[HEADER] = secret
        data = raw if raw is not None else json.dumps(body).encode()
        response = await bounded(treq.post(self.url + path, data=data, headers=headers))
        return response.code, await bounded(response.content())


@pytest_twisted.async_yield_fixture
async def site():
    providers: dict = {}
    web = make_site(load(None, {"gateway": {"node": "t"}}), None)
    add_apis(web.resource, PendingContext(providers))
    port = reactor.listenTCP(0, web, interface="127.0.0.1")
    yield Site(port, providers)
    await port.stopListening()


def options(telegram, **extra) -> dict:
    config = {"token": telegram.token, "bot": "shop_bot", "api_url": telegram.url, "long_poll": "0",
              "poll_interval": "5", "webhook_url": "https://bots.example.org/telegram/tg"}
    config.update(extra)
    return config


def webhook_bot(telegram, redis, site=None, clock=None, links=True, **extra) -> BotProvider:
    if site is not None:
        extra.setdefault("webhook_url", site.url + "/telegram/tg")
        extra.setdefault("webhook_insecure", "yes")
    bot = BotProvider("tg", BotOptions.parse("tg", options(telegram, **extra)), RecordingSink(), reactor,
                      clock=clock or task.Clock(), links=PhoneLinks(redis, reactor, "shop_bot") if links else None)
    if site is not None:
        site.providers["tg"] = bot
    return bot


class Logs:
    """The text of every gateway log event while in the ``with`` block."""

    def __enter__(self):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        return self

    def __exit__(self, *exc):
        globalLogPublisher.removeObserver(self.events.append)

    @property
    def lines(self) -> list[str]:
        return [formatEvent(e) for e in self.events if e.get("log_namespace", "").startswith("gateway")]


@pytest_twisted.ensureDeferred
async def test_webhook_mode_sets_the_webhook_with_url_and_secret_and_does_not_poll(telegram, redis):
    clock = task.Clock()
    bot = webhook_bot(telegram, redis, clock=clock)
    bot.startService()
    try:
        await bounded(bot._registration._call)
        (call,) = telegram.calls("/setWebhook")
        secret = bot.options.webhook.secret
        assert call["body"] == {"url": "https://bots.example.org/telegram/tg", "secret_token": secret,
                                "allowed_updates": ["message"], "drop_pending_updates": False}
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)
        clock.advance(60)
        assert telegram.calls("/getUpdates") == [] and bot._loop is None
    finally:
        await bot.stopService()
    assert telegram.calls("/deleteWebhook") == []  # other nodes may still serve the webhook


def test_the_secret_is_the_configured_one_or_derived_from_the_token(telegram):
    first = BotOptions.parse("tg", options(telegram)).webhook.secret
    assert first == BotOptions.parse("tg", options(telegram)).webhook.secret == derived_secret(telegram.token,
                                                                                              "shop_bot")
    assert BotOptions.parse("tg", options(telegram, token="456:OTHER")).webhook.secret != first
    assert telegram.token not in first
    assert BotOptions.parse("tg", options(telegram, webhook_secret="s3cret_-X")).webhook.secret == "s3cret_-X"
    assert "s3cret" not in repr(BotOptions.parse("tg", options(telegram, webhook_secret="s3cret_-X")))
    assert not BotOptions.parse("tg", options(telegram, webhook_url="")).webhook  # polling mode


@pytest.mark.parametrize("extra, key, problem", [
    ({"webhook_url": "http://bots.example.org/telegram/tg"}, "webhook_url", "https"),
    ({"webhook_url": "https://bots.example.org:8080/telegram/tg"}, "webhook_url", "ports 443, 80, 88 or 8443"),
    ({"webhook_url": "bots.example.org/telegram/tg"}, "webhook_url", "URL"),
    ({"webhook_secret": "has spaces"}, "webhook_secret", "1 to 256 characters"),
    ({"webhook_secret": "x" * 257}, "webhook_secret", "1 to 256 characters"),
    ({"webhook_url": "", "webhook_secret": "abc"}, "webhook_secret", "only used with webhook_url"),
    ({"webhook_insecure": "maybe"}, "webhook_insecure", "yes or no"),
])
def test_webhook_options_are_validated_with_clear_errors(telegram, extra, key, problem):
    with pytest.raises(ProviderOptionError) as info:
        BotOptions.parse("tg", options(telegram, **extra))
    assert info.value.key == key and problem in str(info.value)
    assert str(info.value).startswith(f"[provider:tg] {key} = ")


def test_webhook_on_port_8443_or_http_for_tests_is_accepted(telegram):
    assert BotOptions.parse("tg", options(telegram, webhook_url="https://b.example:8443/telegram/tg")).webhook
    assert BotOptions.parse("tg", options(telegram, webhook_url="http://127.0.0.1:9999/telegram/tg",
                                          webhook_insecure="yes")).webhook


@pytest_twisted.ensureDeferred
async def test_updates_posted_with_the_secret_link_the_phone_like_polling(telegram, redis, site):
    bot = webhook_bot(telegram, redis, site)
    secret = bot.options.webhook.secret
    start = telegram.user_message(555, text="/start")
    contact = telegram.user_message(555, contact={"phone_number": "+" + PHONE, "user_id": 555, "first_name": "A"})
    assert await site.post("/telegram/tg", start, secret) == (200, b'{"ok":true}')
    assert await site.post("/telegram/tg", contact, secret) == (200, b'{"ok":true}')
    welcome, linked = telegram.calls("/sendMessage")
    assert welcome["body"]["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    assert linked["body"]["reply_markup"] == {"remove_keyboard": True}
    assert await bot.links.chat(PHONE) == 555

    result = await bounded(bot.send(message(PHONE, "Your order has shipped", channel="bot", msg_id="b1",
                                            bot="shop_bot")))
    assert result.outcome == Outcome.SENT and result.upstream_ids[0].startswith("555:")

    stop = telegram.user_message(555, text="/stop")
    assert (await site.post("/telegram/tg", stop, secret))[0] == 200
    assert await bot.links.chat(PHONE) is None
    assert telegram.calls("/getUpdates") == []


@pytest_twisted.ensureDeferred
async def test_wrong_or_missing_secret_is_403_and_logged(telegram, redis, site):
    bot = webhook_bot(telegram, redis, site)
    contact = telegram.user_message(555, contact={"phone_number": PHONE, "user_id": 555, "first_name": "A"})
    with Logs() as logs:
        wrong, _ = await site.post("/telegram/tg", contact, "not-the-secret")
        missing, _ = await site.post("/telegram/tg", contact)
        almost, _ = await site.post("/telegram/tg", contact, bot.options.webhook.secret[:-1])
    assert wrong == missing == almost == 403
    assert await bot.links.chat(PHONE) is None and telegram.calls("/sendMessage") == []
    refusals = [line for line in logs.lines if "/telegram/tg" in line and "403" in line]
    assert len(refusals) == 3 and "X-Telegram-Bot-Api-Secret-Token" in refusals[0]
    assert not any(bot.options.webhook.secret in line for line in logs.lines)


@pytest_twisted.ensureDeferred
async def test_malformed_update_is_400_and_logged(telegram, redis, site):
    bot = webhook_bot(telegram, redis, site)
    secret = bot.options.webhook.secret
    with Logs() as logs:
        not_json = await site.post("/telegram/tg", None, secret, raw=b'{"update_id": 1, "message": ')
        not_update = await site.post("/telegram/tg", [1, 2], secret)
        no_id = await site.post("/telegram/tg", {"message": {"text": "/start"}}, secret)
    assert [code for code, _ in (not_json, not_update, no_id)] == [400, 400, 400]
    assert json.loads(not_json[1])["error"]["code"] == "bad_parameters"
    assert any("400" in line and "not valid JSON" in line for line in logs.lines)
    assert telegram.calls("/sendMessage") == []


@pytest_twisted.ensureDeferred
async def test_only_post_and_only_bots_in_webhook_mode(telegram, redis, site):
    webhook_bot(telegram, redis, site)
    got = await bounded(treq.get(site.url + "/telegram/tg"))
    assert got.code == 405 and got.headers.getRawHeaders("allow") == ["POST"]
    await got.content()
    site.providers["polling"] = BotProvider("polling", BotOptions.parse("polling", options(telegram, webhook_url="")),
                                            RecordingSink(), reactor, clock=task.Clock())
    for name in ("polling", "nobody"):
        code, body = await site.post(f"/telegram/{name}", {"update_id": 1}, "x")
        assert code == 404 and json.loads(body)["error"]["code"] == "not_found"


@pytest_twisted.ensureDeferred
async def test_update_that_fails_for_a_passing_reason_is_answered_503_and_handled_when_posted_again(
        telegram, redis, site):
    bot = webhook_bot(telegram, redis, site)
    secret = bot.options.webhook.secret
    contact = telegram.user_message(555, contact={"phone_number": PHONE, "user_id": 555, "first_name": "A"})
    telegram.flooded.add(555)  # the reply cannot be sent: Telegram must post the update again
    code, body = await site.post("/telegram/tg", contact, secret)
    assert code == 503 and json.loads(body)["error"]["code"] == "unavailable"
    telegram.flooded.clear()
    assert (await site.post("/telegram/tg", contact, secret))[0] == 200
    assert await bot.links.chat(PHONE) == 555
    assert telegram.calls("/sendMessage")[-1]["body"]["text"] == bot.options.texts["linked"]

    telegram.blocked.add(777)  # a refusal that will not pass: logged, answered 200, not posted forever
    assert (await site.post("/telegram/tg", telegram.user_message(777, text="/start"), secret))[0] == 200


@pytest_twisted.ensureDeferred
async def test_before_the_store_is_ready_updates_are_answered_503(telegram, redis, site):
    bot = webhook_bot(telegram, redis, site, links=False)
    code, _ = await site.post("/telegram/tg", telegram.user_message(555, text="/start"), bot.options.webhook.secret)
    assert code == 503 and telegram.calls("/sendMessage") == []


@pytest_twisted.ensureDeferred
async def test_a_poll_no_node_does_not_set_the_webhook_but_takes_the_updates_that_reach_it(telegram, redis, site):
    clock = task.Clock()
    bot = webhook_bot(telegram, redis, site, clock=clock, poll="no")
    bot.startService()
    try:
        clock.advance(60)
        assert bot._registration is None and telegram.calls("/setWebhook") == []
        start = telegram.user_message(555, text="/start")
        assert (await site.post("/telegram/tg", start, bot.options.webhook.secret))[0] == 200
        assert telegram.calls("/getUpdates") == []
    finally:
        await bot.stopService()


@pytest_twisted.ensureDeferred
async def test_setwebhook_is_tried_again_after_an_outage_and_a_refusal_is_logged(telegram, redis):
    clock = task.Clock()
    bot = webhook_bot(telegram, redis, clock=clock)
    telegram.down = True
    bot.startService()
    try:
        await bounded(bot._registration._call)
        assert not bot._registration.registered
        telegram.down = False
        clock.advance(5)
        await bounded(bot._registration._call)
        assert bot._registration.registered and len(telegram.calls("/setWebhook")) == 2
    finally:
        await bot.stopService()

    refused = webhook_bot(telegram, redis, clock=clock)
    telegram.refuse_webhook = "Bad Request: bad webhook: Failed to resolve host"
    with Logs() as logs:
        refused.startService()
        try:
            await bounded(refused._registration._call)
            clock.advance(3600)
            assert len(telegram.calls("/setWebhook")) == 3 and not refused._registration.registered
        finally:
            await refused.stopService()
    assert any("refused the webhook" in line and "Failed to resolve host" in line for line in logs.lines)


@pytest_twisted.ensureDeferred
async def test_stopping_during_setwebhook_cancels_it_and_leaves_no_timer():
    from twisted.internet import defer

    from gateway.providers.telegram.api import TelegramError
    from gateway.providers.telegram.webhook import Webhook, WebhookRegistration

    class HangingApi:
        async def call(self, method, **params):
            try:
                await defer.Deferred()  # Telegram never answers
            except defer.CancelledError:
                raise TelegramError(0, "Bot API unreachable: CancelledError", True) from None  # as BotApi does

    clock = task.Clock()
    registration = WebhookRegistration("tg", HangingApi(), clock, Webhook("https://b.example/telegram/tg", "s"))
    with Logs() as logs:
        registration.start()
        registration.stop()
    assert clock.getDelayedCalls() == [] and not registration.registered
    assert not any("setWebhook" in line for line in logs.lines)
