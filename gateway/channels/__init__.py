"""
Channels: how a message's kind (SMS, e-mail, voice call, Telegram, HLR, …)
is recognised — by a text prefix over SMPP (``__MAIL__: …``), by a parameter
over HTTP — and checked at accept time.

`Channels` is the registry built from the channel plugins
(`gateway.interfaces.IChannelPlugin`); a channel refuses a message with
`ChannelError`, whose ``status`` is the SMPP command_status to answer
(see `gateway.channels.errors` for the mapping).
"""

from gateway.channels.errors import ChannelError
from gateway.channels.registry import Channels

__all__ = ["ChannelError", "Channels"]
