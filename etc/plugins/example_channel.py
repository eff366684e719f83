"""
An example smsgw plugin: a ``__SLACK__`` channel and a ``slack`` provider.

Drop this file into the folder named by ``[gateway] plugins_dir`` and restart
the gateway.  A client then sends, over SMPP::

    destination_addr = #ops
    short_message    = __SLACK__: Deploy finished\\nas:release-bot

or over HTTP, ``POST /api/v1/messages`` with ``{"to": "#ops", "channel":
"slack", "text": "Deploy finished", "params": {"username": "release-bot"}}``
(``/sys/send.php``: ``channel=slack``), and the message is posted to Slack
through an incoming webhook, with a route and a provider in smsgw.ini::

    [provider:slack]
    type = slack
    url = https://hooks.slack.com/services/T000/B000/XXXX

    [route:slack]
    channel = slack
    providers = slack

Everything here goes through the same public pieces as the built-in channels
and providers (``twisted/plugins/smsgw_channels.py``,
``smsgw_providers.py``): `ChannelPlugin` and `ProviderPlugin` declare them,
`TextChannel` parses the text, `IProvider` sends.  A file that fails to
import is logged with its path and skipped; it never stops the gateway.
"""

from __future__ import annotations

import re

from twisted.internet import defer
from zope.interface import implementer

from gateway.channels.base import TextChannel
from gateway.channels.errors import BAD_DESTINATION, ChannelError
from gateway.interfaces import IProvider
from gateway.logs import Logger
from gateway.model import SendResult, State
from gateway.plugins import ChannelPlugin, ProviderPlugin
from gateway.providers.options import Options
from gateway.providers.webapi import Unreachable, WebClient

_SLACK_CHANNEL = re.compile(r"[#@][a-z0-9._\-]{1,80}")


class SlackChannel(TextChannel):
    """``__SLACK__: <message>\\nas:<username>`` to a Slack channel (``#ops``) or user (``@ann``)."""

    name = "slack"
    prefix = "__SLACK__"
    lines = {"as": "username"}  # an optional last line "as:<name>" sets the poster's name

    def check_destination(self, destination: str) -> None:
        if not _SLACK_CHANNEL.fullmatch(destination or ""):
            raise ChannelError(BAD_DESTINATION, f"__SLACK__ needs #channel or @user, not {destination!r}")


@implementer(IProvider)
class SlackProvider:
    """Posts each message to a Slack incoming webhook (``url``); 200 "ok" means delivered."""

    log = Logger()

    def __init__(self, name, options, sink, reactor):
        o = Options(name, options, ("url", "timeout"))
        self.name = name
        self.url = o.url("url")
        self.sink = sink
        self.reactor = reactor
        self.web = WebClient(reactor, 4, o.number("timeout", 10, 1, 120))
        self._busy = 0

    def capacity(self) -> int:
        return 4 - self._busy

    def send(self, message) -> defer.Deferred:
        self._busy += 1
        d = defer.ensureDeferred(self._post(message))
        return d.addBoth(self._done)

    def _done(self, result):
        self._busy -= 1
        return result

    async def _post(self, message) -> SendResult:
        payload = {"channel": message.destination, "text": message.text}
        if message.extra.get("username"):
            payload["username"] = message.extra["username"]
        try:
            answer = await self.web.request("POST", self.url, json_body=payload)
        except Unreachable as e:
            return SendResult.temporary(0x0446, str(e))
        if answer.status == 200:
            self.reactor.callLater(0, self._delivered, message.id)
            return SendResult.sent(message.id)
        if answer.status >= 500 or answer.status == 429:
            return SendResult.temporary(answer.status, answer.text[:200])
        self.log.warn("{provider}: Slack refused {id}: {reason}", provider=self.name, id=message.id,
                      reason=answer.text[:200])
        return SendResult.permanent(answer.status, answer.text[:200])

    def _delivered(self, upstream_id: str) -> None:
        d = defer.maybeDeferred(self.sink.report, self.name, upstream_id, State.DELIVERED, 0)
        d.addErrback(lambda f: self.log.warn("receipt of {id} not recorded: {error}", id=upstream_id,
                                             error=f.getErrorMessage()))


# The declarations smsgw finds (lazily imported by "module:name", like the built-ins).
slack_channel = ChannelPlugin("slack", f"{__name__}:SlackChannel")
slack_provider = ProviderPlugin("slack", "Slack incoming webhook (example plugin)", f"{__name__}:SlackProvider")
