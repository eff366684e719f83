"""Retention deletes final messages past their days, with every index entry; not live ones."""

from __future__ import annotations

import pytest_twisted

from gateway.archive.records import day_of
from gateway.archive.retention import Retention
from gateway.model import SendResult, State
from tests.archive.conftest import DAY, T0, send, sms


async def keys_of_day(redis, day):
    cursor, found = 0, []
    while True:
        cursor, batch = await redis.scan(cursor, f"smsgw:ar:{day}*", 1000)
        found += batch
        if int(cursor) == 0:
            return sorted(found)


@pytest_twisted.ensureDeferred
async def test_final_messages_past_retention_go_with_their_indexes(redis, acceptor, queues, tracker, archive, clock):
    old = await send(acceptor, clock, *[sms(to=f"7900100{i:04d}", source="Shop") for i in range(5)], at=T0 - 40 * DAY)
    live = old[0]
    await queues.renew("o", 30000)
    taken = await queues.take("o", "up", 100)
    await queues.settle("o", [(m.id, SendResult.sent(f"u{n}"), 0) for n, m in enumerate(taken)])
    for n in range(1, 5):
        tracker.report("up", f"u{n}", State.DELIVERED)
    clock.advance(0)
    mo = await tracker.deliver_mo("up", "79009998877", "1234", "old MO", account="acme", at=int((T0 - 39 * DAY) * 1000))
    recent = await send(acceptor, clock, sms(), at=T0)
    clock.advance(1)
    retention = Retention(redis, clock, days=30, step=2)
    assert await retention.sweep() == 5      # 4 delivered MTs and the MO; the ENROUTE one stays
    assert await archive.get(live.id) is not None and await archive.get(mo.id) is None
    assert await redis.exists(f"smsgw:msg:{old[1].id}") == 0
    old_day = day_of(int((T0 - 40 * DAY) * 1000))
    left = await keys_of_day(redis, old_day)
    assert set(left) == {f"smsgw:ar:{old_day}", f"smsgw:ar:{old_day}:a:acme", f"smsgw:ar:{old_day}:numbers"}
    assert await redis.zrange(f"smsgw:ar:{old_day}:numbers", 0, -1) == [
        f"11:79001000000:{live.id}", f"4:Shop:{live.id}"]
    assert await keys_of_day(redis, old_day + 1) == []
    assert await redis.zscore("smsgw:ar:changes", old[1].id) is None
    assert await archive.get(recent[0].id) is not None
    assert await retention.sweep() == 0


@pytest_twisted.ensureDeferred
async def test_entries_of_earlier_versions_index_keys_go_too(redis, acceptor, queues, tracker, clock):
    [m] = await send(acceptor, clock, sms(to="79001234567", source="Shop"), at=T0 - 40 * DAY)
    await queues.renew("o", 30000)
    await queues.take("o", "up", 100)
    await queues.settle("o", [(m.id, SendResult.sent("u1"), 0)])
    tracker.report("up", "u1", State.DELIVERED)
    clock.advance(0)
    day = day_of(int((T0 - 40 * DAY) * 1000))
    legacy = [f"smsgw:ar:{day}:s:{int(State.DELIVERED)}", f"smsgw:ar:{day}:c:sms",  # the first version
              f"smsgw:ar:{day}:n:79001234567", f"smsgw:ar:{day}:n:Shop"]            # a key per number
    for key in legacy:
        await redis.zadd(key, 0, m.id)
    await redis.zadd(f"smsgw:ar:{day}:numbers", 0, "4:7900:gone")   # an earlier version's retention leaves these
    clock.advance(T0 - clock.seconds())
    assert await Retention(redis, clock, days=30).sweep() == 1
    assert await keys_of_day(redis, day) == []


@pytest_twisted.ensureDeferred
async def test_zero_days_keeps_everything(redis, acceptor, archive, clock):
    [m] = await send(acceptor, clock, sms(), at=T0 - 400 * DAY)
    clock.advance(400 * DAY)
    assert await Retention(redis, clock, days=0).sweep() == 0
    assert await archive.get(m.id) is not None
