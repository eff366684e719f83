"""Pure parts: ids, states, message packing, comments, quiet hours, backoff, key names."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest_twisted
from hypothesis import given, strategies as st

from gateway.model import Account, IdGenerator, Message, State, split_comment
from gateway.store import keys
from gateway.store.schedule import backoff_ms, quiet_end


def test_ids_are_short_unique_alnum_and_sorted_by_time():
    a, b = IdGenerator(1), IdGenerator(2)
    ids = [a.next(1_750_000_000_000), b.next(1_750_000_000_000), a.next(1_750_000_000_001)]
    assert len(set(ids)) == 3 and all(len(i) == 17 and i.isalnum() for i in ids)
    assert ids[2] > ids[0] and ids[2] > ids[1]
    assert not ids[0].isdigit()


def test_states_have_smpp_values_and_dlr_names():
    assert [(s.value, s.stat) for s in State if 1 <= s <= 8] == [
        (1, "ENROUTE"), (2, "DELIVRD"), (3, "EXPIRED"), (4, "DELETED"), (5, "UNDELIV"),
        (6, "ACCEPTD"), (7, "UNKNOWN"), (8, "REJECTD")]
    assert State.from_stat("delivrd") is State.DELIVERED and State.from_stat("weird") is State.UNKNOWN
    assert State.DELIVERED.is_final and not State.ENROUTE.is_final


@given(text=st.text(), raw=st.none() | st.binary(), extra=st.dictionaries(st.text(), st.integers(-2 ** 63, 2 ** 64 - 1) | st.text()))
def test_static_blob_round_trips(text, raw, extra):
    m = Message(id="x1", account="a", destination="7900", raw=raw, extra=extra, route=("p", "q"),
                user_ref=5, created=1)
    back = Message.from_static_blob(m.static_blob(), text)
    assert (back.raw, back.extra, back.route, back.text, back.user_ref) == (raw, extra, ("p", "q"), text, 5)


def test_comment_is_split_off():
    assert split_comment("hi\n~~~\nnote\n~~~\nmore") == ("hi", "note\n~~~\nmore")
    assert split_comment("no comment ~~~") == ("no comment ~~~", "")


def test_tariff_longest_prefix_wins():
    a = Account("a", tariff={"7": 2, "79": 1, "7901": 3})
    assert (a.price_for("+79012345678"), a.price_for("79512345678"), a.price_for("380")) == (3, 1, None)


def ms(text):
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def test_quiet_hours_across_midnight_in_the_account_timezone():
    spec = "22:00-08:00/Europe/Moscow"  # UTC+3: quiet 19:00-05:00 UTC
    assert quiet_end(ms("2025-06-15T18:59:00"), spec) == ms("2025-06-15T18:59:00")
    assert quiet_end(ms("2025-06-15T19:00:00"), spec) == ms("2025-06-16T05:00:00")
    assert quiet_end(ms("2025-06-16T02:00:00"), spec) == ms("2025-06-16T05:00:00")
    assert quiet_end(ms("2025-06-16T05:00:00"), spec) == ms("2025-06-16T05:00:00")
    assert quiet_end(ms("2025-06-16T02:00:00"), "") == ms("2025-06-16T02:00:00")


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(1)
    delays = [backoff_ms(n, base=1, cap=60, jitter=0.2, rng=rng) for n in range(1, 10)]
    assert 800 <= delays[0] <= 1200 and 3200 <= delays[2] <= 4800
    assert all(d <= 72_000 for d in delays) and delays[-1] >= 48_000


@pytest_twisted.ensureDeferred
async def test_lua_key_names_match_python(redis):
    names = ["message", "upstream", "throughput", "dedup", "balance", "multipart", "ready", "delayed",
             "inflight", "queue_wake", "outbox_ready", "outbox_taken", "outbox_items",
             "outbox_undelivered", "outbox_wake", "mo_number", "account", "api_key", "failures",
             "failures_block"]
    calls = []
    for name in names:
        arity = getattr(keys, name).__code__.co_argcount
        calls.append((name, ["x", "y"][:arity]))
    lua = keys.LUA + "return {" + ", ".join(
        f"K.{n}({', '.join(repr(a) for a in args)})" for n, args in calls) + "}"
    from_lua = await redis.eval(lua)
    assert from_lua == [getattr(keys, n)(*args) for n, args in calls]
    constants = ["NODE_SEQ", "PROVIDERS", "LEASES", "DEAD", "OUTBOX_ACCOUNTS", "OUTBOX_SEQ",
                 "MULTIPART_PENDING", "UNMATCHED_RECEIPTS", "MO_ORPHANS", "ACCOUNTS"]
    lua = keys.LUA + "return {" + ", ".join(f"K.{c}" for c in constants) + "}"
    assert await redis.eval(lua) == [getattr(keys, c) for c in constants]
    assert all(k.startswith("smsgw:") for k in from_lua)


def test_store_objects_provide_their_interfaces(redis, clock):
    from zope.interface.verify import verifyObject

    from gateway.interfaces import IAcceptor, IAccountStore, IOutbox, IProvider, IReportSink
    from gateway.providers.null import NullProvider
    from gateway.routing import Router
    from gateway.store.accept import Acceptor
    from gateway.store.accounts import AccountStore
    from gateway.store.outbox import Outbox
    from gateway.store.tracker import Tracker

    assert verifyObject(IProvider, NullProvider("n"))
    assert verifyObject(IReportSink, Tracker(redis, IdGenerator(1), clock))
    assert verifyObject(IAcceptor, Acceptor(redis, Router(), IdGenerator(1), clock))
    assert verifyObject(IAccountStore, AccountStore(redis, clock))
    assert verifyObject(IOutbox, Outbox(redis, clock))
