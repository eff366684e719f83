"""
The built-in channels (DESIGN "Channels"), in the formats smsc.ru documents
for SMPP clients:

=============  ==========================================  ======================
channel        text after the prefix                       parameters
=============  ==========================================  ======================
sms            (no prefix) the text, untouched
mail           ``<message>\\nsubj:<subject>``               subject (optional)
call           ``<message>\\nvoice:<voice>``                voice (optional)
viber          ``<message>``
soc            ``<message>``
tgm            ``<code>``: 4 to 8 digits only
bot            ``<message>\\nbot:@<bot_name>``              bot (required, no @)
hlr            nothing
ping           nothing                                     protocol_id 0x40
=============  ==========================================  ======================

Parameter names are those of the HTTP APIs (``subject``, ``voice``, ``bot``)
and land in ``Message.extra``, where providers read them.  Each channel is
registered in ``twisted/plugins/smsgw_channels.py`` like any plugin.
"""

from __future__ import annotations

import re

from zope.interface import implementer

from gateway.channels.base import EMAIL, PHONE, TextChannel
from gateway.channels.errors import BAD_FORMAT, ChannelError
from gateway.interfaces import IChannel

__all__ = ["SmsChannel", "MailChannel", "CallChannel", "ViberChannel", "SocialChannel",
           "TelegramCodeChannel", "BotChannel", "HlrChannel", "PingChannel", "PING_PROTOCOL_ID"]

#: GSM 03.40 TP-PID "short message type 0": the handset acknowledges it and shows nothing.
PING_PROTOCOL_ID = 0x40

_CODE = re.compile(r"\d{4,8}")
# Telegram usernames: 5–32 characters, letters, digits and underscores, starting with a letter.
_BOT_NAME = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{4,31})")


@implementer(IChannel)
class SmsChannel:
    """Plain SMS: no prefix; the text goes as it is."""

    name = "sms"
    prefix = None

    def parse(self, text: str, destination: str):
        return text, {}


class MailChannel(TextChannel):
    """E-mail to the address in destination; ``subj:`` gives the subject."""

    name, prefix, destination = "mail", "__MAIL__", EMAIL
    lines = {"subj": "subject"}


class CallChannel(TextChannel):
    """A voice call reading the text aloud (TTS); ``voice:`` picks the voice."""

    name, prefix, destination = "call", "__CALL__", PHONE
    lines = {"voice": "voice"}


class ViberChannel(TextChannel):
    name, prefix, destination = "viber", "__VIBER__", PHONE


class SocialChannel(TextChannel):
    """Messages to users of social networks found by their phone number."""

    name, prefix, destination = "soc", "__SOC__", PHONE


class TelegramCodeChannel(TextChannel):
    """A verification code sent by Telegram to the account of the phone number."""

    name, prefix, destination = "tgm", "__TGM__", PHONE

    def check(self, body: str, params: dict) -> str:
        if not _CODE.fullmatch(body):
            raise ChannelError(BAD_FORMAT, f"__TGM__ takes a numeric code of 4 to 8 digits, not {body[:20]!r}")
        return body


class BotChannel(TextChannel):
    """A message from a Telegram bot to the chat linked to the phone number."""

    name, prefix, destination = "bot", "__BOT__", PHONE
    lines = {"bot": "bot"}
    required = frozenset({"bot"})

    def check(self, body: str, params: dict) -> str:
        match = _BOT_NAME.fullmatch(params["bot"])
        if match is None:
            raise ChannelError(BAD_FORMAT, f"__BOT__: {params['bot'][:40]!r} is not a Telegram bot name "
                                           "(bot:@<5 to 32 letters, digits or _>)")
        params["bot"] = match.group(1)
        return super().check(body, params)


class HlrChannel(TextChannel):
    """An HLR lookup of the number; the result comes back as the receipt."""

    name, prefix, destination, needs_text = "hlr", "__HLR__", PHONE, False

    def check(self, body: str, params: dict) -> str:
        return ""


class PingChannel(TextChannel):
    """A silent SMS (TP-PID 0x40): its receipt says whether the handset is reachable."""

    name, prefix, destination, needs_text = "ping", "__PING__", PHONE, False
    fixed = {"protocol_id": PING_PROTOCOL_ID}

    def check(self, body: str, params: dict) -> str:
        return ""


