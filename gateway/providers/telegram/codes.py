"""
Verification codes through the Telegram Gateway API (``[provider:NAME] type
= telegram_gateway``), channel ``tgm``: ``__TGM__: 123456`` becomes
``sendVerificationMessage`` with ``phone_number`` (E.164 with ``+``),
``code`` (the 4–8 digits), ``payload`` (our message id) and, when
configured, ``ttl``, ``callback_url`` and ``sender_username``.

Outcomes: accepted → the upstream id is Telegram's ``request_id``; then,
without a ``callback_url``, the message is reported DELIVERED at once; with
one, Telegram posts the request's status to it (``/dlr/<provider>`` of the
HTTP site, with ``?token=<dlr_token>``) and `handle_dlr` reports it:
``delivered``/``read`` → DELIVERED, ``sent`` → ENROUTE, ``expired`` →
EXPIRED, ``revoked`` → DELETED.  Refusals: a number Telegram cannot send to
(``PHONE_NUMBER_…``) → permanent, error code `NOT_ON_TELEGRAM`; other
refusals → permanent with the HTTP status; flood control, low balance, a
bad access token, server errors, no answer → temporary.

Options: ``token`` (required; never logged), ``api_url`` (default
https://gatewayapi.telegram.org), ``ttl`` (30–3600 s), ``callback_url``,
``sender_username``, ``dlr_token``, ``concurrency`` (10), ``timeout`` (30),
``ca_file``.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IProvider
from gateway.logs import Logger
from gateway.model import SendResult, State
from gateway.providers.http import BadDlr
from gateway.providers.options import Options
from gateway.providers.telegram.api import GatewayApi, TelegramError
from gateway.providers.telegram.links import digits
from gateway.providers.webapi import WebClient
from gateway.smpp.constants import CommandStatus
from gateway.providers.concurrent import ConcurrentSends

__all__ = ["GatewayProvider", "GatewayOptions", "from_options", "NOT_ON_TELEGRAM", "BadCallback"]

#: Error code (DLR ``err``) of a number the Telegram Gateway cannot send codes to.
NOT_ON_TELEGRAM = 1
TRANSPORT_ERROR = CommandStatus.VENDOR_TRANSPORT_ERROR
_CODE = re.compile(r"\d{4,8}")
_STATES = {"sent": State.ENROUTE, "delivered": State.DELIVERED, "read": State.DELIVERED,
           "expired": State.EXPIRED, "revoked": State.DELETED}
_KNOWN = ("token", "api_url", "ttl", "callback_url", "sender_username", "dlr_token", "concurrency", "timeout",
          "ca_file")


class BadCallback(BadDlr):
    """A delivery callback without a request id or with an unknown status (HTTP 400)."""


@dataclass(frozen=True)
class GatewayOptions:
    token: str
    api_url: str = "https://gatewayapi.telegram.org"
    ttl: int = 0
    callback_url: str = ""
    sender_username: str = ""
    dlr_token: str = ""
    concurrency: int = 10
    timeout: float = 30.0
    ca_file: str = ""

    @classmethod
    def parse(cls, name: str, options: dict) -> "GatewayOptions":
        o = Options(name, options, _KNOWN)
        ttl = o.integer("ttl", 0, 0, 3600)
        if 0 < ttl < 30:
            raise o.bad("ttl", "expected 30 to 3600 seconds (or 0: Telegram's default)")
        return cls(token=o.text("token", required=True), api_url=o.url("api_url", "https://gatewayapi.telegram.org"),
                   ttl=ttl, callback_url=o.url("callback_url", required=False),
                   sender_username=o.text("sender_username").lstrip("@"), dlr_token=o.text("dlr_token"),
                   concurrency=o.integer("concurrency", 10, 1, 1000), timeout=o.number("timeout", 30, 1, 600),
                   ca_file=o.text("ca_file"))


@implementer(IProvider)
class GatewayProvider(ConcurrentSends):
    """See the module docstring."""

    log = Logger()

    def __init__(self, name: str, options: GatewayOptions, sink, reactor=None, web: WebClient | None = None):
        if reactor is None:
            from twisted.internet import reactor
        self.name = name
        self.options = options
        self.sink = sink
        self.reactor = reactor
        self.api = GatewayApi(web or WebClient(reactor, options.concurrency, options.timeout, options.ca_file),
                              options.api_url, options.token)

    async def _send(self, message) -> SendResult:
        code = message.text.strip()
        if not _CODE.fullmatch(code):
            return SendResult.permanent(CommandStatus.ESME_RINVMSGLEN, "the code is not 4 to 8 digits")
        o = self.options
        params = {"phone_number": "+" + digits(message.destination), "code": code, "payload": message.id[:128]}
        for key, value in (("ttl", o.ttl), ("callback_url", o.callback_url), ("sender_username", o.sender_username)):
            if value:
                params[key] = value
        try:
            status = await self.api.call("sendVerificationMessage", **params)
        except TelegramError as e:
            self.log.warn("{provider}: code {id} not sent: {error}", provider=self.name, id=message.id, error=str(e))
            if e.temporary:
                return SendResult.temporary(e.code or TRANSPORT_ERROR, e.description)
            return SendResult.permanent(NOT_ON_TELEGRAM if "PHONE_NUMBER" in e.description else e.code,
                                        e.description)
        request_id = str(status.get("request_id") or "")
        if not request_id:
            return SendResult.temporary(TRANSPORT_ERROR, "answer without request_id")
        state = State.DELIVERED if not o.callback_url else self._state(status)
        if state is not None:
            self.reactor.callLater(0, self._report, request_id, state)
        return SendResult.sent(request_id)

    @staticmethod
    def _state(status: dict):
        word = ((status.get("delivery_status") or {}).get("status") or "").lower()
        return _STATES.get(word) if word != "sent" else None

    def _report(self, request_id: str, state: State) -> None:
        d = defer.maybeDeferred(self.sink.report, self.name, request_id, state, 0)
        d.addErrback(lambda f: self.log.warn("receipt of {request_id} via {provider} not recorded: {error}",
                                             request_id=request_id, provider=self.name, error=f.getErrorMessage()))

    # -- delivery callbacks, through /dlr/<provider>

    def handle_dlr(self, fields: dict, document=None) -> defer.Deferred:
        """A RequestStatus posted to ``callback_url``; fires with our id (None: unknown request)."""
        status = document if isinstance(document, dict) else {}
        request_id = status.get("request_id") or fields.get("request_id")
        word = ((status.get("delivery_status") or {}).get("status") or fields.get("status") or "").lower()
        if not request_id or word not in _STATES:
            raise BadCallback(f"a callback for {self.name} needs request_id and delivery_status.status "
                              f"({', '.join(_STATES)})")
        return self.sink.report(self.name, str(request_id), _STATES[word], 0)

    def token_ok(self, token: str) -> bool:
        """True if a callback carries ``dlr_token`` (or none is configured)."""
        expected = self.options.dlr_token
        return not expected or hmac.compare_digest(token.encode(), expected.encode())


def from_options(name, options, sink, reactor) -> GatewayProvider:
    """``[provider:NAME] type = telegram_gateway``; raises `ProviderOptionError` (a ValueError)."""
    return GatewayProvider(name, GatewayOptions.parse(name, options), sink, reactor)
