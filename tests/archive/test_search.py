"""Searching the archive: filters, paging, and work bounded by the period, not the archive."""

from __future__ import annotations

import pytest_twisted

from gateway.archive.query import ArchiveQuery
from gateway.archive.records import day_of
from gateway.model import State
from gateway.store import keys
from tests.archive.conftest import DAY, T0, send, sms


def ms(seconds: float) -> int:
    return int(seconds * 1000)


async def search(archive, **kw):
    page = await archive.search(ArchiveQuery(**kw))
    return [key for key, _ in page.items], page


@pytest_twisted.ensureDeferred
async def test_filters_combine_and_results_come_newest_first(archive, acceptor, tracker, clock):
    a = (await send(acceptor, clock, sms(to="79001110000", text="order 1"), at=T0))[0]
    b = (await send(acceptor, clock, sms(to="79002220000", text="order 2\n~~~\nInvoice 77"), name="shop",
                    at=T0 + 60))[0]
    c = (await send(acceptor, clock, sms(to="79001110000", text="Код 1234", channel="hlr"), at=T0 + 120))[0]
    mo = await tracker.deliver_mo("up", "+79001110000", "1234", "reply", account="acme", at=ms(T0 + 180))
    assert (await search(archive))[0] == [mo.id, c.id, b.id, a.id]
    assert (await search(archive, numbers=("79001110000",)))[0] == [mo.id, c.id, a.id]
    assert (await search(archive, numbers=("+79001110000",), direction="MT"))[0] == [c.id, a.id]
    assert (await search(archive, direction="MO"))[0] == [mo.id]
    assert (await search(archive, accounts=("shop",)))[0] == [b.id]
    assert (await search(archive, accounts=("shop", "acme"), direction="MT"))[0] == [c.id, b.id, a.id]
    assert (await search(archive, states=("DELIVERED",)))[0] == [mo.id]
    assert (await search(archive, channels=("hlr",)))[0] == [c.id]
    assert (await search(archive, origins=("",)))[0] == [mo.id, c.id, b.id, a.id]   # '': this gateway's own
    assert (await search(archive, origins=("elsewhere",)))[0] == []
    assert (await search(archive, since=ms(T0 + 60), until=ms(T0 + 120)))[0] == [c.id, b.id]
    assert (await search(archive, newest_first=False, until=ms(T0 + 60)))[0] == [a.id, b.id]
    assert (await search(archive, text="invoice"))[0] == [b.id]   # the ~~~ comment
    assert (await search(archive, text="код"))[0] == [c.id]       # case-insensitive, not only ASCII


@pytest_twisted.ensureDeferred
async def test_pages_continue_from_the_cursor_across_days(archive, acceptor, clock):
    sent = []
    for day in range(3):
        sent += await send(acceptor, clock, *[sms(text=f"d{day} n{i}") for i in range(4)], at=T0 + day * DAY)
    expected = [m.id for m in reversed(sent)]
    seen, cursor = [], None
    while True:
        keys, page = await search(archive, limit=5, cursor=cursor)
        seen += keys
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == expected
    forward, cursor = [], None
    while True:
        keys, page = await search(archive, limit=3, cursor=cursor, newest_first=False)
        forward += keys
        if page.cursor is None:
            break
        cursor = page.cursor
    assert forward == list(reversed(expected))


async def fill(acceptor, clock, days, per_day, first_day=0):
    """``per_day`` messages to rotating numbers on each of ``days`` days, spread over the day."""
    for day in range(first_day, first_day + days):
        for hour in range(0, 24, 24 * 4 // per_day or 1):
            batch = [sms(to=f"7900{day % 10}{n:06d}", text="bulk") for n in range(4)]
            await send(acceptor, clock, *batch, at=T0 - 40 * DAY + day * DAY + hour * 3600)


@pytest_twisted.ensureDeferred
async def test_a_narrow_period_examines_the_same_entries_however_large_the_archive(archive, acceptor, clock):
    await fill(acceptor, clock, days=10, per_day=48)
    start = T0 - 40 * DAY + 5 * DAY + 6 * 3600
    query = dict(since=ms(start), until=ms(start + 3 * 3600 - 1), numbers=("79005000001",))
    keys, small = await search(archive, **query)
    plain, small_plain = await search(archive, since=query["since"], until=query["until"])
    await fill(acceptor, clock, days=30, per_day=48, first_day=10)   # four times the archive
    again, large = await search(archive, **query)
    plain_again, large_plain = await search(archive, since=query["since"], until=query["until"])
    assert keys == again and len(keys) == 2 and plain == plain_again and len(plain) == 8
    assert small.examined == large.examined <= 2 * len(keys)
    assert small_plain.examined == large_plain.examined <= 2 * len(plain)


@pytest_twisted.ensureDeferred
async def test_the_narrowest_filter_drives_the_scan(archive, acceptor, clock):
    await send(acceptor, clock, *[sms(to="79001111111", text=f"n{i}") for i in range(200)], at=T0)
    [rare] = await send(acceptor, clock, sms(to="79002222222"), name="rare", at=T0 + 1)
    keys, page = await search(archive, accounts=("rare",), direction="MT", states=("ACCEPTED",))
    assert keys == [rare.id] and page.examined <= 2


@pytest_twisted.ensureDeferred
async def test_a_search_that_spends_its_budget_says_so_and_can_go_on(archive, acceptor, clock):
    await send(acceptor, clock, *[sms(text="common") for i in range(50)], at=T0)
    [needle] = await send(acceptor, clock, sms(text="needle"), at=T0 - 10)
    keys, page = await search(archive, text="needle", budget=20)
    assert keys == [] and page.partial and page.cursor
    found = []
    while page.cursor and not found:
        found, page = await search(archive, text="needle", budget=20, cursor=page.cursor)
    assert found == [needle.id]


@pytest_twisted.ensureDeferred
async def test_one_record_by_key(archive, acceptor, clock):
    [m] = await send(acceptor, clock, sms(text="hi\n~~~\nnote"))
    got = await archive.get(m.id)
    assert (got.id, got.text, got.comment, got.state) == (m.id, "hi", "note", State.ACCEPTED)
    assert await archive.get("0nosuchid0000000") is None


@pytest_twisted.ensureDeferred
async def test_numbers_are_told_apart_whatever_they_look_like(archive, acceptor, clock):
    sent = await send(acceptor, clock, *[sms(to=to, source=source) for to, source in [
        ("7900", "A"), ("79001", "A:B"), ("790", "A:"), ("+7900", "Shop"), ("7900:1", "B")]])
    ids = [m.id for m in sent]
    for number, expected in [("7900", [0, 3]), ("+7900", [0, 3]), ("79001", [1]), ("790", [2]), ("79", []),
                             ("A", [0]), ("A:B", [1]), ("A:", [2]), ("7900:1", [4]), ("B", [4])]:
        found, _ = await search(archive, numbers=(number,), newest_first=False)
        assert found == [ids[i] for i in expected], number
    found, _ = await search(archive, numbers=("A", "A:B"), accounts=("acme",), newest_first=False)
    assert found == [ids[0], ids[1]]


async def file_as_before(redis, messages, day):
    """Move ``messages`` from the day's number index to a key per number, as earlier versions filed them."""
    for m in messages:
        for number in {m.destination.lstrip("+"), m.source}:
            await redis.zrem(keys.archive_numbers(day), keys.archive_number_entry(number, m.id))
            await redis.zadd(keys.archive_by(day, "n", number), 0, m.id)


@pytest_twisted.ensureDeferred
async def test_a_day_filed_by_an_earlier_version_is_searched_whole(archive, acceptor, redis, clock):
    day = day_of(ms(T0))
    before = []
    for i in range(6):
        before += await send(acceptor, clock, sms(to="79001110000", source="Shop", text=f"old {i}"),
                             sms(to=f"7900222000{i}", source="Shop", text="other"), at=T0 + i)
    await file_as_before(redis, before, day)
    after = []
    for i in range(6):
        after += await send(acceptor, clock, sms(to="79001110000", source="Shop", text=f"new {i}"),
                            sms(to=f"7900333000{i}", source="Shop", text="other"), at=T0 + 10 + i)
    mine = [m.id for m in before + after if m.destination == "79001110000"]
    for newest_first in (True, False):
        expected = list(reversed(mine)) if newest_first else mine
        found, page = await search(archive, numbers=("79001110000",), newest_first=newest_first)
        assert found == expected and page.examined <= 2 * len(mine)   # the number drives the walk
        found, _ = await search(archive, numbers=("79001110000",), text=" ", newest_first=newest_first)
        assert found == expected
        for limit, budget in [(5, 1000), (100, 3)]:   # pages end at the limit, or when the budget is spent
            paged, cursor = [], None
            while True:
                keys_, page = await search(archive, numbers=("79001110000",), newest_first=newest_first,
                                           limit=limit, budget=budget, cursor=cursor)
                paged += keys_
                if page.cursor is None:
                    break
                cursor = page.cursor
            assert paged == expected
        found, _ = await search(archive, numbers=("79001110000", "79002220003"), accounts=("acme",),
                                newest_first=newest_first)   # checked by membership, not walked
        both = sorted(mine + [before[7].id])
        assert found == (list(reversed(both)) if newest_first else both)
        found, _ = await search(archive, numbers=("79001110000",), since=ms(T0 + 3), until=ms(T0 + 12),
                                newest_first=newest_first)
        window = [m.id for m in before[6:] + after[:6] if m.destination == "79001110000"]
        assert found == (list(reversed(window)) if newest_first else window)
