"""
What both HTTP front ends (smsc.ru-compatible and ``/api/v1``) do to send:
turn a recipient and a text into a `Submit` the way every client of the
account gets it (numbers normalised, parts counted for billing, DLRs asked
for when the account has a callback URL), hand all submits of a request to
the shared acceptor in one reactor turn (so they reach Redis in one round
trip), and report, per message, the `Message` or the refusal.

The channels a request may name are those the gateway has installed (the
`gateway.channels.Channels` registry the acceptor uses: built-ins and
plugins), not a list of their own; what a channel's recipient looks like
and whether it needs a text comes from the channel (``destination``,
``needs_text``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from twisted.internet import defer
from twisted.python.failure import Failure

from gateway.channels import Channels
from gateway.channels.base import EMAIL, PHONE, is_email
from gateway.channels.registry import DEFAULT_CHANNEL
from gateway.http.errors import (BadParameters, HttpError, InternalError, InvalidNumberError,
                                 ServiceUnavailable, from_accept_error)
from gateway.logs import Logger
from gateway.model import Account, Message, Submit
from gateway.numbers import InvalidNumber, normalize
from gateway.store.accept import AcceptError
from gateway.store.scripting import StoreUnavailable

__all__ = ["Sender", "Outcome", "Draft", "sms_parts"]

# GSM 03.38 default alphabet and the extension table (two septets each).
_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
           "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXT = frozenset("^{}\\[~]|€\f")
_GSM_ALL = frozenset(_GSM) | _GSM_EXT


def sms_parts(text: str) -> int:
    """How many SMS parts ``text`` needs: GSM 7-bit 160/153 septets, else UCS-2 70/67 units."""
    chars = set(text)
    if chars <= _GSM_ALL:
        size = len(text) + (sum(text.count(c) for c in chars & _GSM_EXT) if chars & _GSM_EXT else 0)
        single, part = 160, 153
    else:
        size = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
    if size <= single:
        return 1
    return -(-size // part)


@dataclass
class Outcome:
    """One recipient of a request: the stored message, or why it was refused."""

    recipient: str
    message: Message | None = None
    error: HttpError | None = None
    parts: int = 1
    cost: Decimal | None = None


@dataclass
class Draft:
    """A message as the front end understood it, before numbers and rules are checked."""

    recipient: str
    text: str
    source: str = ""
    channel: str = "sms"
    priority: int = 0
    schedule: int = 0
    validity: int = 0
    client_ref: str = ""
    report: bool | None = None
    extra: dict = field(default_factory=dict)


class Sender:
    """Builds submits and accepts them through the shared `IAcceptor`.

    ``channels`` is the registry of installed channels (the one the acceptor
    applies); without it, the built-in channels plus the plugins of
    ``twisted/plugins``.
    """

    log = Logger()

    def __init__(self, acceptor, default_region: str = "RU", channels: Channels | None = None):
        self.acceptor = acceptor
        self.default_region = default_region
        self.channels = channels if channels is not None else Channels.discover()

    def channel(self, name: str):
        """The installed channel ``name``; `BadParameters` naming the installed ones when there is none."""
        channel = self.channels.by_name.get(name)
        if channel is None:
            known = self.channels.names
            raise BadParameters(f"unknown channel {name!r}; known: {', '.join(known)}",
                                field="channel", channel=name, known=known)
        return channel

    def needs_text(self, name: str) -> bool:
        """Whether a message on channel ``name`` needs a text (an HLR lookup or a ping does not)."""
        return getattr(self.channel(name), "needs_text", True)

    def recipient(self, account: Account, raw: str, channel: str) -> str:
        """The recipient as channel ``channel`` addresses it; raises `InvalidNumberError` / `BadParameters`.

        A channel's ``destination`` says what it takes: ``email`` an address,
        ``phone`` (and a channel that does not say, like SMS) a number,
        normalised in the account's region; ``any`` a number normalised when
        it is one, anything else as given (the channel checks it on accept).
        The channel is not checked here (`channel` does).
        """
        raw = (raw or "").strip()
        kind = getattr(self.channels.by_name.get(channel), "destination", PHONE)
        if kind == EMAIL:
            if not is_email(raw):
                raise BadParameters(f"invalid e-mail address {raw!r}", field="to")
            return raw
        region = account.default_region or self.default_region
        try:
            return normalize(raw, region)
        except InvalidNumber as e:
            if kind != PHONE and raw:
                return raw
            raise InvalidNumberError(str(e), number=raw) from None

    def submit(self, account: Account, draft: Draft) -> Submit:
        """The `Submit` for a draft (recipient already normalised)."""
        self.channel(draft.channel)
        report = bool(account.dlr_url) if draft.report is None else draft.report
        return Submit(
            destination=draft.recipient, text=draft.text, source=draft.source, channel=draft.channel,
            parts=sms_parts(draft.text) if draft.channel == DEFAULT_CHANNEL else 1, priority=draft.priority,
            schedule=draft.schedule, validity=draft.validity, registered_delivery=1 if report else 0,
            client_ref=draft.client_ref, extra=dict(draft.extra),
        )

    def price(self, account: Account, submit: Submit) -> Decimal | None:
        """What the message costs the account (None: free or no tariff)."""
        unit = account.price_for(submit.destination) if account.tariff else None
        return None if unit is None else unit * submit.parts

    def send(self, account: Account, drafts) -> defer.Deferred:
        """Accept every draft (in one reactor turn); fires with one `Outcome` each, in order.

        One `IAcceptor.accept_many` for the whole request: a batch of 1,000 is one
        Deferred and one callback, not 1,000 of each.
        """
        outcomes, submits, accepting = [], [], []
        for draft in drafts:
            outcome = Outcome(draft.recipient)
            outcomes.append(outcome)
            try:
                submit = self.submit(account, draft)
            except HttpError as e:
                outcome.error = e
                continue
            outcome.parts, outcome.cost = submit.parts, self.price(account, submit)
            submits.append(submit)
            accepting.append(outcome)
        if not submits:
            return defer.succeed(outcomes)

        def answered(results):
            for outcome, result in zip(accepting, results):
                if isinstance(result, Exception):
                    self._refused(Failure(result), outcome, account.name)
                else:
                    outcome.message = result
            return outcomes

        return self.acceptor.accept_many(account, submits).addCallback(answered)

    def _refused(self, failure, outcome: Outcome, account: str) -> None:
        if failure.check(AcceptError):
            outcome.error = from_accept_error(failure.value)
        elif failure.check(StoreUnavailable):
            outcome.error = ServiceUnavailable(f"store temporarily unavailable: {failure.value.reason}")
        else:  # a bug: this message fails, the others of the request still answer
            self.log.failure("accepting a message for {account} failed", failure, account=account)
            outcome.error = InternalError("internal error")
