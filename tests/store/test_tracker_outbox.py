"""Receipts, MO messages and the per-account outbox of reports."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import defer

from gateway.model import Direction, SendResult, State
from gateway.store import keys
from gateway.store.messages import MessageStore
from gateway.store.outbox import Outbox
from tests.store.support import accept, account, flush, submit


async def sent(acceptor, queues, clock, *upstream_ids, **fields):
    m, = await accept(acceptor, clock, account(), submit(**fields))
    await queues.renew("A", 30_000)
    await queues.take("A", "p1", 1)
    await queues.settle("A", [(m.id, SendResult.sent(*upstream_ids), 0)])
    return m


@pytest_twisted.ensureDeferred
async def test_receipt_maps_upstream_id_and_queues_dlr(redis, acceptor, queues, tracker, outbox, clock):
    m = await sent(acceptor, queues, clock, "up-1", registered_delivery=1)
    at = queues.now_ms() + 5000
    assert await flush(tracker.report("p1", "up-1", State.DELIVERED, 0, at), clock) == m.id
    stored = await MessageStore(redis, clock).get(m.id)
    assert stored.state == State.DELIVERED and stored.history[-1] == (State.DELIVERED, at)
    [report] = await outbox.take("acme")
    assert (report.kind, report.message_id, report.state, report.at) == ("dlr", m.id, State.DELIVERED, at)
    assert report.message.destination == "79001234567" and report.message.text == "hello"


@pytest_twisted.ensureDeferred
async def test_no_dlr_unless_asked_and_repeated_receipts_change_nothing(redis, acceptor, queues, tracker, outbox, clock):
    m = await sent(acceptor, queues, clock, "up-1")
    await flush(tracker.report("p1", "up-1", State.DELIVERED), clock)
    await flush(tracker.report("p1", "up-1", State.UNDELIVERABLE, 5), clock)
    stored = await MessageStore(redis, clock).get(m.id)
    assert stored.state == State.DELIVERED and len(stored.history) == 3
    assert await outbox.take("acme") == []


@pytest_twisted.ensureDeferred
async def test_failure_only_dlr_and_intermediate_notifications(acceptor, queues, tracker, outbox, clock):
    ok = await sent(acceptor, queues, clock, "u1", registered_delivery=2, text="a")
    bad = await sent(acceptor, queues, clock, "u2", registered_delivery=2 | 0x10, text="b")
    intermediate = await outbox.take("acme")
    assert [(r.message_id, r.state) for r in intermediate] == [(bad.id, State.ENROUTE)]
    await flush(defer.gatherResults([tracker.report("p1", "u1", State.DELIVERED),
                                     tracker.report("p1", "u2", State.UNDELIVERABLE, 11)]), clock)
    reports = await outbox.take("acme")
    assert [(r.message_id, r.state, r.error) for r in reports] == [(bad.id, State.UNDELIVERABLE, 11)]
    assert ok.id != bad.id


@pytest_twisted.ensureDeferred
async def test_message_sent_in_parts_is_delivered_when_every_part_is(redis, acceptor, queues, tracker, clock):
    m = await sent(acceptor, queues, clock, "a", "b", registered_delivery=1)
    await flush(tracker.report("p1", "a", State.DELIVERED), clock)
    assert (await MessageStore(redis, clock).get(m.id)).state == State.ENROUTE
    await flush(tracker.report("p1", "b", State.DELIVERED), clock)
    assert (await MessageStore(redis, clock).get(m.id)).state == State.DELIVERED


@pytest_twisted.ensureDeferred
async def test_unknown_upstream_id_is_kept_for_inspection(redis, tracker, clock):
    assert await flush(tracker.report("p1", "nope", State.DELIVERED), clock) is None
    assert await redis.llen(keys.UNMATCHED_RECEIPTS) == 1


@pytest_twisted.ensureDeferred
async def test_receipt_overtaking_the_send_record_is_retried(redis, acceptor, queues, tracker, clock):
    tracker.unmatched_retries = 2
    m, = await accept(acceptor, clock, account(), submit())
    d = tracker.report("p1", "early", State.DELIVERED)
    clock.advance(0)
    await queues.renew("A", 30_000)
    await queues.take("A", "p1", 1)
    await queues.settle("A", [(m.id, SendResult.sent("early"), 0)])
    clock.advance(tracker.unmatched_delay)
    assert await flush(d, clock) == m.id
    assert await redis.llen(keys.UNMATCHED_RECEIPTS) == 0


@pytest_twisted.ensureDeferred
async def test_mo_goes_to_the_claiming_account_outbox(redis, tracker, outbox, clock):
    await tracker.claim_mo_number("+7555", "acme")
    mo = await tracker.deliver_mo("p1", "79001234567", "7555", "STOP")
    assert mo.account == "acme" and mo.direction == Direction.MO
    [report] = await outbox.take("acme")
    assert (report.kind, report.message.text, report.message.source) == ("mo", "STOP", "79001234567")
    stored = await MessageStore(redis, clock).get(mo.id)
    assert stored.direction == Direction.MO and stored.state == State.DELIVERED


@pytest_twisted.ensureDeferred
async def test_unclaimed_mo_is_kept_as_orphan(redis, tracker, clock):
    mo = await tracker.deliver_mo("p1", "79001234567", "0000", "hello?")
    assert mo.account == "" and await redis.lrange(keys.MO_ORPHANS, 0, -1) == [mo.id]


@pytest_twisted.ensureDeferred
async def test_outbox_lease_ack_release_and_reclaim(tracker, outbox, clock):
    for i in range(3):
        await tracker.deliver_mo("p1", "1", "2", f"m{i}", account="acme")
    first = await outbox.take("acme", 2)
    assert [r.message.text for r in first] == ["m0", "m1"]
    assert await outbox.ack("acme", [first[0].id]) == 1
    assert await outbox.release("acme", [first[1].id]) == 1
    again = await outbox.take("acme", 10)
    assert [r.message.text for r in again] == ["m1", "m2"]
    assert await outbox.take("acme") == []
    assert await outbox.reclaim() == 0
    clock.advance(31)  # the taker died: leases lapse
    assert await outbox.reclaim() == 2
    assert [r.message.text for r in await outbox.take("acme")] == ["m1", "m2"]
    assert await outbox.pending("acme") == 2


@pytest_twisted.ensureDeferred
async def test_reports_past_retention_are_archived_not_dropped(redis, tracker, clock):
    outbox = Outbox(redis, clock, retention=60)
    await tracker.deliver_mo("p1", "1", "2", "old", account="acme")
    clock.advance(30)
    await tracker.deliver_mo("p1", "1", "2", "new", account="acme")
    clock.advance(31)
    assert await outbox.expire() == 1
    assert [r.message.text for r in await outbox.undelivered("acme")] == ["old"]
    assert [r.message.text for r in await outbox.take("acme")] == ["new"]


@pytest_twisted.ensureDeferred
async def test_new_report_is_published_on_the_account_channel(redis_server, tracker, clock):
    from gateway.store.notify import Notifier

    notifier = Notifier(redis_server.url)
    heard = defer.Deferred()
    notifier.subscribe(Outbox.wake_channel("acme"), lambda channel, message: heard.callback(channel)
                       if not heard.called else None)
    notifier.startService()
    try:
        from twisted.internet import reactor
        await notifier.whenSubscribed().addTimeout(10, reactor)
        await tracker.deliver_mo("p1", "1", "2", "ping", account="acme")
        assert await heard.addTimeout(10, reactor) == keys.outbox_wake("acme")
    finally:
        await notifier.stopService()


@pytest_twisted.ensureDeferred
async def test_ack_removes_only_reports_still_taken_each_once(tracker, outbox, clock):
    for i in range(1200):
        await tracker.deliver_mo("p1", "1", "2", f"m{i}", account="acme")
    taken = await outbox.take("acme", 1200)
    assert await outbox.ack("acme", [r.id for r in taken[:1100]] * 2) == 1100   # more than one call's worth
    clock.advance(31)   # the rest lapse and go back to ready
    assert await outbox.reclaim() == 100
    assert await outbox.ack("acme", [r.id for r in taken[1100:]]) == 0
    again = await outbox.take("acme", 1000)
    assert [r.id for r in again] == [r.id for r in taken[1100:]]
    assert await outbox.ack("acme", [r.id for r in again] + ["r0", "nonesuch"]) == 100
    assert await outbox.pending("acme") == 0 and await outbox.take("acme") == []
