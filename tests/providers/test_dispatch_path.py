"""Connectors behind the real Dispatcher, Router and Tracker over the real Redis."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor, task

from gateway.dispatch import Dispatcher
from gateway.model import Account, IdGenerator, State, Submit
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.messages import MessageStore
from gateway.store.outbox import Outbox
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker
from tests.providers.support import TIMEOUT, bound, connector, simulator, stop

ACCOUNT = Account("acme", throughput=0, dedup_window=0)


@pytest.fixture
def tracker(redis):
    return Tracker(redis, IdGenerator(21), reactor, unmatched_delay=0.05)


async def final_state(redis, msg_id: str, timeout: float = TIMEOUT):
    """The stored message once it reached a final state (polled, bounded)."""
    store = MessageStore(redis, reactor)
    deadline = reactor.seconds() + timeout
    while True:
        message = await store.get(msg_id)
        if message is not None and message.state.is_final:
            return message
        if reactor.seconds() > deadline:
            raise TimeoutError(f"{msg_id} still {message.state if message else 'missing'}")
        await task.deferLater(reactor, 0.01, lambda: None)


async def run(redis, router, providers):
    acceptor = Acceptor(redis, router, IdGenerator(22), reactor)
    dispatcher = Dispatcher(Queues(redis, reactor), providers, "node#1", reactor, poll_interval=0.05,
                            backoff_base=0.01)
    acceptor.add_listener(dispatcher.wake)
    dispatcher.startService()
    return acceptor, dispatcher


@pytest_twisted.ensureDeferred
async def test_message_goes_out_and_its_receipt_is_recorded_with_a_dlr_for_the_client(redis, tracker):
    sim = await simulator(dlr_delay="0.01")
    p = connector("up", sim, tracker)
    await bound(p)
    acceptor, dispatcher = await run(redis, Router([Route("all", providers=("up",))]), [p])
    try:
        long_text = "Длинное сообщение, которое не помещается в одну часть. " * 3
        short = await acceptor.accept(ACCOUNT, Submit("79001234567", "hello", registered_delivery=1))
        long = await acceptor.accept(ACCOUNT, Submit("79001234568", long_text, registered_delivery=1))
        done = await final_state(redis, short.id)
        assert done.state == State.DELIVERED and done.provider == "up" and len(done.upstream_ids) == 1
        done_long = await final_state(redis, long.id)
        assert done_long.state == State.DELIVERED and len(done_long.upstream_ids) == 3
        assert sim.smsc.received[-1].text == long_text
        reports = await Outbox(redis, reactor).take("acme")
        assert short.id in {r.message_id for r in reports}
    finally:
        await dispatcher.stopService()
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_permanent_reject_by_the_first_connector_fails_over_to_the_second(redis, tracker):
    refusing = await simulator(outcomes="* reject 0x45")
    working = await simulator()
    first = connector("first", refusing, tracker)
    second = connector("second", working, tracker)
    await bound(first)
    await bound(second)
    router = Router([Route("all", providers=("first", "second"))])
    acceptor, dispatcher = await run(redis, router, [first, second])
    try:
        message = await acceptor.accept(ACCOUNT, Submit("79001234567", "hello", registered_delivery=1))
        done = await final_state(redis, message.id)
        assert done.state == State.DELIVERED and done.provider == "second"
        assert refusing.smsc.counters["rejected"] == 1 and refusing.smsc.counters["accepted"] == 0
        assert working.smsc.by_destination == {"79001234567": 1}
    finally:
        await dispatcher.stopService()
        await stop(first, second, refusing, working)


@pytest_twisted.ensureDeferred
async def test_all_connectors_refusing_leaves_the_message_undeliverable_with_the_code(redis, tracker):
    refusing = await simulator(outcomes="* reject 0x0B")
    only = connector("only", refusing, tracker)
    await bound(only)
    acceptor, dispatcher = await run(redis, Router([Route("all", providers=("only",))]), [only])
    try:
        message = await acceptor.accept(ACCOUNT, Submit("79001234567", "hello"))
        done = await final_state(redis, message.id)
        assert done.state == State.UNDELIVERABLE and done.error == 0x0B
    finally:
        await dispatcher.stopService()
        await stop(only, refusing)
