"""The dispatcher against a real Redis: sending, wake-ups, retries, failover, stops and crashes."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor

from gateway.dispatch import Dispatcher
from gateway.model import Account, IdGenerator, SendResult, State, Submit
from gateway.providers.null import NullProvider
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.messages import MessageStore
from gateway.store.notify import Notifier
from gateway.store.outbox import Outbox
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker
from tests.dispatch.support import CountingProvider, eventually

ACCOUNT = Account("acme", throughput=0, dedup_window=0)


@pytest.fixture
def acceptor(redis):
    return Acceptor(redis, Router([Route("r", providers=("p1", "p2"))]), IdGenerator(11), reactor)


@pytest.fixture
def queues(redis):
    return Queues(redis, reactor, max_attempts=5)


def dispatcher(queues, providers, owner="node#1", **options):
    options.setdefault("poll_interval", 60)  # only wake-ups, unless a test says otherwise
    options.setdefault("backoff_base", 0.01)
    d = Dispatcher(queues, providers, owner, reactor, **options)
    d.startService()
    return d


async def accept_many(acceptor, n, **fields):
    return [await acceptor.accept(ACCOUNT, Submit("79001234567", f"m{i}", **fields)) for i in range(n)]


async def state(redis, msg_id):
    return (await MessageStore(redis, reactor).get(msg_id)).state


@pytest_twisted.ensureDeferred
async def test_accepted_messages_are_sent_once_and_receipts_make_dlrs(redis, acceptor, queues):
    tracker = Tracker(redis, IdGenerator(12), reactor)
    null = NullProvider("p1", sink=tracker, clock=reactor)
    probe = CountingProvider("p2")
    d = dispatcher(queues, [null, probe])
    acceptor.add_listener(d.wake)
    try:
        messages = await accept_many(acceptor, 20, registered_delivery=1)
        outbox = Outbox(redis, reactor)
        reports = []
        for _ in range(200):
            reports += await outbox.take("acme")
            if len(reports) == 20:
                break
            await deferLater(0.02)
        assert sorted(null.sent) == sorted(m.id for m in messages)
        assert {r.state for r in reports} == {State.DELIVERED} and len(reports) == 20
        assert probe.sent == []
    finally:
        await d.stopService()


def deferLater(seconds):
    from twisted.internet import task
    return task.deferLater(reactor, seconds, lambda: None)


@pytest_twisted.ensureDeferred
async def test_woken_by_pubsub_from_another_node(redis, redis_server, acceptor, queues):
    notifier = Notifier(redis_server.url)
    notifier.startService()
    p1 = CountingProvider("p1")
    d = dispatcher(queues, [p1], notifier=notifier)
    try:
        await notifier.whenSubscribed().addTimeout(10, reactor)
        [m] = await accept_many(acceptor, 1)  # no in-process listener: only pub/sub can wake it
        assert await p1.when_sent(1) == [m.id]
    finally:
        await d.stopService()
        await notifier.stopService()


@pytest_twisted.ensureDeferred
async def test_temporary_error_is_retried_with_backoff(redis, acceptor, queues):
    flaky = CountingProvider("p1", behaviour=lambda m, n: SendResult.temporary(0x14) if n == 1 else SendResult.sent("ok"))
    d = dispatcher(queues, [flaky], poll_interval=0.05, housekeeping_interval=0.05)
    try:
        [m] = await accept_many(acceptor, 1)
        d.wake("p1")
        assert await flaky.when_sent(2) == [m.id, m.id]
        await d.stopService()
        stored = await MessageStore(redis, reactor).get(m.id)
        assert stored.state == State.ENROUTE and stored.attempts == 2
    finally:
        if d.running:
            await d.stopService()


@pytest_twisted.ensureDeferred
async def test_permanent_error_fails_over_to_next_provider(redis, acceptor, queues):
    broken = CountingProvider("p1", behaviour=lambda m, n: SendResult.permanent(0x0B))
    backup = CountingProvider("p2")
    d = dispatcher(queues, [broken, backup])
    acceptor.add_listener(d.wake)
    try:
        [m] = await accept_many(acceptor, 1)
        assert await backup.when_sent(1) == [m.id]
        assert broken.sent == [m.id]
    finally:
        await d.stopService()


@pytest_twisted.ensureDeferred
async def test_batches_are_sized_to_free_capacity(redis, acceptor, queues):
    slow = CountingProvider("p1", window=5, hang=True)
    d = dispatcher(queues, [slow])
    try:
        await accept_many(acceptor, 12)
        d.wake("p1")
        await slow.when_sent(5)
        assert (await queues.depth("p1"))["inflight"] == 5
    finally:
        d.drain_timeout = 0.05
        await d.stopService()
    assert await queues.depth("p1") == {"ready": 12, "delayed": 0, "inflight": 0}


@pytest_twisted.ensureDeferred
async def test_dispatcher_dying_mid_batch_hands_over_after_its_lease_only(redis, acceptor, queues):
    stuck = CountingProvider("p1", window=3, hang=True)
    first = dispatcher(queues, [stuck], owner="dead#1", lease=1.0)
    messages = await accept_many(acceptor, 3)
    first.wake("p1")
    await stuck.when_sent(3)
    for loop in first._loops:  # the process "dies": no renewal, no release
        loop.stop()
    heir = CountingProvider("p1")
    second = dispatcher(queues, [heir], owner="heir#2", poll_interval=0.05, housekeeping_interval=0.05)
    try:
        assert (await queues.depth("p1"))["inflight"] == 3
        sent = await heir.when_sent(3)
        assert sorted(sent) == sorted(m.id for m in messages)

        async def settled():
            return await queues.depth("p1") == {"ready": 0, "delayed": 0, "inflight": 0}
        await eventually(settled)
        assert all([await state(redis, m.id) == State.ENROUTE for m in messages])
    finally:
        await second.stopService()


@pytest_twisted.ensureDeferred
async def test_dispatcher_keeps_going_through_a_redis_outage(redis, redis_server, acceptor, queues):
    from tests.store.test_outage import reconnected

    p1 = CountingProvider("p1")
    d = dispatcher(queues, [p1], poll_interval=0.05, housekeeping_interval=0.05)
    try:
        redis_server.stop()
        try:
            d.wake_all()
            await d._housekeeping()  # every step fails with StoreUnavailable, logged, not raised
            await d._renew()
            assert d.running
        finally:
            redis_server.start()
        await reconnected(redis)
        [m] = await accept_many(acceptor, 1)
        assert await p1.when_sent(1) == [m.id]
    finally:
        await d.stopService()


class SettleFailsOnce:
    """`Queues` whose first `settle` call fails as if Redis had gone away."""

    def __init__(self, queues):
        self.queues = queues
        self.failed = False

    def __getattr__(self, name):
        return getattr(self.queues, name)

    def settle(self, owner, outcomes):
        from twisted.internet import defer

        from gateway.store.scripting import StoreUnavailable

        if not self.failed:
            self.failed = True
            return defer.fail(StoreUnavailable("no answer from Redis"))
        return self.queues.settle(owner, outcomes)


@pytest_twisted.ensureDeferred
async def test_outcomes_that_could_not_be_recorded_are_settled_by_housekeeping(redis, acceptor, queues):
    p1 = CountingProvider("p1")
    flaky = SettleFailsOnce(queues)
    d = dispatcher(flaky, [p1], housekeeping_interval=0.05)
    acceptor.add_listener(d.wake)  # woken by the accepts, not left to a poll race
    try:
        sent = [m.id for m in await accept_many(acceptor, 3)]
        assert sorted(await p1.when_sent(3)) == sorted(sent)

        async def all_enroute():
            return [await state(redis, i) for i in sent] == [State.ENROUTE] * 3

        await eventually(all_enroute)
        assert flaky.failed and p1.sent.count(sent[0]) == 1   # settled late, never sent twice
    finally:
        await d.stopService()
