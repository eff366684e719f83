"""
Why a channel refuses a message at accept time, as the SMPP command_status a
client gets (the HTTP APIs turn the same status into their own error).

Statuses, by kind of problem (standard SMPP 3.4 codes, so every ESME knows them):

=====================  ======================================================
ESME_RINVMSGLEN 0x01   the text does not follow the channel's format: an
                       empty message where one is needed (``__MAIL__``,
                       ``__CALL__``, ``__VIBER__``, ``__SOC__``, ``__BOT__``),
                       a ``__TGM__`` code that is not 4–8 digits, a ``__BOT__``
                       without its ``bot:@<bot_name>`` line or with a bad name
ESME_RINVDSTADR 0x0B   the destination does not suit the channel: ``__MAIL__``
                       needs an e-mail address, the others a phone number
0x045A                 no channel of that name is installed (an HTTP request
                       naming an unknown channel), like a channel that has
                       no route
ESME_RSYSERR 0x08      the channel itself failed (a bug in a plugin: logged
                       with its traceback)
=====================  ======================================================
"""

from __future__ import annotations

from gateway.smpp.constants import CommandStatus

__all__ = ["ChannelError", "BAD_FORMAT", "BAD_DESTINATION", "UNKNOWN_CHANNEL", "CHANNEL_FAILED"]

BAD_FORMAT = CommandStatus.ESME_RINVMSGLEN
BAD_DESTINATION = CommandStatus.ESME_RINVDSTADR
UNKNOWN_CHANNEL = CommandStatus.VENDOR_NO_ROUTING_POLICY
CHANNEL_FAILED = CommandStatus.ESME_RSYSERR


class ChannelError(Exception):
    """A message a channel refuses: ``status`` (SMPP command_status) and ``reason`` (for people)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = int(status)
        self.reason = reason

    def __repr__(self):
        return f"ChannelError(0x{self.status:04X}, {self.reason!r})"
