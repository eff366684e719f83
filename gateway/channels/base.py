"""
`TextChannel`: a channel described by data rather than code — its prefix,
the ``key:value`` lines it reads from the end of the text, the parameters it
requires, what its destination must look like — so that each built-in
channel (and most plugin channels) is a few lines of attributes.

The text a channel parses is what follows its prefix (and the ``:`` and one
space after it).  A ``\\n~~~\\n`` comment is not the channel's business: it is
set aside before parsing and put back after, for the store to split off.
"""

from __future__ import annotations

import re

from zope.interface import implementer

from gateway.channels.errors import BAD_DESTINATION, BAD_FORMAT, ChannelError
from gateway.interfaces import IChannel
from gateway.model import COMMENT_SEPARATOR, split_comment

__all__ = ["TextChannel", "take_lines", "is_email", "is_phone", "PHONE", "EMAIL", "ANY"]

PHONE, EMAIL, ANY = "phone", "email", "any"

_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")
_PHONE = re.compile(r"\+?\d{5,20}")


def is_email(address: str) -> bool:
    """True for something shaped like ``local@domain.tld`` (one address, no display name)."""
    return bool(_EMAIL.fullmatch(address or ""))


def is_phone(address: str) -> bool:
    """True for 5 to 20 digits with an optional leading ``+`` (what SMPP addresses carry)."""
    return bool(_PHONE.fullmatch(address or ""))


def take_lines(body: str, keys) -> tuple[str, dict]:
    """Split trailing ``key:value`` lines (``keys``, case-insensitive) off ``body``.

    Lines are read from the end and the first line that is not one of ``keys``
    stops the scan, so a message may itself contain such words.  Returns the
    rest of the body and ``{key: value}`` (a key given twice: the last wins).
    """
    wanted = {k.lower() for k in keys}
    lines = body.split("\n")
    found: dict[str, str] = {}
    while len(lines) > 1:
        key, sep, value = lines[-1].partition(":")
        key = key.strip().lower()
        if not sep or key not in wanted:
            break
        found.setdefault(key, value.strip())
        lines.pop()
    return "\n".join(lines), found


@implementer(IChannel)
class TextChannel:
    """A channel parsed by its attributes; subclasses set them and may extend `check`.

    ``lines`` maps a key of a trailing text line (``subj``) to the parameter
    name it sets (``subject``); ``required`` names parameters that must be
    given; ``fixed`` parameters are always set; ``destination`` is `PHONE`,
    `EMAIL` or `ANY`; ``needs_text`` refuses an empty message.
    """

    name: str = ""
    prefix: str | None = None
    lines: dict = {}
    required: frozenset = frozenset()
    fixed: dict = {}
    destination: str = ANY
    needs_text: bool = True

    def parse(self, text: str, destination: str):
        body, comment = split_comment(text)
        body, found = take_lines(body, self.lines)
        params = {param: found[key] for key, param in self.lines.items() if key in found}
        self.check_destination(destination)
        for param in sorted(self.required - set(params)):
            key = next((k for k, p in self.lines.items() if p == param), param)
            raise ChannelError(BAD_FORMAT, f"{self.label} needs a last line {key}:<{param}>")
        body = self.check(body.strip(), params)
        if comment:
            body += COMMENT_SEPARATOR + comment
        return body, {**self.fixed, **params}

    @property
    def label(self) -> str:
        """How refusals name the channel: its prefix, else its name."""
        return self.prefix or f"channel {self.name}"

    def check_destination(self, destination: str) -> None:
        if self.destination == EMAIL and not is_email(destination):
            raise ChannelError(BAD_DESTINATION, f"{self.label} needs an e-mail address as destination, "
                                                f"not {destination!r}")
        if self.destination == PHONE and not is_phone(destination):
            raise ChannelError(BAD_DESTINATION, f"{self.label} needs a phone number as destination, "
                                                f"not {destination!r}")

    def check(self, body: str, params: dict) -> str:
        """The text to deliver; refuse with `ChannelError`.  Parameters may be normalised in place."""
        if self.needs_text and not body:
            raise ChannelError(BAD_FORMAT, f"{self.label} needs a message text")
        return body

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} prefix={self.prefix!r}>"
