"""
`Channels`: the channels installed (built-in and from the plugins folder),
and the two ways a message picks one:

- by the text prefix of an SMPP submit (``__MAIL__: hello\\nsubj:Hi``):
  `Channels.classify`;
- by a parameter of an HTTP request (``channel=mail`` in the JSON API,
  smsc.ru-style flags ``mail=1&subj=Hi`` in ``/sys/send.php``):
  `Channels.resolve` and `Channels.classify_http`.

`Channels.apply` does the right one for a `gateway.model.Submit` and is what
the acceptor calls, so every front end gets the same channels and the same
refusals.
"""

from __future__ import annotations

import dataclasses

from gateway.channels.errors import CHANNEL_FAILED, UNKNOWN_CHANNEL, ChannelError
from gateway.discovery import discover
from gateway.interfaces import IChannel, IChannelPlugin
from gateway.logs import Logger
from gateway.model import COMMENT_SEPARATOR, Submit, split_comment

__all__ = ["Channels", "DEFAULT_CHANNEL", "HTTP_FLAGS", "HTTP_PARAMETERS"]

DEFAULT_CHANNEL = "sms"

#: smsc.ru ``send.php`` flags → channel, in the order they are tried (the first set one wins).
#: A plugin channel is selected by a flag named like the channel itself.
HTTP_FLAGS = (("mail", "mail"), ("call", "call"), ("viber", "viber"), ("soc", "soc"), ("tg", "tgm"),
              ("tgm", "tgm"), ("bot", "bot"), ("hlr", "hlr"), ("ping", "ping"))

#: smsc.ru ``send.php`` parameters → channel parameter names.
HTTP_PARAMETERS = {"subj": "subject", "voice": "voice", "bot": "bot"}

_OFF = ("", "0", "no", "false", "off")


class Channels:
    """The installed channels by name; see the module docstring."""

    log = Logger()

    def __init__(self, channels):
        self.by_name: dict = {}
        for channel in channels:
            self.by_name[channel.name] = channel
        self._prefixed = sorted((c for c in self.by_name.values() if c.prefix),
                                key=lambda c: len(c.prefix), reverse=True)

    @classmethod
    def discover(cls, plugins_dir=None) -> "Channels":
        """The built-in channel plugins plus those of ``plugins_dir`` (a broken one is logged and skipped)."""
        channels = []
        for name, plugin in discover(IChannelPlugin, plugins_dir).items():
            try:
                channel = plugin.channel()
            except Exception as e:  # a plugin's bug must not stop the gateway
                cls.log.error("channel plugin {plugin!r} skipped: building its channel failed: {error}",
                              plugin=plugin, error=f"{type(e).__name__}: {e}")
                continue
            if not IChannel.providedBy(channel) or channel.name != name:
                cls.log.error("channel plugin {plugin!r} skipped: it built {channel!r}, not an IChannel "
                              "named {name!r}", plugin=plugin, channel=channel, name=name)
                continue
            channels.append(channel)
        return cls(channels)

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def __iter__(self):
        return iter(self.by_name.values())

    @property
    def names(self) -> list[str]:
        return sorted(self.by_name)

    def get(self, name: str):
        """The channel ``name``; `ChannelError` (0x045A) when none is installed."""
        channel = self.by_name.get(name)
        if channel is None:
            raise ChannelError(UNKNOWN_CHANNEL, f"unknown channel {name!r}; installed: {', '.join(self.names)}")
        return channel

    # -- SMPP: the text prefix

    def classify(self, text: str, destination: str) -> tuple[str, str, dict]:
        """``(channel name, text to deliver, parameters)`` for a text that may start with a prefix.

        Text without a known prefix is an SMS, passed to the ``sms`` channel
        (if installed) unchanged.  Raises `ChannelError`.
        """
        for channel in self._prefixed:
            rest = _after_prefix(text, channel.prefix)
            if rest is not None:
                return (channel.name,) + self._parse(channel, rest, destination)
        if DEFAULT_CHANNEL in self.by_name:
            return (DEFAULT_CHANNEL,) + self._parse(self.by_name[DEFAULT_CHANNEL], text, destination)
        return DEFAULT_CHANNEL, text, {}

    def _parse(self, channel, text: str, destination: str) -> tuple[str, dict]:
        """``channel.parse``; a plugin's bug refuses the message (ESME_RSYSERR) instead of failing the caller."""
        try:
            body, params = channel.parse(text, destination)
        except ChannelError:
            raise
        except Exception:
            self.log.failure("channel {name!r} failed to parse a message", name=channel.name)
            raise ChannelError(CHANNEL_FAILED, f"channel {channel.name} failed") from None
        return body, dict(params)

    def prefixed(self, text: str) -> str | None:
        """The name of the channel whose prefix starts ``text``, or None."""
        for channel in self._prefixed:
            if _after_prefix(text, channel.prefix) is not None:
                return channel.name
        return None

    # -- HTTP: a parameter

    def resolve(self, name: str, text: str, destination: str, given: dict | None = None) -> tuple[str, dict]:
        """``(text, parameters)`` for a message whose channel was named, with parameters ``given`` apart.

        ``given`` holds channel parameters by name (``subject``, ``voice``,
        ``bot``); for a channel that reads them from text lines (``lines``)
        they are put back as those lines, so the channel checks them exactly
        as it does over SMPP.  Raises `ChannelError`.
        """
        channel = self.get(name)
        given = given or {}
        lines = getattr(channel, "lines", None) or {}
        added = "".join(f"\n{key}:{given[param]}" for key, param in lines.items()
                        if given.get(param) not in (None, ""))
        if added:
            body, comment = split_comment(text)
            text = body + added + (COMMENT_SEPARATOR + comment if comment else "")
        return self._parse(channel, text, destination)

    def classify_http(self, params, text: str, destination: str) -> tuple[str, str, dict]:
        """``(channel name, text, parameters)`` from smsc.ru-style ``send.php`` parameters.

        ``params`` maps parameter names to strings (``mail=1``, ``subj=…``).
        """
        name = self.http_channel(params)
        given = {param: str(params[key]) for key, param in HTTP_PARAMETERS.items()
                 if key in params and str(params[key]).strip() not in _OFF}
        if name == DEFAULT_CHANNEL:
            return self.classify(text, destination)
        return (name,) + self.resolve(name, text, destination, given)

    def http_channel(self, params) -> str:
        """The channel an smsc.ru-style request selects with its flags (``sms`` when none)."""
        def on(key):
            return key in params and str(params[key]).strip().lower() not in _OFF

        for flag, name in HTTP_FLAGS:
            if on(flag) and name in self.by_name:
                return name
        for name in self.names:
            if name != DEFAULT_CHANNEL and on(name):
                return name
        return DEFAULT_CHANNEL

    # -- a Submit, whatever the front end

    def apply(self, submit: Submit) -> Submit:
        """``submit`` with its channel, text and parameters settled; raises `ChannelError`.

        A submit on the default channel is classified by its text prefix; one
        naming a channel (HTTP) is resolved with its ``extra`` as given
        parameters.  Channel parameters are merged into ``extra``; a message
        on any channel but SMS counts as one part.
        """
        if submit.channel == DEFAULT_CHANNEL:
            name, text, params = self.classify(submit.text, submit.destination)
        else:
            name = submit.channel
            text, params = self.resolve(name, submit.text, submit.destination, submit.extra)
        if name == DEFAULT_CHANNEL and not params:
            return submit
        changes = {"channel": name, "text": text, "extra": {**submit.extra, **params}}
        if name != DEFAULT_CHANNEL:
            changes.update(parts=1, raw=None)
        return dataclasses.replace(submit, **changes)


def _after_prefix(text: str, prefix: str) -> str | None:
    """The text after ``prefix`` and its ``:`` (plus one space), or None when ``text`` has another prefix.

    An SMPP client that writes ASCII octets with data_coding 0 sends ``_`` as
    0x5F, which GSM 03.38 reads as ``§``: ``§§MAIL§§`` is taken for ``__MAIL__``.
    """
    if text[:len(prefix)].replace("§", "_") != prefix:
        return None
    rest = text[len(prefix):]
    if rest.startswith(":"):
        rest = rest[1:]
        return rest[1:] if rest.startswith(" ") else rest
    if not rest or rest[0].isspace():
        return rest.lstrip(" \t")
    return None
