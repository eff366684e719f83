"""The archive indexes are written by the message scripts themselves: accept, MO, receipts."""

from __future__ import annotations

import pytest_twisted
from hypothesis import given, settings, strategies as st

from gateway.archive.query import Archive, ArchiveQuery
from gateway.archive.records import day_of
from gateway.model import Direction, Message, SendResult, State
from gateway.store import keys
from gateway.store.scripting import Script
from tests.archive.conftest import T0, send, sms

_FIELDS = Script("probe", """
local f = blob_fields(ARGV[1])
return {f.account or '', f.destination or '', f.source or '', f.channel or '', f.direction or ''}
""")

_messages = st.builds(
    Message, id=st.just("x1"), account=st.text(max_size=20), destination=st.text(max_size=30),
    source=st.text(max_size=300), channel=st.sampled_from(["sms", "mail", "hlr"]),
    direction=st.sampled_from(list(Direction)), raw=st.none() | st.binary(max_size=70000),
    schedule=st.integers(0, 2 ** 63 - 1), user_ref=st.none() | st.integers(-2 ** 63, 2 ** 64 - 1),
    route=st.lists(st.text(max_size=10), max_size=3).map(tuple), comment=st.text(max_size=300),
    node=st.text(max_size=10), extra=st.dictionaries(st.text(max_size=5), st.integers(-2 ** 63, 2 ** 64 - 1) | st.text()),
)


@given(message=_messages)
@settings(max_examples=60, deadline=None)
def test_lua_reads_the_archive_fields_of_any_packed_message(message, redis_blocking):
    got = redis_blocking(_FIELDS, [message.static_blob()])
    assert got == [message.account, message.destination, message.source, message.channel,
                   message.direction.value]


async def members(redis, key):
    return sorted(await redis.zrange(key, 0, -1))


@pytest_twisted.ensureDeferred
async def test_accepted_message_is_in_every_index_of_its_day(redis, acceptor, clock):
    [m] = await send(acceptor, clock, sms(to="+79001234567", source="79990001122", text="hi\n~~~\nnote"))
    day = day_of(int(T0 * 1000))
    assert await members(redis, keys.archive_by(day, "a", "acme")) == [m.id]
    assert await members(redis, keys.archive_numbers(day)) == [   # without '+', one key a day
        f"11:79001234567:{m.id}", f"11:79990001122:{m.id}"]
    for field, value in [("s", int(State.ACCEPTED)), ("c", "sms"),   # checked while searching
                         ("n", "79001234567")]:                       # earlier versions' key per number
        assert await members(redis, keys.archive_by(day, field, value)) == [], (field, value)
    assert await members(redis, keys.archive_all(day)) == [m.id]
    assert await members(redis, keys.archive_by(day, "d", "MO")) == []   # MT is "not MO"
    assert await members(redis, keys.archive_by(day, "o", "node-a")) == []   # local: no '@' in the id
    assert await redis.zrange(keys.ARCHIVE_DAYS, 0, -1) == [str(day)]
    assert await redis.zscore(keys.ARCHIVE_CHANGES, m.id) is not None


@pytest_twisted.ensureDeferred
async def test_state_changes_move_the_message_on_the_change_feed_and_are_found_by_state(
        redis, acceptor, queues, tracker, clock):
    [m] = await send(acceptor, clock, sms())
    archive = Archive(redis, clock)
    await queues.renew("owner", 30000)
    taken = await queues.take("owner", "up", 10)
    assert [t.id for t in taken] == [m.id]
    accepted = await redis.zscore(keys.ARCHIVE_CHANGES, m.id)
    await queues.settle("owner", [(m.id, SendResult.sent("u1"), 0)])
    assert await found(archive, states=(State.ENROUTE,)) == [m.id]
    first = await redis.zscore(keys.ARCHIVE_CHANGES, m.id)
    assert first > accepted
    d = tracker.report("up", "u1", State.DELIVERED)
    clock.advance(0)
    assert await d == m.id
    assert await found(archive, states=(State.ENROUTE,)) == []
    assert await found(archive, states=(State.DELIVERED,)) == [m.id]
    assert await redis.zscore(keys.ARCHIVE_CHANGES, m.id) > first


async def found(archive, **query):
    page = await archive.search(ArchiveQuery(**query))
    return [key for key, _ in page.items]


@pytest_twisted.ensureDeferred
async def test_incoming_messages_are_archived_even_without_an_account(redis, tracker, clock):
    mine = await tracker.deliver_mo("up", "79001234567", "1234", "STOP", account="acme")
    orphan = await tracker.deliver_mo("up", "79001230000", "5555", "who?", account="")
    day = day_of(int(T0 * 1000))
    assert await members(redis, keys.archive_by(day, "d", "MO")) == sorted([mine.id, orphan.id])
    assert await members(redis, keys.archive_by(day, "a", "acme")) == [mine.id]
    assert keys.archive_number_entry("1234", mine.id) in await members(redis, keys.archive_numbers(day))
    assert await found(Archive(redis, clock), states=(State.DELIVERED,)) == [orphan.id, mine.id]


@pytest_twisted.ensureDeferred
async def test_multipart_message_is_archived_once_complete(redis, acceptor, clock):
    from gateway.model import Account
    acct = Account("acme", throughput=0, dedup_window=0)
    d1 = acceptor.accept_part(acct, sms(text="part one, "), 7, 2, 1)
    first = await d1
    day = day_of(int(T0 * 1000))
    assert await members(redis, keys.archive_all(day)) == []
    second = await acceptor.accept_part(acct, sms(text="two\n~~~\nref 9"), 7, 2, 2)
    assert first.id == second.id
    assert await members(redis, keys.archive_all(day)) == [first.id]


@pytest_twisted.ensureDeferred
async def test_archive_key_names_match_between_python_and_lua(redis):
    lua = keys.LUA + ("return {K.archive_all(19000), K.archive_by(19000, 'n', '7900'), K.archive_numbers(19000), "
                      "K.archive_number_entry('7900', 'm1'), K.archive_number_entry('Магазин', 'm1@x'), "
                      "K.sync_state('x'), K.sync_lock('x'), K.ARCHIVE_DAYS, K.ARCHIVE_CHANGES, K.ARCHIVE_SEQ}")
    got = await redis.eval(lua, [], [])
    assert got == [keys.archive_all(19000), keys.archive_by(19000, "n", "7900"), keys.archive_numbers(19000),
                   keys.archive_number_entry("7900", "m1"), keys.archive_number_entry("Магазин", "m1@x"),
                   keys.sync_state("x"), keys.sync_lock("x"), keys.ARCHIVE_DAYS, keys.ARCHIVE_CHANGES,
                   keys.ARCHIVE_SEQ]


@pytest_twisted.ensureDeferred
async def test_an_hlr_result_is_kept_with_the_message_in_the_archive(acceptor, queues, tracker, archive, clock):
    from gateway.archive.records import record_json
    [m] = await send(acceptor, clock, sms(to="79001234567", text="", channel="hlr"))
    await queues.renew("owner", 30000)
    await queues.take("owner", "up", 10)
    await queues.settle("owner", [(m.id, SendResult.sent("h1"), 0)])
    d = tracker.report("up", "h1", State.DELIVERED, extra={"imsi": "250011234567890", "mcc": "250", "mnc": "01"})
    clock.advance(0)
    assert await d == m.id
    record = record_json(m.id, await archive.get(m.id))
    assert (record["channel"], record["state"], record["receipt"]["imsi"]) == ("hlr", "DELIVERED", "250011234567890")
