"""
The dispatcher: moves messages from the per-provider queues to the providers.

For each provider it takes a batch sized to the provider's free capacity into
flight (under this process's lease), calls `IProvider.send` for each message
and settles the outcomes in batches: sent → ENROUTE with upstream ids mapped;
temporary error → retry after exponential backoff with jitter (respecting
quiet hours), dead-letter after the maximum attempts; permanent error → next
provider of the route, UNDELIVERABLE when none is left.

It is woken when messages are queued — by the local `Acceptor`, by Redis
pub/sub from other nodes — and also polls, so a lost wake-up costs at most
``poll_interval``.

A new message may skip the queue: the `Acceptor` asks `reserve` for room
at the provider, and its script files the message in flight under this
process's lease instead of queueing it when the provider's queue is empty
(nothing older or more urgent waits); `hand_over` then sends the `Message`
the acceptor already has: no take, no round trip.  The guarantees stay: the
message is in Redis, in flight, before the client is told OK, and a dead
node's in-flight messages are reaped like taken ones.  While no message was
queued since a take came back short, pumping takes nothing.  Housekeeping (every ``housekeeping_interval``): renew the
lease, reap lapsed leases of dead nodes, promote due delayed messages, expire
incomplete multipart messages, reclaim and expire outbox reports.

A take whose answer is lost (Redis went away or answered too late) may still
have moved messages into flight under this process's lease, which it keeps
renewing: such a provider is "in doubt" until a take-free moment when the
messages held in Redis but not known here are returned to the queue
(`Queues.return_orphans`), repeated until the reply timeout has passed.
"""

from __future__ import annotations

import random

from twisted.application import service
from twisted.internet import defer, task

from gateway.logs import Logger
from gateway.model import Outcome, SendResult
from gateway.smpp.constants import CommandStatus
from gateway.store import keys
from gateway.store.queues import LeaseLost, Queues
from gateway.store.schedule import backoff_ms, quiet_end

__all__ = ["Dispatcher", "owner_id"]


def owner_id(node: str, node_number: int) -> str:
    """The lease owner name of one gateway process: node name and its node number."""
    return f"{node}#{node_number}"


class Dispatcher(service.Service):
    """Queue → provider, for every provider given; see the module docstring."""

    name = "dispatcher"
    log = Logger()

    def __init__(self, queues: Queues, providers, owner: str, clock, *, notifier=None,
                 outbox=None, assembler=None, lease: float = 30.0, poll_interval: float = 1.0,
                 housekeeping_interval: float = 5.0, backoff_base: float = 1.0,
                 backoff_cap: float = 300.0, max_batch: int = 500, drain_timeout: float = 10.0,
                 min_take: int = 32, rng: random.Random | None = None):
        self.queues = queues
        self.providers = {p.name: p for p in providers}
        self.owner = owner
        self.clock = clock
        self.notifier = notifier
        self.outbox = outbox
        self.assembler = assembler
        self.lease_ms = int(lease * 1000)
        self.poll_interval = poll_interval
        self.housekeeping_interval = housekeeping_interval
        self.backoff = (backoff_base, backoff_cap)
        self.max_batch = max_batch
        #: with at least this many sends of a provider under way, wait for this much room
        #: before taking more: completions come in bursts, and one take per freed slot
        #: would cost a Redis round trip per message
        self.min_take = min_take
        self.drain_timeout = drain_timeout
        self.rng = rng or random.Random()
        self.sent = 0
        #: ``observer(provider_name, message, SendResult)`` after every send attempt (metrics)
        self.observers: list = []
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._sending: dict[str, defer.Deferred] = {}
        self._under_way: dict[str, int] = {}
        self._wake_soon: set[str] = set()
        self._unsettled: list = []
        #: outcomes of this reactor turn, settled together at its end (`_settle_outcomes`)
        self._outcomes: list = []
        self._settle_call = None
        self._settling: set[defer.Deferred] = set()
        #: ids taken into flight and not yet settled in Redis (sending or settling)
        self._held: set[str] = set()
        #: provider → when a take of it last failed with an unknown outcome
        self._doubt: dict[str, float] = {}
        #: provider → whether its queue may hold messages (it was woken, or a take came back
        #: full); while it does not, a pump takes nothing
        self._backlog: dict[str, bool] = {}
        #: provider → wake-ups so far: a take does not clear a backlog announced while it ran
        self._wakes: dict[str, int] = {}
        #: provider → room promised to accepts under way (`reserve`), not handed over yet
        self._reserved: dict[str, int] = {}
        self._loops: list[task.LoopingCall] = []
        self._leased = False
        self._store_down = False

    # -- life cycle

    def startService(self):
        super().startService()
        for name in self.providers:
            self._subscribe(name)
        self._loop(self._housekeeping, self.housekeeping_interval)
        self._loop(self._renew, self.lease_ms / 3000.0)
        self._loop(self._poll, self.poll_interval)

    def _loop(self, function, interval: float) -> None:
        loop = task.LoopingCall(function)
        loop.clock = self.clock
        loop.start(interval, now=True).addErrback(
            lambda f: self.log.failure("dispatcher loop {name} stopped", f, name=function.__name__))
        self._loops.append(loop)

    def _subscribe(self, name: str) -> None:
        if self.notifier is not None:
            self.notifier.subscribe(keys.queue_wake(name), self._woken)

    def _woken(self, channel: str, _message) -> None:
        for name in self.providers:
            if keys.queue_wake(name) == channel:
                self.wake(name)

    @defer.inlineCallbacks
    def stopService(self):
        """Stop taking; wait (bounded) for sends in progress, settle them, release the rest."""
        super().stopService()
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self._loops = []
        if self.notifier is not None:
            for name in self.providers:
                self.notifier.unsubscribe(keys.queue_wake(name), self._woken)
        pending = list(self._sending.values())
        if pending:  # wait for them, but never cancel a send whose outcome is unknown
            timer = defer.Deferred()
            call = self.clock.callLater(self.drain_timeout, timer.callback, None)
            all_done = defer.DeferredList(pending, consumeErrors=True)
            yield defer.DeferredList([all_done, timer], fireOnOneCallback=True, consumeErrors=True)
            if call.active():
                call.cancel()
        self._settle_outcomes()
        if self._settling:
            yield defer.DeferredList(list(self._settling), consumeErrors=True)
        yield self._retry_unsettled()
        try:
            returned = yield self.queues.release(self.owner)
        except Exception as e:  # Redis down: the lease lapses and another node reaps
            self.log.warn("could not release in-flight messages of {owner}: {error}", owner=self.owner, error=e)
        else:
            self.log.info("dispatcher {owner} stopped, {count} messages returned", owner=self.owner, count=returned)

    def add_provider(self, provider) -> None:
        """Start dispatching to ``provider`` (e.g. after a configuration reload)."""
        self.providers[provider.name] = provider
        if self.running:
            self._subscribe(provider.name)
            self.wake(provider.name)

    # -- pumping

    def _poll(self):
        if not self._leased:  # lost (or never got) the lease: retry now, not at the next renewal
            return self._renew()
        self.wake_all()

    def wake_all(self) -> None:
        for name in list(self.providers):
            self.wake(name)

    def wake(self, name: str) -> None:
        """Messages may be waiting in ``name``'s queue: take and send what it can handle now."""
        self._backlog[name] = True
        self._wakes[name] = self._wakes.get(name, 0) + 1
        self._run(name)

    def _run(self, name: str) -> None:
        """Take and send what ``name`` can handle now (later, if a take is already running)."""
        if name not in self.providers or not self.running or not self._leased:
            return
        if name in self._busy:
            self._again.add(name)
            return
        self._busy.add(name)
        d = self._pump(self.providers[name])
        d.addErrback(self._pump_failed, name)
        d.addBoth(self._pumped, name)

    def _pumped(self, _, name: str) -> None:
        self._busy.discard(name)
        if name in self._again:
            self._again.discard(name)
            self.clock.callLater(0, self._run, name)

    def _pump_failed(self, failure, name: str) -> None:
        if failure.check(LeaseLost):
            self.log.warn("lease of {owner} lapsed; renewing", owner=self.owner)
            self._leased = False
            self.clock.callLater(0, self._renew)
        else:
            self._doubt[name] = self.clock.seconds()
            self.log.warn("taking messages for {provider} failed: {error}", provider=name,
                          error=failure.getErrorMessage())

    @defer.inlineCallbacks
    def _pump(self, provider):
        name = provider.name
        if name in self._doubt and not self._reserved.get(name):
            # (not while an accept may still file messages in flight for us: they would go
            # back to the queue and be sent by hand_over as well)
            yield self._return_orphans(name)
        if not self._backlog.get(name, True):
            return  # nothing was queued since the queue was last found empty
        room = min(int(provider.capacity()) - self._reserved.get(name, 0), self.max_batch)
        if room <= 0:
            return
        if room < self.min_take and self._under_way.get(name, 0) >= self.min_take:
            return  # the sends under way wake us again as they complete
        wakes = self._wakes.get(name, 0)
        messages = yield self.queues.take(self.owner, name, room)
        for message in messages:
            self._held.add(message.id)
            self._send(provider, message)
        if len(messages) == room:
            self._again.add(name)
        elif self._wakes.get(name, 0) == wakes:
            self._backlog[name] = False  # the queue was empty when the take ran

    # -- straight from the acceptor

    def reserve(self, name: str) -> str | None:
        """Room at provider ``name`` for one new message to skip its queue if that is empty:
        the lease owner to file it in flight under, or None (queue it) when the provider has
        no room, or this process has no lease or is in doubt about its in-flight messages."""
        provider = self.providers.get(name)
        if provider is None or not self.running or not self._leased or name in self._doubt:
            return None
        reserved = self._reserved.get(name, 0)
        try:
            room = int(provider.capacity())
        except Exception:  # a provider's bug must not fail the accept: the message is queued
            self.log.failure("capacity() of provider {provider} failed", provider=name)
            return None
        if room <= reserved:
            return None
        self._reserved[name] = reserved + 1
        return self.owner

    def hand_over(self, name: str, messages, reserved: int) -> None:
        """The accept that ``reserve`` was asked ``reserved`` times for came back: ``messages``
        are in flight under our lease (the rest were refused, or queued after all): send them."""
        self._reserved[name] = max(0, self._reserved.get(name, 0) - reserved)
        provider = self.providers.get(name)
        for message in messages:
            self._held.add(message.id)
            if provider is not None and self.running:
                self._send(provider, message)
            # else: stopping; in flight under a lease about to lapse, they are reaped

    def in_doubt(self, name: str, reserved: int) -> None:
        """An accept with ``reserved`` messages for ``name`` got no answer: any it filed in
        flight under our lease are not known here, and go back to the queue (`_return_orphans`)."""
        self._reserved[name] = max(0, self._reserved.get(name, 0) - reserved)
        self._doubt[name] = self.clock.seconds()
        self._run(name)

    @defer.inlineCallbacks
    def _return_orphans(self, name: str):
        """Called with no take of ``name`` under way (see the module docstring)."""
        started = self.clock.seconds()
        returned = yield self.queues.return_orphans(self.owner, name, sorted(self._held))
        if returned:
            self._backlog[name] = True
            self.log.warn("{count} messages of {provider} taken (or accepted straight into flight) by "
                          "a call whose answer was lost went back to the queue", count=returned, provider=name)
        # a take sent before the failure may still run in Redis until its reply timeout is over
        if started >= self._doubt.get(name, started) + self.queues.timeout:
            self._doubt.pop(name, None)

    def _send(self, provider, message) -> None:
        self._under_way[provider.name] = self._under_way.get(provider.name, 0) + 1
        d = defer.maybeDeferred(provider.send, message)
        self._sending[message.id] = d
        d.addCallbacks(self._outcome, self._send_failed, (provider, message), None, (provider, message))

    def _send_failed(self, failure, provider, message) -> None:
        self.log.warn("provider {provider} failed sending {id}: {error}", provider=provider.name,
                      id=message.id, error=failure.getErrorMessage())
        result = SendResult.temporary(CommandStatus.VENDOR_TRANSPORT_ERROR, failure.getErrorMessage())
        self._outcome(result, provider, message)

    def _outcome(self, result: SendResult, provider, message) -> None:
        self._sending.pop(message.id, None)
        self._under_way[provider.name] -= 1
        for observer in self.observers:
            try:
                observer(provider.name, message, result)
            except Exception:  # an observer's bug must not keep the outcome from being settled
                self.log.failure("send observer {observer!r} failed", observer=observer)
        due = 0
        if result.outcome is Outcome.TEMPORARY:
            base, cap = self.backoff
            wait = backoff_ms(message.attempts + 1, base, cap, rng=self.rng)
            due = quiet_end(self.queues.now_ms() + wait, message.quiet_hours)
        else:
            self.sent += result.outcome is Outcome.SENT
        self._outcomes.append((message.id, result, due))
        if self._settle_call is None:
            self._settle_call = self.clock.callLater(0, self._settle_outcomes)
        self._wake_later(provider.name)

    def _wake_later(self, name: str) -> None:
        """Wake once at the end of this reactor turn, however many sends completed in it."""
        if name not in self._wake_soon:
            self._wake_soon.add(name)
            self.clock.callLater(0, self._wake_now, name)

    def _wake_now(self, name: str) -> None:
        self._wake_soon.discard(name)
        self._run(name)

    # -- settling

    def _settle_outcomes(self) -> None:
        """Settle the outcomes collected so far, ``max_batch`` per Redis call, with one
        Deferred per call rather than one per message."""
        if self._settle_call is not None and self._settle_call.active():
            self._settle_call.cancel()
        self._settle_call = None
        outcomes, self._outcomes = self._outcomes, []
        for start in range(0, len(outcomes), self.max_batch):
            batch = outcomes[start:start + self.max_batch]
            d = defer.maybeDeferred(self.queues.settle, self.owner, batch)
            d.addCallbacks(self._settled, self._settle_failed, (batch,), None, (batch,))
            self._settling.add(d)
            d.addBoth(self._settle_done, d)

    def _settled(self, _, batch) -> None:
        self._held.difference_update(outcome[0] for outcome in batch)
        if any(result.outcome is Outcome.PERMANENT for _, result, _ in batch):
            self.wake_all()  # failed over: the next provider has it

    def _settle_failed(self, failure, batch) -> None:
        # Kept and retried by housekeeping: the messages stay in flight under our
        # lease meanwhile, so they are neither lost nor sent twice.
        self._unsettled.extend(batch)
        self.log.warn("could not record the outcomes of {count} messages ({id}, …): {error}",
                      count=len(batch), id=batch[0][0], error=failure.getErrorMessage())

    def _settle_done(self, _, d: defer.Deferred) -> None:
        self._settling.discard(d)

    def _retry_unsettled(self) -> defer.Deferred:
        if not self._unsettled:
            return defer.succeed(None)
        outcomes, self._unsettled = self._unsettled, []
        d = self.queues.settle(self.owner, outcomes)
        d.addCallback(lambda _: self._held.difference_update(outcome[0] for outcome in outcomes))
        return d.addErrback(lambda f: self._unsettled.extend(outcomes))

    # -- housekeeping

    @defer.inlineCallbacks
    def _renew(self):
        try:
            held = yield self.queues.renew(self.owner, self.lease_ms)
        except Exception as e:
            if not self._store_down:  # logged once per outage, not once per poll
                self.log.warn("could not renew the lease of {owner}: {error}", owner=self.owner, error=e)
            self._store_down = True
            return
        if self._store_down:
            self.log.info("lease of {owner} renewed again", owner=self.owner)
            self._store_down = False
        if not held and self._leased:
            self.log.warn("lease of {owner} had lapsed; its in-flight messages may have been returned",
                          owner=self.owner)
        first = not self._leased
        self._leased = True
        if first:
            self.wake_all()

    @defer.inlineCallbacks
    def _reap(self):
        if (yield self.queues.reap()):
            self.wake_all()

    @defer.inlineCallbacks
    def _promote(self, name: str):
        if (yield self.queues.promote(name)):
            self.wake(name)

    @defer.inlineCallbacks
    def _housekeeping(self):
        jobs = [("reap", self._reap), ("settle", self._retry_unsettled)]
        jobs += [("promote " + name, lambda n=name: self._promote(n)) for name in self.providers]
        if self.assembler is not None:
            jobs.append(("multipart", self.assembler.expire))
        if self.outbox is not None:
            jobs += [("outbox reclaim", self.outbox.reclaim), ("outbox expire", self.outbox.expire)]
        for label, job in jobs:
            try:
                yield job()
            except Exception as e:
                level = self.log.debug if self._store_down else self.log.warn
                level("housekeeping step {step} failed: {error}", step=label, error=e)
