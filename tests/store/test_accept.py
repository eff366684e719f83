"""The accept path against a real Redis: rules, storage, queueing, batching."""

from __future__ import annotations

from decimal import Decimal

import pytest
import pytest_twisted
from twisted.internet import defer

from gateway.model import State
from gateway.routing import Route, Router
from gateway.smpp.constants import CommandStatus as S
from gateway.store import keys
from gateway.store.accept import AcceptError, Acceptor
from gateway.store.accounts import AccountStore
from gateway.store.messages import MessageStore
from tests.store.support import accept, account, submit


async def evalsha_calls(redis) -> int:
    stats = await redis.info("commandstats")
    line = stats.get("cmdstat_evalsha", "calls=0")
    return int(line.split("calls=")[1].split(",")[0])


@pytest_twisted.ensureDeferred
async def test_accepted_message_is_stored_and_queued_on_first_provider(redis, acceptor, clock):
    [m] = await accept(acceptor, clock, account(), submit(text="hi\n~~~\ninvoice 42", priority=2))
    assert len(m.id) <= 64 and m.id.isalnum()
    stored = await MessageStore(redis, clock).get(m.id)
    assert (stored.text, stored.comment, stored.state) == ("hi", "invoice 42", State.ACCEPTED)
    assert stored.route == ("p1", "p2") and stored.provider == "p1" and stored.node == "test"
    assert stored.history == [(State.ACCEPTED, int(clock.seconds() * 1000))]
    assert await redis.zrange(keys.ready("p1")) == [m.id]


@pytest_twisted.ensureDeferred
async def test_one_reactor_turn_is_one_round_trip(redis, acceptor, clock):
    await accept(acceptor, clock, account(), submit(text="warm-up"))  # loads the script
    before = await evalsha_calls(redis)
    results = await accept(acceptor, clock, account(), *[submit(text=f"n{i}") for i in range(300)])
    assert all(not isinstance(r, Exception) for r in results)
    assert await evalsha_calls(redis) - before == 1
    assert len({r.id for r in results}) == 300
    assert await redis.zcard(keys.ready("p1")) == 301


@pytest_twisted.ensureDeferred
async def test_script_missing_after_flush_is_reloaded(redis, acceptor, clock):
    await accept(acceptor, clock, account(), submit(text="one"))
    await redis.script_flush()
    [m] = await accept(acceptor, clock, account(), submit(text="two"))
    assert await redis.exists(keys.message(m.id))


@pytest.mark.parametrize("fields, sub, status", [
    ({"enabled": False}, {}, S.ESME_RINVSYSID),
    ({"allowed_senders": frozenset({"Shop"})}, {"source": "Other"}, S.ESME_RINVSRCADR),
    ({"blacklist": frozenset({"79001234567"})}, {"destination": "+79001234567"}, S.VENDOR_BLACKLISTED),
    ({"blacklist": frozenset({"Spam"})}, {"source": "Spam"}, S.VENDOR_BLACKLISTED),
    ({"forbidden_words": ("casino",)}, {"text": "Best CASINO here"}, S.VENDOR_FORBIDDEN_WORDS),
    ({"tariff": {"380": Decimal("1")}}, {"destination": "79001234567"}, S.VENDOR_NO_TARIFF),
])
@pytest_twisted.ensureDeferred
async def test_account_rules_refuse_with_their_status(redis, acceptor, clock, fields, sub, status):
    [result] = await accept(acceptor, clock, account(**fields), submit(**sub))
    assert isinstance(result, AcceptError) and result.status == status and result.reason
    assert await redis.keys("smsgw:msg:*") == []


@pytest_twisted.ensureDeferred
async def test_allowed_sender_is_accepted(acceptor, clock):
    [m] = await accept(acceptor, clock, account(allowed_senders=frozenset({"Shop"})), submit(source="Shop"))
    assert m.source == "Shop"


@pytest_twisted.ensureDeferred
async def test_no_route_is_0x045A(redis, clock):
    acceptor = Acceptor(redis, Router([Route("ru", prefix="7", providers=("p1",))]), acceptor_ids(), clock)
    [result] = await accept(acceptor, clock, account(), submit(destination="380501234567"))
    assert result.status == S.VENDOR_NO_ROUTING_POLICY


def acceptor_ids():
    from gateway.model import IdGenerator
    return IdGenerator(1)


@pytest_twisted.ensureDeferred
async def test_duplicate_within_window_is_0x0453_and_allowed_after(acceptor, clock):
    acct = account(dedup_window=60)
    first, second = await accept(acceptor, clock, acct, submit(), submit())
    assert not isinstance(first, Exception) and second.status == S.VENDOR_DUPLICATE
    [other] = await accept(acceptor, clock, acct, submit(destination="79009999999"))
    assert not isinstance(other, Exception)
    [again] = await accept(acceptor, clock, account(name="other", dedup_window=60), submit())
    assert not isinstance(again, Exception)  # another account may send the same text


@pytest_twisted.ensureDeferred
async def test_dedup_window_zero_is_off(acceptor, clock):
    results = await accept(acceptor, clock, account(dedup_window=0), submit(), submit())
    assert not any(isinstance(r, Exception) for r in results)


@pytest_twisted.ensureDeferred
async def test_throughput_limit_throttles_within_a_second(acceptor, clock):
    acct = account(throughput=5)
    results = await accept(acceptor, clock, acct, *[submit(text=str(i)) for i in range(7)])
    statuses = [getattr(r, "status", 0) for r in results]
    assert statuses == [0] * 5 + [S.ESME_RTHROTTLED] * 2
    clock.advance(1)
    [later] = await accept(acceptor, clock, acct, submit(text="next second"))
    assert not isinstance(later, Exception)


@pytest_twisted.ensureDeferred
async def test_throughput_zero_is_unlimited(acceptor, clock):
    results = await accept(acceptor, clock, account(throughput=0), *[submit(text=str(i)) for i in range(100)])
    assert not any(isinstance(r, Exception) for r in results)


@pytest_twisted.ensureDeferred
async def test_balance_is_charged_by_longest_prefix_and_0x0433_when_short(redis, acceptor, clock):
    store = AccountStore(redis, clock)
    acct = account(tariff={"7": Decimal("2"), "790": Decimal("1.5")})
    await store.set_balance("acme", Decimal("4"))
    results = await accept(acceptor, clock, acct, submit(text="a"), submit(text="b", parts=2), submit(text="c"))
    assert [getattr(r, "status", 0) for r in results] == [0, S.VENDOR_INSUFFICIENT_FUNDS, 0]
    assert await redis.get(keys.balance("acme")) == "1000000"  # millionths
    [cheap] = await accept(acceptor, clock, acct, submit(destination="79100000000", text="d"))
    assert cheap.status == S.VENDOR_INSUFFICIENT_FUNDS  # prefix 7 costs 2


@pytest_twisted.ensureDeferred
async def test_a_duplicate_short_of_funds_is_a_duplicate_and_a_refusal_for_funds_marks_nothing_seen(
        redis, acceptor, clock):
    store = AccountStore(redis, clock)
    acct = account(tariff={"7": Decimal("2")}, dedup_window=60)
    await store.set_balance("acme", Decimal("2"))
    first, duplicate = await accept(acceptor, clock, acct, submit(text="a"), submit(text="a"))
    assert not isinstance(first, Exception) and duplicate.status == S.VENDOR_DUPLICATE
    [short] = await accept(acceptor, clock, acct, submit(text="b"))
    assert short.status == S.VENDOR_INSUFFICIENT_FUNDS
    await store.set_balance("acme", Decimal("2"))
    [paid] = await accept(acceptor, clock, acct, submit(text="b"))   # not taken for a duplicate
    assert not isinstance(paid, Exception)


@pytest_twisted.ensureDeferred
async def test_tariff_without_balance_is_unlimited(acceptor, clock):
    [m] = await accept(acceptor, clock, account(tariff={"7": Decimal("2")}), submit())
    assert not isinstance(m, Exception)


@pytest_twisted.ensureDeferred
async def test_scheduled_message_waits_in_delayed_queue(redis, acceptor, clock):
    due = int(clock.seconds() * 1000) + 60_000
    [m] = await accept(acceptor, clock, account(), submit(schedule=due))
    assert await redis.zscore(keys.delayed("p1"), m.id) == due
    assert await redis.zcard(keys.ready("p1")) == 0


@pytest_twisted.ensureDeferred
async def test_quiet_hours_delay_until_window_ends(redis, acceptor, clock):
    # T0 is 15:06 UTC = 18:06 in Moscow; quiet 18:00-19:30 there ends at 16:30 UTC
    acct = account(quiet_hours="18:00-19:30", timezone="Europe/Moscow")
    [m] = await accept(acceptor, clock, acct, submit())
    end = (int(clock.seconds()) - int(clock.seconds()) % 86400 + 16 * 3600 + 30 * 60) * 1000
    assert await redis.zscore(keys.delayed("p1"), m.id) == end


@pytest_twisted.ensureDeferred
async def test_validity_already_over_is_refused(acceptor, clock):
    [r] = await accept(acceptor, clock, account(), submit(validity=int(clock.seconds() * 1000) - 1))
    assert r.status == S.ESME_RINVEXPIRY


@pytest_twisted.ensureDeferred
async def test_listener_hears_about_queued_providers(acceptor, clock):
    heard = []
    acceptor.add_listener(heard.append)
    await accept(acceptor, clock, account(), submit())
    assert heard == ["p1"]


@pytest_twisted.ensureDeferred
async def test_a_batch_gets_one_result_per_submit_in_order(redis, acceptor, clock):
    acct = account(dedup_window=60, forbidden_words=("casino",))
    d = acceptor.accept_many(acct, [submit(text="a"), submit(text="a"), submit(text="casino"), submit(text="b")])
    clock.advance(0)
    first, duplicate, forbidden, last = await d
    assert first.text == "a" and last.text == "b"
    assert duplicate.status == S.VENDOR_DUPLICATE and forbidden.status == S.VENDOR_FORBIDDEN_WORDS
    assert await redis.exists(keys.message(first.id)) == 1


@pytest_twisted.ensureDeferred
async def test_a_batch_split_over_calls_that_fail_gets_the_failure_for_each_of_its_submits(redis, clock):
    from gateway.store.batching import TurnBatcher
    from gateway.store.scripting import StoreUnavailable

    calls = []

    def send(items):
        calls.append(items)
        if len(calls) == 2:
            return defer.fail(StoreUnavailable("gone"))
        return defer.succeed([f"ok {item}" for item in items])

    batcher = TurnBatcher(send, clock, max_batch=2)
    d = batcher.add_many([1, 2, 3])
    clock.advance(0)
    ok1, ok2, gone = await d
    assert (ok1, ok2) == ("ok 1", "ok 2") and isinstance(gone, StoreUnavailable)
    assert [len(c) for c in calls] == [2, 1]



async def accept_envelopes(redis, acceptor, clock, owners, *submits):
    """Run accept.lua on the envelopes of ``submits``, each with its lease owner from
    ``owners`` appended (None: none), as `Acceptor` does for messages the local dispatcher
    has room for; the statuses and the messages."""
    import msgpack

    from gateway.store.scripting import script

    prepared = [acceptor.prepare(account(), s) for s in submits]
    envelopes = [env + ((owner,) if owner else ()) for (_, env), owner in zip(prepared, owners)]
    reply = await script("accept")(redis, [acceptor.now_ms(), msgpack.packb(envelopes, use_bin_type=False)], clock)
    return reply.split(","), [m for m, _ in prepared]


@pytest_twisted.ensureDeferred
async def test_new_messages_skip_an_empty_queue_into_flight_under_a_live_lease(redis, acceptor, queues, clock):
    await queues.renew("node#1", 30_000)
    statuses, sent = await accept_envelopes(redis, acceptor, clock, ["node#1", "node#1", None, "node#1"],
                                            *[submit(text=f"n{i}") for i in range(4)])
    assert statuses == ["d", "d", "0", "0"]   # the last may not overtake the one queued before it
    assert await redis.hgetall(keys.inflight("p1")) == {sent[0].id: "node#1", sent[1].id: "node#1"}
    assert await redis.zrange(keys.ready("p1")) == [sent[2].id, sent[3].id]
    assert "p1" in await redis.smembers(keys.PROVIDERS)   # where reaping looks for them
    stored = await MessageStore(redis, clock).get(sent[0].id)
    assert stored.state == State.ACCEPTED and stored.provider == "p1"
    assert await redis.zscore(keys.archive_all(sent[0].created // 86_400_000), sent[0].id) is not None
    statuses, [later] = await accept_envelopes(redis, acceptor, clock, ["node#1"], submit(text="later"))
    assert statuses == ["0"] and await redis.zrange(keys.ready("p1")) == [sent[2].id, sent[3].id, later.id]


@pytest_twisted.ensureDeferred
async def test_without_a_live_lease_or_when_scheduled_new_messages_are_queued(redis, acceptor, queues, clock):
    await queues.renew("node#1", 1_000)
    clock.advance(2)   # the lease lapsed
    statuses, [m] = await accept_envelopes(redis, acceptor, clock, ["node#1"], submit())
    assert statuses == ["0"] and await redis.zrange(keys.ready("p1")) == [m.id]
    await redis.delete(keys.ready("p1"))
    await queues.renew("node#1", 30_000)
    statuses, [m] = await accept_envelopes(redis, acceptor, clock, ["node#1"],
                                           submit(schedule=acceptor.now_ms() + 60_000))
    assert statuses == ["0"] and await redis.zrange(keys.delayed("p1")) == [m.id]
    assert await redis.hlen(keys.inflight("p1")) == 0
