"""Long messages arriving part by part: one id, stored before each ack, queued when whole."""

from __future__ import annotations

from decimal import Decimal

import pytest_twisted

from gateway.model import State
from gateway.smpp.constants import CommandStatus as S
from gateway.store import keys
from gateway.store.accept import AcceptError
from gateway.store.messages import MessageStore
from gateway.store.multipart import PartAssembler
from tests.store.support import account, submit


async def part(assembler, acct, text, number, total=3, ref=42, **fields):
    try:
        return await assembler.accept_part(acct, submit(text=text, source="Shop", **fields), ref, total, number)
    except AcceptError as e:
        return e


@pytest_twisted.ensureDeferred
async def test_parts_share_one_id_and_the_whole_is_queued_once(redis, acceptor, clock):
    assembler = PartAssembler(acceptor)
    acct = account()
    second = await part(assembler, acct, "world, ", 2)
    assert await redis.zcard(keys.ready("p1")) == 0
    first = await part(assembler, acct, "hello ", 1)
    third = await part(assembler, acct, "bye\n~~~\nnote", 3)
    assert first.id == second.id == third.id
    assert await redis.zrange(keys.ready("p1")) == [first.id]
    stored = await MessageStore(redis, clock).get(first.id)
    assert (stored.text, stored.comment, stored.parts) == ("hello world, bye", "note", 3)
    assert await redis.keys("smsgw:mp:*") == []


@pytest_twisted.ensureDeferred
async def test_repeated_part_is_acknowledged_with_the_same_id(redis, acceptor, clock):
    assembler = PartAssembler(acceptor)
    a = await part(assembler, account(), "x", 1, total=2)
    b = await part(assembler, account(), "x", 1, total=2)
    assert a.id == b.id and await redis.zcard(keys.ready("p1")) == 0


@pytest_twisted.ensureDeferred
async def test_different_reference_is_a_different_message(acceptor, clock):
    assembler = PartAssembler(acceptor)
    a = await part(assembler, account(), "x", 1, ref=1)
    b = await part(assembler, account(), "x", 1, ref=2)
    assert a.id != b.id


@pytest_twisted.ensureDeferred
async def test_incomplete_message_is_kept_as_rejected_after_timeout(redis, acceptor, outbox, clock):
    assembler = PartAssembler(acceptor, timeout=60)
    first = await part(assembler, account(), "only the first ", 1, registered_delivery=1)
    assert await assembler.expire() == 0
    clock.advance(61)
    assert await assembler.expire() == 1
    stored = await MessageStore(redis, clock).get(first.id)
    assert (stored.state, stored.error, stored.text) == (State.REJECTED, S.ESME_RSUBMITFAIL, "only the first ")
    [report] = await outbox.take("acme")
    assert report.state == State.REJECTED and report.message_id == first.id


@pytest_twisted.ensureDeferred
async def test_whole_message_refused_for_funds_is_kept_as_rejected(redis, acceptor, clock):
    assembler = PartAssembler(acceptor)
    await redis.set(keys.balance("acme"), 2_500_000)  # 2.5: two parts at 1 fit, three do not
    acct = account(tariff={"7": Decimal(1)})
    first = await part(assembler, acct, "a", 1)
    await part(assembler, acct, "b", 2)
    last = await part(assembler, acct, "c", 3)
    assert isinstance(last, AcceptError) and last.status == S.VENDOR_INSUFFICIENT_FUNDS
    stored = await MessageStore(redis, clock).get(first.id)
    assert stored.state == State.REJECTED and stored.error == S.VENDOR_INSUFFICIENT_FUNDS
    assert await redis.get(keys.balance("acme")) == "2500000"


@pytest_twisted.ensureDeferred
async def test_local_rules_apply_to_each_part(acceptor, clock):
    assembler = PartAssembler(acceptor)
    bad = await part(assembler, account(forbidden_words=("casino",)), "casino", 1)
    assert bad.status == S.VENDOR_FORBIDDEN_WORDS
    nonsense = await part(assembler, account(), "x", 4, total=3)
    assert nonsense.status == S.ESME_RINVOPTPARAMVAL
