"""
New messages skipping an empty queue: the acceptor files them in flight under
the local dispatcher's lease and hands them over, with no take.  Against a real
Redis: what goes straight through, what still queues (an older message waits,
a schedule, no room), and the failure cases (a lost accept answer, a dead node).
"""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from gateway.dispatch import Dispatcher
from gateway.model import Account, IdGenerator, SendResult, State, Submit
from gateway.routing import Route, Router
from gateway.store import keys
from gateway.store.accept import Acceptor
from gateway.store.messages import MessageStore
from gateway.store.queues import Queues
from gateway.store.scripting import StoreUnavailable
from tests.dispatch.support import CountingProvider, eventually

ACCOUNT = Account("acme", throughput=0, dedup_window=0)


class CountingQueues(Queues):
    """`Queues` that counts its takes."""

    takes = 0

    def take(self, owner, provider, n):
        self.takes += 1
        return super().take(owner, provider, n)


@pytest.fixture
def acceptor(redis):
    return Acceptor(redis, Router([Route("r", providers=("p1", "p2"))]), IdGenerator(31), reactor)


@pytest.fixture
def queues(redis):
    return CountingQueues(redis, reactor, max_attempts=5)


async def started(acceptor, queues, providers, owner="node#1", **options):
    """A dispatcher with its lease, new messages of ``acceptor`` allowed to skip the queue."""
    options.setdefault("poll_interval", 60)
    options.setdefault("backoff_base", 0.01)
    d = Dispatcher(queues, providers, owner, reactor, **options)
    d.startService()
    await eventually(lambda: defer.succeed(d._leased))
    await eventually(lambda: defer.succeed(not d._busy))  # the first pump found the queues empty
    acceptor.add_listener(d.wake)
    acceptor.set_direct(d)
    return d


async def accept_many(acceptor, n, **fields):
    return [await acceptor.accept(ACCOUNT, Submit("79001234567", f"m{i}", **fields)) for i in range(n)]


async def settled(redis, queues, messages, state=State.ENROUTE):
    async def done():
        depth = await queues.depth("p1")
        states = [(await MessageStore(redis, reactor).get(m.id)).state for m in messages]
        return depth == {"ready": 0, "delayed": 0, "inflight": 0} and set(states) == {state}
    await eventually(done)


@pytest_twisted.ensureDeferred
async def test_with_an_empty_queue_new_messages_go_straight_to_the_provider(redis, acceptor, queues):
    p1 = CountingProvider("p1")
    d = await started(acceptor, queues, [p1])
    takes = queues.takes
    try:
        messages = await accept_many(acceptor, 10)
        assert await p1.when_sent(10) == [m.id for m in messages]
        await settled(redis, queues, messages)
        assert queues.takes == takes  # not one take: each message was handed over
        assert d._reserved == {"p1": 0}
    finally:
        await d.stopService()


@pytest_twisted.ensureDeferred
async def test_a_message_never_overtakes_one_waiting_in_the_queue(redis, acceptor, queues):
    waiting = await accept_many(acceptor, 3)  # queued while no dispatcher ran
    p1 = CountingProvider("p1")
    d = Dispatcher(queues, [p1], "node#1", reactor, poll_interval=60)
    acceptor.set_direct(d)
    await queues.renew("node#1", 30_000)
    d._leased = True  # the lease is ours, but nothing pumped yet: the three still wait
    d.running = True
    try:
        later = await acceptor.accept(ACCOUNT, Submit("79001234567", "later"))
        assert p1.sent == []
        assert await redis.zcard(keys.ready("p1")) == 4  # queued behind them, not handed over
        d.running = False
        d.startService()
        sent = await p1.when_sent(4)
        assert sent == [m.id for m in waiting] + [later.id]
        await settled(redis, queues, waiting + [later])
    finally:
        await d.stopService()


@pytest_twisted.ensureDeferred
async def test_scheduled_messages_and_messages_beyond_the_room_are_queued(redis, acceptor, queues):
    p1 = CountingProvider("p1", window=2, hang=True)
    d = await started(acceptor, queues, [p1])
    try:
        soon = await accept_many(acceptor, 5)
        await p1.when_sent(2)
        assert p1.sent == [soon[0].id, soon[1].id]  # the window's worth went straight through
        assert await redis.zcard(keys.ready("p1")) == 3
        scheduled = await acceptor.accept(ACCOUNT, Submit("79001234567", "tomorrow",
                                                          schedule=acceptor.now_ms() + 86_400_000))
        assert await redis.zscore(keys.delayed("p1"), scheduled.id) is not None
        assert d._reserved == {"p1": 0}
    finally:
        d.drain_timeout = 0.05
        await d.stopService()
    assert await queues.depth("p1") == {"ready": 5, "delayed": 1, "inflight": 0}


@pytest_twisted.ensureDeferred
async def test_retries_and_failover_of_a_message_that_skipped_the_queue(redis, acceptor, queues):
    attempts = {}

    def flaky(message, n):
        attempts[message.id] = n
        return SendResult.temporary(0x58, "throttled") if n == 1 else SendResult.sent(f"up-{message.id}")

    p1 = CountingProvider("p1", behaviour=lambda m, n: SendResult.permanent(0x0B, "no such number"))
    p2 = CountingProvider("p2", behaviour=flaky)
    d = await started(acceptor, queues, [p1, p2], poll_interval=0.05, housekeeping_interval=0.05)
    try:
        [message] = await accept_many(acceptor, 1)
        await p2.when_sent(2)
        assert p1.sent == [message.id]  # refused for good there: the next provider of the route

        async def enroute():
            return (await MessageStore(redis, reactor).get(message.id)).state == State.ENROUTE
        await eventually(enroute)
        assert attempts == {message.id: 2}  # retried after the temporary error
    finally:
        await d.stopService()


class LosingScript:
    """The accept script, whose first answer is lost after it ran in Redis."""

    def __init__(self, script):
        self.script = script
        self.lost = False

    def __call__(self, *args, **kwargs):
        d = self.script(*args, **kwargs)
        if not self.lost:
            self.lost = True

            def lose(reply):
                raise StoreUnavailable(f"answer to accept lost ({reply!r})")
            d.addCallback(lose)
        return d


@pytest_twisted.ensureDeferred
async def test_messages_of_an_accept_whose_answer_was_lost_are_sent_once(redis, acceptor):
    queues = CountingQueues(redis, reactor, timeout=0.2)
    p1 = CountingProvider("p1")
    d = await started(acceptor, queues, [p1], poll_interval=0.05)
    acceptor._script = LosingScript(acceptor._script)
    try:
        results = [acceptor.accept(ACCOUNT, Submit("79001234567", f"m{i}")) for i in range(4)]
        outcomes = await defer.DeferredList(results, consumeErrors=True)
        assert all(not ok and f.check(StoreUnavailable) for ok, f in outcomes)  # the client is told "try later"
        in_flight = await redis.hkeys(keys.inflight("p1"))
        assert len(in_flight) == 4  # yet Redis has them, in flight under our lease
        sent = await p1.when_sent(4)
        assert sorted(sent) == sorted(in_flight)  # returned to the queue, then sent: once each
        await eventually(lambda: defer.succeed(d._doubt == {}), bound=5)
        assert len(p1.sent) == 4
        assert await redis.hlen(keys.inflight("p1")) == 0
    finally:
        await d.stopService()


@pytest_twisted.ensureDeferred
async def test_a_dead_node_s_messages_that_skipped_the_queue_are_sent_by_another(redis, acceptor, queues):
    stuck = CountingProvider("p1", hang=True)
    first = await started(acceptor, queues, [stuck], owner="dead#1", lease=1.0)
    messages = await accept_many(acceptor, 3)
    await stuck.when_sent(3)
    assert await redis.hlen(keys.inflight("p1")) == 3
    for loop in first._loops:  # the process "dies": no renewal, no release
        loop.stop()
    heir = CountingProvider("p1")
    second = Dispatcher(queues, [heir], "heir#2", reactor, poll_interval=0.05, housekeeping_interval=0.05)
    second.startService()
    try:
        sent = await heir.when_sent(3)
        assert sorted(sent) == sorted(m.id for m in messages)
        await settled(redis, queues, messages)
    finally:
        await second.stopService()


@pytest_twisted.ensureDeferred
async def test_a_provider_whose_capacity_fails_gets_its_messages_queued_not_refused(redis, acceptor, queues):
    class Broken(CountingProvider):
        def capacity(self):
            raise RuntimeError("a plugin's bug")

    broken = Broken("p1")
    d = Dispatcher(queues, [broken], "node#1", reactor, poll_interval=60)
    acceptor.set_direct(d)
    await queues.renew("node#1", 30_000)
    d._leased = True
    d.running = True
    try:
        message = await acceptor.accept(ACCOUNT, Submit("79001234567", "kept"))
        assert await redis.zscore(keys.ready("p1"), message.id) is not None
    finally:
        d.running = False
