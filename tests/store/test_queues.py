"""Per-provider queues: order, delays, validity, retries, failover, dead letters, leases."""

from __future__ import annotations

import pytest
import pytest_twisted

from gateway.model import SendResult, State
from gateway.store import keys
from gateway.store.messages import MessageStore
from gateway.store.queues import LeaseLost
from tests.store.support import accept, account, submit

LEASE = 30_000


async def queued(acceptor, clock, *submits, **account_fields):
    return await accept(acceptor, clock, account(**account_fields), *submits)


async def state_of(redis, clock, msg_id):
    return await MessageStore(redis, clock).get(msg_id)


@pytest_twisted.ensureDeferred
async def test_higher_priority_first_then_fifo(acceptor, queues, clock):
    low1, = await queued(acceptor, clock, submit(text="low1"))
    clock.advance(0.001)
    high, = await queued(acceptor, clock, submit(text="high", priority=3))
    clock.advance(0.001)
    low2, = await queued(acceptor, clock, submit(text="low2"))
    await queues.renew("A", LEASE)
    taken = await queues.take("A", "p1", 10)
    assert [m.id for m in taken] == [high.id, low1.id, low2.id]
    assert [m.text for m in taken] == ["high", "low1", "low2"]


@pytest_twisted.ensureDeferred
async def test_take_needs_a_live_lease(acceptor, queues, clock):
    await queued(acceptor, clock, submit())
    with pytest.raises(LeaseLost):
        await queues.take("A", "p1", 10)
    assert await queues.renew("A", LEASE) is False  # new lease
    assert await queues.renew("A", LEASE) is True
    assert len(await queues.take("A", "p1", 10)) == 1


@pytest_twisted.ensureDeferred
async def test_sent_message_is_enroute_with_upstream_ids_mapped(redis, acceptor, queues, tracker, clock):
    m, = await queued(acceptor, clock, submit())
    await queues.renew("A", LEASE)
    await queues.take("A", "p1", 10)
    assert await queues.depth("p1") == {"ready": 0, "delayed": 0, "inflight": 1}
    assert await queues.settle("A", [(m.id, SendResult.sent("u1", "u2"), 0)]) == [True]
    stored = await state_of(redis, clock, m.id)
    assert stored.state == State.ENROUTE and stored.upstream_ids == ("u1", "u2") and stored.attempts == 1
    assert [s for s, _ in stored.history] == [State.ACCEPTED, State.ENROUTE]
    assert await tracker.lookup("p1", "u2") == m.id
    assert await redis.ttl(keys.upstream("p1", "u1")) > 86400
    assert await queues.depth("p1") == {"ready": 0, "delayed": 0, "inflight": 0}


@pytest_twisted.ensureDeferred
async def test_temporary_error_retries_later_then_dead_letters(redis, acceptor, queues, clock):
    m, = await queued(acceptor, clock, submit())
    await queues.renew("A", LEASE)
    for attempt in range(1, 4):
        [taken] = await queues.take("A", "p1", 10)
        assert taken.attempts == attempt - 1
        due = queues.now_ms() + 5000
        await queues.settle("A", [(m.id, SendResult.temporary(0x14), due)])
        if attempt < 3:
            assert await redis.zscore(keys.delayed("p1"), m.id) == due
            assert await queues.promote("p1") == 0  # not due yet
            clock.advance(5)
            await queues.renew("A", LEASE)
            assert await queues.promote("p1") == 1
    assert [i for i, _ in await queues.dead()] == [m.id]  # max_attempts = 3
    stored = await state_of(redis, clock, m.id)
    assert stored.dead and stored.error == 0x14 and stored.state == State.ACCEPTED
    assert await queues.retry_dead([m.id]) == 1
    assert await queues.dead() == []
    [again] = await queues.take("A", "p1", 10)
    assert again.attempts == 0


@pytest_twisted.ensureDeferred
async def test_dropping_a_dead_letter_makes_it_undeliverable_with_dlr(redis, acceptor, queues, outbox, clock):
    queues.max_attempts = 1
    m, = await queued(acceptor, clock, submit(registered_delivery=1))
    await queues.renew("A", LEASE)
    await queues.take("A", "p1", 1)
    await queues.settle("A", [(m.id, SendResult.temporary(0x58), 0)])
    assert await queues.drop_dead([m.id]) == 1
    stored = await state_of(redis, clock, m.id)
    assert stored.state == State.UNDELIVERABLE and stored.error == 0x58 and not stored.dead
    [report] = await outbox.take("acme")
    assert (report.kind, report.state, report.error) == ("dlr", State.UNDELIVERABLE, 0x58)


@pytest_twisted.ensureDeferred
async def test_permanent_error_fails_over_then_undeliverable(redis, acceptor, queues, outbox, clock):
    m, = await queued(acceptor, clock, submit(registered_delivery=1))
    await queues.renew("A", LEASE)
    await queues.take("A", "p1", 1)
    await queues.settle("A", [(m.id, SendResult.permanent(0x0B), 0)])
    [moved] = await queues.take("A", "p2", 1)
    assert moved.id == m.id and moved.provider == "p2"
    assert await outbox.take("acme") == []  # no DLR for a failover
    await queues.settle("A", [(m.id, SendResult.permanent(0x45), 0)])
    stored = await state_of(redis, clock, m.id)
    assert (stored.state, stored.error, stored.attempts) == (State.UNDELIVERABLE, 0x45, 2)
    [report] = await outbox.take("acme")
    assert report.state == State.UNDELIVERABLE and report.message_id == m.id


@pytest_twisted.ensureDeferred
async def test_expired_before_sending_becomes_expired_with_dlr(redis, acceptor, queues, outbox, clock):
    validity = queues.now_ms() + 10_000
    m, = await queued(acceptor, clock, submit(validity=validity, registered_delivery=1))
    n, = await queued(acceptor, clock, submit(text="no receipt", validity=validity))
    clock.advance(11)
    await queues.renew("A", LEASE)
    assert await queues.take("A", "p1", 10) == []
    assert (await state_of(redis, clock, m.id)).state == State.EXPIRED
    assert (await state_of(redis, clock, n.id)).state == State.EXPIRED
    reports = await outbox.take("acme")
    assert [(r.message_id, r.state) for r in reports] == [(m.id, State.EXPIRED)]


@pytest_twisted.ensureDeferred
async def test_delayed_message_expiring_before_due_is_expired_on_promotion(redis, acceptor, queues, clock):
    now = queues.now_ms()
    m, = await queued(acceptor, clock, submit(schedule=now + 60_000, validity=now + 30_000))
    clock.advance(61)
    assert await queues.promote("p1") == 0
    assert (await state_of(redis, clock, m.id)).state == State.EXPIRED


@pytest_twisted.ensureDeferred
async def test_in_flight_messages_of_a_dead_owner_return_after_its_lease(acceptor, queues, clock):
    ms = await queued(acceptor, clock, *[submit(text=str(i)) for i in range(5)])
    await queues.renew("A", LEASE)
    await queues.renew("B", LEASE)
    assert len(await queues.take("A", "p1", 3)) == 3  # then A "crashes"
    clock.advance(20)
    await queues.renew("B", LEASE)
    assert await queues.reap() == 0  # A's lease still runs: nobody else may send them
    assert len(await queues.take("B", "p1", 10)) == 2
    clock.advance(11)
    await queues.renew("B", LEASE)
    assert await queues.reap() == 3
    again = await queues.take("B", "p1", 10)
    assert sorted(m.id for m in again) == sorted(m.id for m in ms[:3])


@pytest_twisted.ensureDeferred
async def test_live_owner_renewing_keeps_its_messages(acceptor, queues, clock):
    await queued(acceptor, clock, submit())
    await queues.renew("A", LEASE)
    await queues.take("A", "p1", 1)
    for _ in range(5):
        clock.advance(20)
        assert await queues.renew("A", LEASE) is True
        assert await queues.reap() == 0


@pytest_twisted.ensureDeferred
async def test_release_returns_own_messages_at_once(acceptor, queues, clock):
    await queued(acceptor, clock, submit(), submit(text="2"))
    await queues.renew("A", LEASE)
    await queues.take("A", "p1", 2)
    assert await queues.release("A") == 2
    assert (await queues.depth("p1"))["ready"] == 2
    with pytest.raises(LeaseLost):
        await queues.take("A", "p1", 2)


@pytest_twisted.ensureDeferred
async def test_send_completed_after_reaping_is_not_sent_again(redis, acceptor, queues, clock):
    m, = await queued(acceptor, clock, submit())
    await queues.renew("A", LEASE)
    await queues.take("A", "p1", 1)
    clock.advance(31)
    assert await queues.reap() == 1
    assert await queues.settle("A", [(m.id, SendResult.sent("u9"), 0)]) == [False]
    assert await queues.depth("p1") == {"ready": 0, "delayed": 0, "inflight": 0}
    assert (await state_of(redis, clock, m.id)).state == State.ENROUTE


@pytest_twisted.ensureDeferred
async def test_one_settle_applies_outcomes_in_order_whoever_holds_the_messages(redis, acceptor, queues, clock):
    a, b, c, d = await queued(acceptor, clock, *[submit(text=str(i)) for i in range(4)])
    await queues.renew("A", LEASE)
    await queues.renew("B", LEASE)
    assert [m.id for m in await queues.take("A", "p1", 2)] == [a.id, b.id]
    assert [m.id for m in await queues.take("B", "p1", 2)] == [c.id, d.id]
    flags = await queues.settle("A", [
        (a.id, SendResult.permanent(0x0B), 0),   # fails over to p2: no longer A's
        (a.id, SendResult.sent("ua"), 0),        # so this one is not A's either (recorded all the same)
        (b.id, SendResult.sent("ub"), 0),
        (b.id, SendResult.temporary(0x14), 0),   # b was let go of by the outcome before
        (c.id, SendResult.temporary(0x14), 0),   # B's
    ])
    assert flags == [True, False, True, False, False]
    assert await queues.depth("p1") == {"ready": 0, "delayed": 0, "inflight": 2}
    assert await redis.hgetall(keys.inflight("p1")) == {c.id: "B", d.id: "B"}
    assert await redis.zrange(keys.ready("p2"), 0, -1) == []   # the 'sent' took it off again
    stored = {m.id: await state_of(redis, clock, m.id) for m in (a, b, c)}
    assert (stored[a.id].state, stored[a.id].upstream_ids, stored[a.id].attempts) == (State.ENROUTE, ("ua",), 2)
    assert (stored[b.id].state, stored[b.id].upstream_ids, stored[b.id].attempts) == (State.ENROUTE, ("ub",), 1)
    assert (stored[c.id].state, stored[c.id].attempts) == (State.ACCEPTED, 0)
    assert await queues.settle("B", [(m.id, SendResult.sent(f"u{m.id}"), 0) for m in (c, d)]) == [True, True]
    assert await queues.depth("p1") == {"ready": 0, "delayed": 0, "inflight": 0}
