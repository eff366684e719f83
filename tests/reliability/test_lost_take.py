"""
A take whose answer never arrives (Redis went away, or answered after the
reply timeout) may still have moved messages into flight under the
dispatcher's lease.  Found by the Redis outage scenario: those messages stayed
in flight for ever, since the node kept renewing its lease.  They must go back
to the queue and be sent.
"""

from __future__ import annotations

import pytest_twisted
from twisted.internet import defer, reactor

from gateway.dispatch import Dispatcher
from gateway.model import Account, IdGenerator, Submit
from gateway.routing import Route, Router
from gateway.store import keys
from gateway.store.accept import Acceptor
from gateway.store.queues import Queues
from gateway.store.scripting import StoreUnavailable
from tests.dispatch.support import CountingProvider, eventually

ACCOUNT = Account("acme", throughput=0, dedup_window=0)


class LosingQueues(Queues):
    """Runs the first ``lose`` takes in Redis, then fails them as if the reply was lost."""

    def __init__(self, *args, lose=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.lose = lose

    def take(self, owner, provider, n):
        d = super().take(owner, provider, n)
        if self.lose:
            self.lose -= 1

            def lost(messages):
                raise StoreUnavailable(f"reply to take lost ({len(messages)} messages moved)")

            d.addCallback(lost)
        return d


@pytest_twisted.ensureDeferred
async def test_messages_of_a_take_whose_answer_was_lost_are_sent(redis):
    acceptor = Acceptor(redis, Router([Route("r", providers=("p1",))]), IdGenerator(21), reactor)
    queues = LosingQueues(redis, reactor, timeout=0.2)
    provider = CountingProvider("p1", window=5)
    dispatcher = Dispatcher(queues, [provider], "node#1", reactor, poll_interval=0.05, lease=30)
    accepted = [await acceptor.accept(ACCOUNT, Submit("79001234567", f"m{i}")) for i in range(12)]
    dispatcher.startService()
    try:
        sent = await provider.when_sent(12, timeout=10)
        assert sorted(set(sent)) == sorted(m.id for m in accepted)
        assert len(sent) == 12  # nothing twice: the orphans were not being sent
        await eventually(lambda: defer.succeed(dispatcher._doubt == {}), bound=5)
        assert await redis.hlen(keys.inflight("p1")) == 0
    finally:
        await dispatcher.stopService()


@pytest_twisted.ensureDeferred
async def test_sends_under_way_are_not_returned_with_the_orphans(redis):
    acceptor = Acceptor(redis, Router([Route("r", providers=("p1",))]), IdGenerator(22), reactor)
    queues = Queues(redis, reactor)
    provider = CountingProvider("p1", window=3, hang=True)
    dispatcher = Dispatcher(queues, [provider], "node#2", reactor, poll_interval=60, lease=30, drain_timeout=0.1)
    for i in range(6):
        await acceptor.accept(ACCOUNT, Submit("79001234567", f"m{i}"))
    dispatcher.startService()
    try:
        await provider.when_sent(3, timeout=10)
        returned = await queues.return_orphans("node#2", "p1", sorted(dispatcher._held))
        assert returned == 0
        assert await redis.hlen(keys.inflight("p1")) == 3
    finally:
        provider.hang = False
        await dispatcher.stopService()
