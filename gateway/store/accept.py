"""
The accept path: a client's `Submit` becomes a stored, queued `Message`.

`Acceptor.accept` checks the account rules that need no shared state in
Python (enabled, allowed senders, blacklist, forbidden words, tariff, route),
then hands the message to a `TurnBatcher`: everything accepted in one reactor
turn goes to Redis in one EVALSHA of ``accept.lua``, which checks and reserves
the shared rules (throughput, duplicates, balance) atomically with the write
and the enqueue.  The Deferred fires only after Redis has answered; refusals
fail it with `AcceptError`, outages with `StoreUnavailable`.
"""

from __future__ import annotations

from decimal import Decimal

import msgpack
from twisted.internet import defer
from zope.interface import implementer

from gateway.channels.errors import ChannelError
from gateway.interfaces import IAcceptor
from gateway.logs import Logger
from gateway.model import Account, Direction, IdGenerator, Message, Submit, split_comment
from gateway.routing import NoRoute, Router
from gateway.smpp.constants import CommandStatus as S
from gateway.store.batching import TurnBatcher
from gateway.store.schedule import quiet_end
from gateway.store.scripting import DEFAULT_TIMEOUT, script

__all__ = ["Acceptor", "AcceptError", "REASONS", "cost_millionths"]

#: Why a submit was refused, by command_status (the HTTP layer shows these).
REASONS = {
    S.ESME_RINVSYSID: "account disabled",
    S.ESME_RINVSRCADR: "sender not allowed for this account",
    S.ESME_RINVEXPIRY: "validity period already over",
    S.ESME_RTHROTTLED: "throughput limit exceeded",
    S.VENDOR_FORBIDDEN_WORDS: "text contains forbidden words",
    S.VENDOR_BLACKLISTED: "sender or recipient blacklisted",
    S.VENDOR_INSUFFICIENT_FUNDS: "insufficient funds",
    S.VENDOR_NO_TARIFF: "no tariff for this destination",
    S.VENDOR_DUPLICATE: "duplicate message",
    S.VENDOR_NO_ROUTING_POLICY: "no routing policy",
    S.ESME_RSUBMITFAIL: "multipart message incomplete",
}


class AcceptError(Exception):
    """A submit refused by an account rule; ``status`` is the SMPP command_status."""

    def __init__(self, status: int, reason: str = ""):
        self.status = int(status)
        self.reason = reason or REASONS.get(self.status, f"refused (status 0x{self.status:04X})")
        super().__init__(self.status, self.reason)


def cost_millionths(price: Decimal, parts: int) -> int:
    """A price for ``parts`` parts in integer millionths (exact in Redis and Lua)."""
    return int((price * parts * 1_000_000).to_integral_value())


@implementer(IAcceptor)
class Acceptor:
    """Validates, stores and enqueues submits, batching the writes of a reactor turn.

    Long messages submitted part by part go through `accept_part` (assembled
    in Redis by `gateway.store.multipart.PartAssembler`, available as ``parts``).
    """

    log = Logger()

    def __init__(self, redis, router: Router, ids: IdGenerator, clock, node: str = "",
                 timeout: float = DEFAULT_TIMEOUT, max_batch: int = 1000,
                 multipart_timeout: float = 120.0, channels=None):
        from gateway.store.multipart import PartAssembler  # it builds on this module

        #: the `gateway.channels.Channels` registry: a submit's channel is settled before the rules
        self.channels = channels
        self.redis = redis
        self.router = router
        self.ids = ids
        self.clock = clock
        self.node = node
        self.timeout = timeout
        self._listeners: list = []
        #: the local dispatcher, when new messages may skip the queue (`set_direct`)
        self._direct = None
        self._batcher = TurnBatcher(self._write, clock, max_batch)
        self._script = script("accept")
        self.parts = PartAssembler(self, multipart_timeout)

    def add_listener(self, listener) -> None:
        """Call ``listener(provider_name)`` when messages were queued for that provider."""
        self._listeners.append(listener)

    def set_direct(self, dispatcher) -> None:
        """Let new messages skip an empty queue, straight into flight with ``dispatcher``
        (`gateway.dispatch.Dispatcher.reserve`, ``hand_over``, ``in_doubt``)."""
        self._direct = dispatcher

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    def accept(self, account: Account, submit: Submit, msg_id: str | None = None) -> defer.Deferred:
        """Store and queue one message; fires with the `Message` once Redis has it.

        ``msg_id`` imposes the id (submit_multi gives its destinations related ids).
        """
        try:
            submit = self.classify(submit)
            message, envelope = self.prepare(account, submit, msg_id)
        except AcceptError as e:
            return defer.fail(e)
        return self._batcher.add((envelope, message))

    def accept_many(self, account: Account, submits) -> defer.Deferred:
        """`accept` for each of ``submits`` (an HTTP batch), with one Deferred for them all: it
        fires with one result per submit, in order, the `Message` or the exception refusing
        it (`AcceptError`, `StoreUnavailable`)."""
        results, items, where = [None] * len(submits), [], []
        for n, submit in enumerate(submits):
            try:
                message, envelope = self.prepare(account, self.classify(submit))
            except AcceptError as e:
                results[n] = e
                continue
            items.append((envelope, message))
            where.append(n)

        def answered(answers):
            for n, answer in zip(where, answers):
                results[n] = answer
            return results

        return self._batcher.add_many(items).addCallback(answered)

    def classify(self, submit: Submit) -> Submit:
        """``submit`` with its channel, text and channel parameters settled by the channel registry
        (a ``__MAIL__:`` prefix, or the channel an HTTP request named); `AcceptError` with the
        channel's status for a message the channel refuses."""
        if self.channels is None:
            return submit
        try:
            return self.channels.apply(submit)
        except ChannelError as e:
            raise AcceptError(e.status, e.reason) from None

    def accept_part(self, account: Account, submit: Submit, reference: int, total: int,
                    number: int) -> defer.Deferred:
        """Store part ``number`` of ``total`` of a long message; see `PartAssembler.accept_part`."""
        return self.parts.accept_part(account, submit, reference, total, number)

    def prepare(self, account: Account, submit: Submit, msg_id: str | None = None):
        """The `Message` and its ``accept.lua`` envelope; raises `AcceptError` for local rules."""
        text, comment = split_comment(submit.text)
        cost = check_rules(account, submit, text)
        try:
            route = self.router.route(account.name, submit.channel, submit.destination)
        except NoRoute as e:
            raise AcceptError(e.status, str(e)) from None
        now = self.now_ms()
        if submit.validity and submit.validity <= now:
            raise AcceptError(S.ESME_RINVEXPIRY)
        message = Message(
            id=msg_id or self.ids.next(now), account=account.name, destination=submit.destination,
            text=text, source=submit.source, channel=submit.channel, direction=Direction.MT,
            raw=submit.raw, data_coding=submit.data_coding, parts=submit.parts,
            priority=submit.priority, schedule=submit.schedule, validity=submit.validity,
            registered_delivery=submit.registered_delivery, provider=route.providers[0],
            route=route.providers, comment=comment, node=self.node, client_ref=submit.client_ref,
            user_ref=submit.user_ref, created=now, quiet_hours=account.quiet_spec, extra=submit.extra,
        )
        message.history = [(message.state, now)]
        due = quiet_end(max(submit.schedule, now), message.quiet_hours)
        envelope = (
            message.id, account.name, route.providers[0], submit.priority, due, submit.validity,
            submit.registered_delivery, ",".join(route.providers), text, message.static_blob(),
            account.throughput, account.dedup_window * 1000, cost, submit.destination, submit.source,
        )
        return message, envelope

    def _write(self, items) -> defer.Deferred:
        now = self.now_ms()
        envelopes, reserved = self._reserve(items, now)
        batch = msgpack.packb(envelopes, use_bin_type=False)
        d = self._script(self.redis, [now, batch], self.clock, self.timeout)
        d.addCallback(self._results, items, reserved)
        if reserved:
            d.addErrback(self._unanswered, reserved)
        return d

    def _reserve(self, items, now: int):
        """The envelopes to send, with the lease owner appended to those the local dispatcher
        has room for (the script files them in flight if their queue is empty); how many were
        reserved per provider."""
        direct = self._direct
        if direct is None:
            return [envelope for envelope, _ in items], {}
        envelopes, reserved = [], {}
        for envelope, _ in items:
            provider = envelope[2]
            owner = direct.reserve(provider) if envelope[4] <= now else None
            if owner is None:
                envelopes.append(envelope)
            else:
                envelopes.append(envelope + (owner,))
                reserved[provider] = reserved.get(provider, 0) + 1
        return envelopes, reserved

    def _results(self, reply, items, reserved) -> list:
        if isinstance(reply, bytes):
            reply = reply.decode()
        results, woken, handed = [], set(), {}
        for status, (envelope, message) in zip(reply.split(","), items):
            if status == "0":
                results.append(message)
                woken.add(envelope[2])
            elif status == "d":  # in flight under the dispatcher's lease
                results.append(message)
                handed.setdefault(envelope[2], []).append(message)
            else:
                results.append(AcceptError(int(status)))
        for provider, count in reserved.items():
            self._direct.hand_over(provider, handed.get(provider, ()), count)
        self.notify(woken)
        return results

    def _unanswered(self, failure, reserved):
        """No answer: messages may have gone into flight under the dispatcher's lease unseen."""
        for provider, count in reserved.items():
            self._direct.in_doubt(provider, count)
        return failure

    def notify(self, providers) -> None:
        """Tell in-process listeners (the local dispatcher) which queues got messages."""
        for provider in providers:
            for listener in self._listeners:
                listener(provider)


def check_rules(account: Account, submit: Submit, text: str) -> int:
    """Apply the account rules that need no shared state; the cost in millionths (0: free)."""
    if not account.enabled:
        raise AcceptError(S.ESME_RINVSYSID)
    if account.allowed_senders and submit.source not in account.allowed_senders:
        raise AcceptError(S.ESME_RINVSRCADR)
    if account.blacklist and (submit.destination.lstrip("+") in account.blacklist
                              or submit.destination in account.blacklist
                              or submit.source in account.blacklist):
        raise AcceptError(S.VENDOR_BLACKLISTED)
    if account.forbidden_words:
        lowered = text.lower()
        if any(word.lower() in lowered for word in account.forbidden_words):
            raise AcceptError(S.VENDOR_FORBIDDEN_WORDS)
    if not account.tariff:
        return 0
    price = account.price_for(submit.destination)
    if price is None:
        raise AcceptError(S.VENDOR_NO_TARIFF)
    return cost_millionths(price, submit.parts)
