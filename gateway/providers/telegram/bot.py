"""
The Telegram bot provider (``[provider:NAME] type = telegram``), channel
``bot``: ``__BOT__: <message>\\nbot:@<bot_name>`` goes to the chat the
destination phone number is linked to (see `gateway.providers.telegram.links`)
with the Bot API's ``sendMessage``.

Outcomes: sent → the upstream id is ``<chat id>:<message id>`` and the
message is reported DELIVERED at once (the Bot API accepted it for the chat;
it has no delivery receipts); a phone not linked to the bot → permanent,
error code `NOT_LINKED` ("phone not linked to the bot"); a message for
another bot → permanent, `OTHER_BOT` (so a route listing several bots fails
over to the right one); a Bot API refusal → permanent with Telegram's
``error_code`` (403: the user blocked the bot); flood control (429), server
errors, no answer, Redis unreachable → temporary.

The provider is also a service that takes the bot's updates and hands each
to the `Linker`, which links phones to chats, in one of two modes:

- polling (default): while running it polls ``getUpdates`` (long polling,
  timers from the injected clock).  Poll from one node only (``poll = no`` on
  the others): Telegram answers 409 to concurrent pollers.
- webhook (``webhook_url`` set; see `gateway.providers.telegram.webhook`):
  at start it calls ``setWebhook`` and Telegram POSTs each update to
  ``webhook_url``, which the reverse proxy forwards to ``/telegram/<provider>``
  of the HTTP site (`gateway.http.telegram`, which calls `handle_update`).
  Nodes with ``poll = no`` do not call ``setWebhook`` but accept the updates
  that reach them.  ``deleteWebhook`` is never called: other nodes may still
  serve the webhook; switching back to polling needs it (see the README).

Either way an update is handled at least once: polling saves its offset only
past the updates handled, and stops a batch at an update that failed for a
reason that may pass (Redis, the Bot API unreachable or flooded), to fetch it
again at the next poll; the webhook answers such an update 503, so that
Telegram posts it again.  An update that fails otherwise (a bug, the user
blocked the bot) is logged and skipped, so that one bad update never stops
the bot.

Options: ``token`` (required; never logged), ``bot`` (required: the bot's
username, without @), ``api_url`` (default https://api.telegram.org),
``poll`` (yes), ``poll_interval`` (seconds between polls, 1),
``long_poll`` (seconds Telegram may hold a poll, 25; 0 for short polling),
``webhook_url`` (the public https URL Telegram posts updates to; set: webhook
mode, no polling), ``webhook_secret`` (its ``secret_token``; default: derived
from the token), ``webhook_insecure`` (no: allow an http:// URL or any port,
for tests),
``parse_mode`` (HTML, MarkdownV2 or empty), ``concurrency`` (10),
``timeout`` (30), ``ca_file``, and the bot's replies ``text_welcome``,
``text_share`` (the button), ``text_linked``, ``text_not_own``,
``text_stopped``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.application import service
from twisted.internet import defer, task
from zope.interface import implementer

from gateway.interfaces import IProvider, IStoreAccess
from gateway.logs import Logger
from gateway.model import SendResult, State
from gateway.providers.options import Options
from gateway.providers.telegram.api import BotApi, TelegramError
from gateway.providers.telegram.links import Linker, PhoneLinks, digits
from gateway.providers.telegram.webhook import ALLOWED_UPDATES, KEYS as WEBHOOK_KEYS, Webhook, WebhookRegistration
from gateway.providers.webapi import WebClient
from gateway.smpp.constants import CommandStatus
from gateway.store.scripting import StoreUnavailable
from gateway.providers.concurrent import ConcurrentSends

__all__ = ["BotProvider", "BotOptions", "from_options", "NOT_LINKED", "OTHER_BOT", "NOT_LINKED_REASON",
           "UpdateNotHandled"]

#: Error code (DLR ``err``) of a message to a phone that has not shared its contact with the bot.
NOT_LINKED = 1
NOT_LINKED_REASON = "phone not linked to the bot"
#: Error code of a message naming another bot (``bot:@other``).
OTHER_BOT = 2
TRANSPORT_ERROR = CommandStatus.VENDOR_TRANSPORT_ERROR

TEXTS = {
    "welcome": "Hello! Share your phone number with the button below to receive messages in this chat.",
    "share": "Share my phone number",
    "linked": "Thank you: messages for your number will now come to this chat.",
    "not_own": "Please share your own contact, with the button below.",
    "stopped": "You will no longer receive messages in this chat. Send /start to link your number again.",
}
_KNOWN = ("token", "bot", "api_url", "poll", "poll_interval", "long_poll", "parse_mode", "concurrency",
          "timeout", "ca_file") + WEBHOOK_KEYS + tuple(f"text_{k}" for k in TEXTS)


class UpdateNotHandled(Exception):
    """An update not handled for a reason that may pass (Redis, the Bot API): it must come again."""


@dataclass(frozen=True)
class BotOptions:
    token: str = field(repr=False)
    bot: str
    api_url: str = "https://api.telegram.org"
    poll: bool = True
    poll_interval: float = 1.0
    long_poll: int = 25
    parse_mode: str = ""
    concurrency: int = 10
    timeout: float = 30.0
    ca_file: str = ""
    texts: dict = field(default_factory=lambda: dict(TEXTS))
    webhook: Webhook = field(default_factory=Webhook)

    @classmethod
    def parse(cls, name: str, options: dict) -> "BotOptions":
        o = Options(name, options, _KNOWN)
        bot = o.text("bot", required=True).lstrip("@")
        parse_mode = o.text("parse_mode")
        if parse_mode not in ("", "HTML", "MarkdownV2", "Markdown"):
            raise o.bad("parse_mode", "expected HTML, MarkdownV2, Markdown or nothing")
        token = o.text("token", required=True)
        return cls(token=token, bot=bot,
                   api_url=o.url("api_url", "https://api.telegram.org"), poll=o.flag("poll", True),
                   poll_interval=o.number("poll_interval", 1, 0.05, 3600),
                   long_poll=o.integer("long_poll", 25, 0, 50), parse_mode=parse_mode,
                   concurrency=o.integer("concurrency", 10, 1, 1000), timeout=o.number("timeout", 30, 1, 600),
                   ca_file=o.text("ca_file"),
                   texts={k: o.text(f"text_{k}", v) or v for k, v in TEXTS.items()},
                   webhook=Webhook.parse(o, token, bot))


@implementer(IProvider)
class BotProvider(ConcurrentSends, service.Service):
    """See the module docstring.  ``links`` may be given (tests); else it comes from the store."""

    log = Logger()

    def __init__(self, name: str, options: BotOptions, sink, reactor=None, clock=None, links=None,
                 web: WebClient | None = None):
        if reactor is None:
            from twisted.internet import reactor
        self.name = name
        self.options = options
        self.sink = sink
        self.reactor = reactor
        self.clock = clock or reactor
        self.web = web or WebClient(reactor, options.concurrency, options.timeout, options.ca_file)
        self.api = BotApi(self.web, options.api_url, options.token)
        self.links = links
        self.linker = None if links is None else Linker(self.api, links, options.texts)
        self._loop = None
        self._polling = None
        self._registration: WebhookRegistration | None = None

    # -- IProvider

    def capacity(self) -> int:
        if self.links is None:
            return 0
        return max(0, self.options.concurrency - self._in_flight)

    async def _send(self, message) -> SendResult:
        wanted = str((message.extra or {}).get("bot", "")).lstrip("@")
        if wanted.lower() != self.options.bot.lower():
            return SendResult.permanent(OTHER_BOT, f"message for bot @{wanted}, {self.name} is @{self.options.bot}")
        if self.links is None:
            return SendResult.temporary(TRANSPORT_ERROR, "store not ready")
        try:
            chat_id = await self.links.chat(digits(message.destination))
        except StoreUnavailable as e:
            return SendResult.temporary(TRANSPORT_ERROR, e.reason)
        if chat_id is None:
            return SendResult.permanent(NOT_LINKED, NOT_LINKED_REASON)
        params = {"chat_id": chat_id, "text": message.text}
        if self.options.parse_mode:
            params["parse_mode"] = self.options.parse_mode
        try:
            sent = await self.api.call("sendMessage", **params)
        except TelegramError as e:
            self.log.warn("{provider}: message {id} not sent: {error}", provider=self.name, id=message.id,
                          error=str(e))
            code = e.code or TRANSPORT_ERROR
            if e.temporary:
                return SendResult.temporary(code, e.description)
            return SendResult.permanent(code, e.description)
        upstream_id = f"{chat_id}:{(sent or {}).get('message_id', message.id)}"
        self.clock.callLater(0, self._delivered, upstream_id)
        return SendResult.sent(upstream_id)

    def _delivered(self, upstream_id: str) -> None:
        d = defer.maybeDeferred(self.sink.report, self.name, upstream_id, State.DELIVERED, 0)
        d.addErrback(lambda f: self.log.warn("receipt of {upstream_id} via {provider} not recorded: {error}",
                                             upstream_id=upstream_id, provider=self.name,
                                             error=f.getErrorMessage()))

    # -- the service: store, then polling or the webhook

    def startService(self):
        super().startService()
        if self.links is not None:
            self._start_updates()
            return
        if not IStoreAccess.providedBy(self.sink):
            self.log.error("{provider}: its report sink gives no store, so phones cannot be linked: "
                           "every message stays queued", provider=self.name)
            return
        d = self.sink.whenReady()
        d.addCallback(self._store_ready)
        d.addErrback(lambda f: self.log.failure("{provider}: no store for the phone links", f, provider=self.name))

    def _store_ready(self, store) -> None:
        self.links = PhoneLinks(store.redis, self.clock, self.options.bot)
        self.linker = Linker(self.api, self.links, self.options.texts)
        if self.running:
            self._start_updates()

    def _start_updates(self) -> None:
        if not self.options.poll:
            return
        if self.options.webhook:
            if self._registration is None:
                self._registration = WebhookRegistration(self.name, self.api, self.clock, self.options.webhook)
                self._registration.start()
            return
        if self._loop is not None:
            return
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self.clock
        self._loop.start(self.options.poll_interval, now=True).addErrback(
            lambda f: self.log.failure("{provider}: polling stopped", f, provider=self.name))

    def _tick(self) -> defer.Deferred:
        self._polling = self.poll()
        return self._polling.addBoth(self._polled)

    def _polled(self, result):
        self._polling = None
        return None

    def poll(self) -> defer.Deferred:
        """Fetch and handle one batch of updates; fires with how many were handled."""
        return defer.ensureDeferred(self._poll())

    async def _poll(self) -> int:
        try:
            start = offset = await self.links.offset()
            updates = await self.api.call("getUpdates", deadline=self.options.long_poll + self.options.timeout,
                                          offset=offset, timeout=self.options.long_poll,
                                          allowed_updates=list(ALLOWED_UPDATES))
        except (TelegramError, StoreUnavailable) as e:
            if self.running:
                self.log.warn("{provider}: getUpdates failed: {error}", provider=self.name, error=str(e))
            return 0
        handled = 0
        for update in updates or ():
            try:
                await self._handle(update)
            except UpdateNotHandled as e:
                self.log.warn("{provider}: update {update_id} not handled, fetched again at the next poll: "
                              "{error}", provider=self.name, update_id=update.get("update_id"), error=str(e))
                break
            handled += 1
            offset = max(offset, int(update.get("update_id", 0)) + 1)
        if offset != start:
            try:
                await self.links.set_offset(offset)
            except StoreUnavailable as e:
                self.log.warn("{provider}: update offset not saved: {error}", provider=self.name, error=e.reason)
        return handled

    def handle_update(self, update: dict) -> defer.Deferred:
        """An update Telegram posted to the webhook; fails with `UpdateNotHandled` when it must
        be posted again (the store is not ready, Redis or the Bot API failed)."""
        if self.linker is None:
            return defer.fail(UpdateNotHandled("the store is not ready yet"))
        d = defer.ensureDeferred(self._handle(update))

        def failed(failure):
            failure.trap(UpdateNotHandled)
            self.log.warn("{provider}: update {update_id} not handled, left for Telegram to post again: {error}",
                          provider=self.name, update_id=update.get("update_id"), error=failure.getErrorMessage())
            return failure

        return d.addErrback(failed)

    @property
    def takes_webhook(self) -> bool:
        """True in webhook mode: ``/telegram/<name>`` accepts this bot's updates."""
        return bool(self.options.webhook)

    def secret_ok(self, given: bytes) -> bool:
        """True if a webhook request carries this bot's secret (constant-time comparison)."""
        return self.options.webhook.secret_ok(given)

    async def _handle(self, update: dict) -> None:
        """Handle one update, in both modes; raises `UpdateNotHandled` when trying again may help."""
        try:
            await self.linker.handle(update)
        except StoreUnavailable as e:
            raise UpdateNotHandled(e.reason) from None
        except TelegramError as e:
            if e.temporary:
                raise UpdateNotHandled(str(e)) from None
            self.log.warn("{provider}: update {update_id} not answered: {error}", provider=self.name,
                          update_id=update.get("update_id"), error=str(e))
        except Exception:  # one bad update must not stop the bot
            self.log.failure("{provider}: update {update_id} not handled", provider=self.name,
                             update_id=update.get("update_id"))

    def stopService(self):
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._polling is not None:
            self._polling.cancel()
        if self._registration is not None:
            self._registration.stop()
            self._registration = None
        return self.web.close()


def from_options(name, options, sink, reactor) -> BotProvider:
    """``[provider:NAME] type = telegram``; raises `ProviderOptionError` (a ValueError)."""
    return BotProvider(name, BotOptions.parse(name, options), sink, reactor)
