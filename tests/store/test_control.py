"""cancel_sm in the store: by id (with the addresses checked) and by source and destination
(SMPP 3.4 section 4.9), against a real Redis."""

from __future__ import annotations

import pytest
import pytest_twisted

from gateway.model import SendResult, State
from gateway.smpp.constants import CommandStatus as S
from gateway.store import keys
from gateway.store.control import ControlError, MessageControl
from gateway.store.messages import MessageStore
from tests.store.support import accept, account, submit

LEASE = 30_000
DAY = 86400
SHOP, PHONE = "Shop", "79001234567"


@pytest.fixture
def control(redis, clock):
    return MessageControl(redis, clock)


def later(clock, seconds=3 * DAY) -> int:
    """A schedule ``seconds`` ahead: the message waits in the delayed queue."""
    return int((clock.seconds() + seconds) * 1000)


async def pending(acceptor, clock, acct="acme", destination=PHONE, source=SHOP, **fields):
    fields.setdefault("schedule", later(clock))
    m, = await accept(acceptor, clock, account(acct), submit(destination, source=source, **fields))
    assert not isinstance(m, Exception), m
    return m


async def states(redis, clock, *messages):
    store = MessageStore(redis, clock)
    return [(await store.get(m.id)).state for m in messages]


@pytest_twisted.ensureDeferred
async def test_cancels_exactly_the_waiting_messages_from_source_to_destination(
        redis, acceptor, queues, control, outbox, clock):
    old = await pending(acceptor, clock, schedule=later(clock, 10 * DAY))  # two days ago, still waiting
    clock.advance(2 * DAY)
    delayed = await pending(acceptor, clock, registered_delivery=1)
    plus = await pending(acceptor, clock, destination="+" + PHONE)  # the same number
    ready = await pending(acceptor, clock, schedule=0)
    others = [
        await pending(acceptor, clock, acct="other"),
        await pending(acceptor, clock, destination="79009999999"),
        await pending(acceptor, clock, source="Other"),
        await pending(acceptor, clock, source=""),
    ]
    # in flight, then sent (ENROUTE), and one already final
    taken, sent = await pending(acceptor, clock, schedule=0), await pending(acceptor, clock, schedule=0)
    await queues.renew("A", LEASE)
    assert {m.id for m in await queues.take("A", "p1", 10)} == {ready.id, taken.id, sent.id}
    await queues.settle("A", [(sent.id, SendResult.sent("u1"), 0)])
    await queues.settle("A", [(ready.id, SendResult.temporary(0x14), later(clock, 60))])  # back, delayed
    final = await pending(acceptor, clock)
    await control.cancel("acme", final.id)

    cancelled = await control.cancel_matching("acme", SHOP, PHONE)
    assert (cancelled.count, cancelled.complete) == (4, True)
    assert await states(redis, clock, old, delayed, plus, ready) == [State.DELETED] * 4
    assert await states(redis, clock, *others) == [State.ACCEPTED] * 4
    assert await states(redis, clock, taken, sent, final) == [State.ACCEPTED, State.ENROUTE, State.DELETED]
    for m in (old, delayed, plus, ready):
        assert await redis.zscore(keys.delayed("p1"), m.id) is None
        assert await redis.zscore(keys.ready("p1"), m.id) is None
    assert await redis.zscore(keys.delayed("p1"), others[0].id) is not None
    [dlr] = await outbox.take("acme")  # only the one that asked for it
    assert (dlr.message_id, dlr.state) == (delayed.id, State.DELETED)
    assert (await control.cancel_matching("acme", SHOP, PHONE)).count == 0  # nothing left


@pytest_twisted.ensureDeferred
async def test_empty_source_matches_messages_without_one(redis, acceptor, control, clock):
    with_source, without = await pending(acceptor, clock), await pending(acceptor, clock, source="")
    assert (await control.cancel_matching("acme", "", PHONE)).count == 1
    assert await states(redis, clock, with_source, without) == [State.ACCEPTED, State.DELETED]


@pytest_twisted.ensureDeferred
async def test_service_type_when_given_narrows_the_match(redis, acceptor, control, clock):
    a = await pending(acceptor, clock, extra={"udh": b"\x05\x04\x0b\x84\x23\xf0", "pid": 1, "svc": "A"})
    b = await pending(acceptor, clock, extra={"svc": "B"})
    none = await pending(acceptor, clock)
    assert (await control.cancel_matching("acme", SHOP, PHONE, "A")).count == 1
    assert await states(redis, clock, a, b, none) == [State.DELETED, State.ACCEPTED, State.ACCEPTED]
    assert (await control.cancel_matching("acme", SHOP, PHONE, "C")).count == 0
    assert (await control.cancel_matching("acme", SHOP, PHONE)).count == 2


@pytest_twisted.ensureDeferred
async def test_stops_at_the_limit_and_the_budget(redis, acceptor, control, clock):
    messages = [await pending(acceptor, clock) for _ in range(5)]
    first = await control.cancel_matching("acme", SHOP, PHONE, limit=2)
    assert (first.count, first.complete) == (2, False)
    short = await control.cancel_matching("acme", SHOP, PHONE, budget=3)  # 2 of those 3 are DELETED
    assert (short.count, short.examined, short.complete) == (1, 3, False)
    rest = await control.cancel_matching("acme", SHOP, PHONE)
    assert (rest.count, rest.complete) == (2, True)
    assert await states(redis, clock, *messages) == [State.DELETED] * 5


@pytest_twisted.ensureDeferred
async def test_finds_messages_in_the_per_number_keys_of_earlier_versions(redis, acceptor, control, clock):
    m = await pending(acceptor, clock)
    day = int(clock.seconds()) // DAY
    for number in (PHONE, SHOP):  # filed as an earlier version did, one key per number
        await redis.zrem(keys.archive_numbers(day), keys.archive_number_entry(number, m.id))
        await redis.zadd(keys.archive_by(day, "n", number), 0, m.id)
    assert (await control.cancel_matching("acme", SHOP, PHONE)).count == 1
    assert await states(redis, clock, m) == [State.DELETED]


@pytest_twisted.ensureDeferred
async def test_cancel_by_id_checks_source_and_the_destination_given(redis, acceptor, control, clock):
    m = await pending(acceptor, clock, destination="+" + PHONE)
    for source, destination in (("Other", ""), ("", ""), (SHOP, "79009999999")):
        with pytest.raises(ControlError) as caught:
            await control.cancel("acme", m.id, source=source, destination=destination)
        assert caught.value.status == S.ESME_RCANCELFAIL
    assert await states(redis, clock, m) == [State.ACCEPTED]
    with pytest.raises(ControlError) as caught:
        await control.cancel("other", m.id, source=SHOP)
    assert caught.value.status == S.ESME_RINVMSGID
    await control.cancel("acme", m.id, source=SHOP, destination=PHONE)
    assert await states(redis, clock, m) == [State.DELETED]
