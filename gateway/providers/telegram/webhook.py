"""
Webhook mode of the bot provider: instead of polling ``getUpdates``, the
provider registers ``webhook_url`` with the Bot API's ``setWebhook`` and
Telegram POSTs each update (a JSON ``Update``) to it, with the header
``X-Telegram-Bot-Api-Secret-Token`` carrying the ``secret_token`` given to
``setWebhook``.  The gateway serves those POSTs at ``/telegram/<provider>``
(`gateway.http.telegram`); a reverse proxy in front of it maps the public
``webhook_url`` there.

The secret is ``webhook_secret`` when configured, else one derived from the
bot token (HMAC-SHA256), so that every node and every restart computes the
same one without storing anything: a random secret per node would make the
last node to call ``setWebhook`` the only one whose requests are accepted.
Whoever knows the bot token can take the bot over anyway, so deriving from it
gives nothing away.

Telegram's rules (Bot API, ``setWebhook``): an HTTPS URL on port 443, 80, 88
or 8443; a secret of 1–256 characters ``A-Z a-z 0-9 _ -``; a request answered
with anything but 2xx is repeated (and given up after a number of attempts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from twisted.internet import defer

from gateway.logs import Logger
from gateway.providers.options import Options
from gateway.providers.telegram.api import TelegramError

__all__ = ["Webhook", "WebhookRegistration", "SECRET_HEADER", "ALLOWED_UPDATES", "webhook_path", "derived_secret"]

#: The request header Telegram puts the secret in.
SECRET_HEADER = b"X-Telegram-Bot-Api-Secret-Token"
#: The update types the bot asks for, in both modes.
ALLOWED_UPDATES = ("message",)
KEYS = ("webhook_url", "webhook_secret", "webhook_insecure")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_PORTS = (443, 80, 88, 8443)
_RETRY_FIRST, _RETRY_MAX = 5.0, 300.0


def webhook_path(provider: str) -> str:
    """Where this gateway serves the webhook of ``provider``, on its ``[http] listen``."""
    return f"/telegram/{provider}"


def derived_secret(token: str, bot: str) -> str:
    """A secret Telegram accepts (43 characters of ``A-Za-z0-9_-``), the same wherever ``token`` is."""
    digest = hmac.new(token.encode(), f"smsgw telegram webhook secret {bot}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class Webhook:
    """The webhook options of one bot: ``url`` (empty: polling mode), ``secret``, ``insecure``."""

    url: str = ""
    secret: str = field(default="", repr=False)
    insecure: bool = False

    @classmethod
    def parse(cls, o: Options, token: str, bot: str) -> "Webhook":
        url = o.url("webhook_url", required=False)
        insecure = o.flag("webhook_insecure", False)
        secret = o.text("webhook_secret")
        if not url:
            for key in ("webhook_secret", "webhook_insecure"):
                if key in o.raw:
                    raise o.bad(key, "only used with webhook_url")
            return cls()
        parts = urlsplit(url)
        if parts.scheme != "https" and not insecure:
            raise o.bad("webhook_url", "Telegram calls only https:// URLs (webhook_insecure = yes is for tests)")
        try:
            port = parts.port
        except ValueError:
            raise o.bad("webhook_url", "bad port") from None
        if port is not None and port not in _PORTS and not insecure:
            raise o.bad("webhook_url", "Telegram calls webhooks on ports 443, 80, 88 or 8443 only")
        if secret and not _SECRET.fullmatch(secret):
            raise o.bad("webhook_secret", "expected 1 to 256 characters A-Z, a-z, 0-9, _ or -")
        return cls(url=url, secret=secret or derived_secret(token, bot), insecure=insecure)

    def __bool__(self) -> bool:
        return bool(self.url)

    def secret_ok(self, given: bytes) -> bool:
        """True if ``given`` (the request's secret header) is this webhook's secret; constant time."""
        return bool(self.url) and hmac.compare_digest(given, self.secret.encode())


class WebhookRegistration:
    """Calls ``setWebhook`` until Telegram accepts it: temporary failures are tried again
    with backoff (timers from ``clock``), a refusal is logged as an error and left to the operator."""

    log = Logger()

    def __init__(self, provider: str, api, clock, webhook: Webhook):
        self.provider = provider
        self.api = api
        self.clock = clock
        self.webhook = webhook
        self.registered = False
        self._stopped = False
        self._delay = _RETRY_FIRST
        self._timer = None
        self._call: defer.Deferred | None = None

    def start(self) -> None:
        self._timer = None
        self._call = defer.ensureDeferred(self._register())
        self._call.addErrback(lambda f: None if f.check(defer.CancelledError) else
                              self.log.failure("{provider}: setWebhook failed", f, provider=self.provider))

    async def _register(self) -> None:
        try:
            await self.api.call("setWebhook", url=self.webhook.url, secret_token=self.webhook.secret,
                                allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False)
        except TelegramError as e:
            if self._stopped:  # the call was cancelled
                return
            if not e.temporary:
                self.log.error("{provider}: Telegram refused the webhook {url}: {error}; no updates will "
                               "arrive until webhook_url is fixed", provider=self.provider, url=self.webhook.url,
                               error=str(e))
                return
            self.log.warn("{provider}: setWebhook failed, trying again in {delay:.0f} s: {error}",
                          provider=self.provider, delay=self._delay, error=str(e))
            self._timer = self.clock.callLater(self._delay, self.start)
            self._delay = min(self._delay * 2, _RETRY_MAX)
            return
        finally:
            self._call = None
        self.registered = True
        self.log.info("{provider}: webhook set: Telegram posts updates to {url}, served here at {path}",
                      provider=self.provider, url=self.webhook.url, path=webhook_path(self.provider))

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._call is not None:
            self._call.cancel()
