"""Brute-force counters shared by the nodes of a deployment: two "nodes" over one real Redis."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import task
from twisted.logger import globalLogPublisher

from gateway.http.auth import FailedLogins, shared_logins
from gateway.smpp.auth import FailedBinds
from gateway.store import keys
from gateway.store.connection import connect
from gateway.store.throttle import SharedFailures
from tests.conftest import free_port


def bind_nodes(redis, clock, limit=4, delay=60.0, n=2):
    """``n`` nodes' `FailedBinds` per address, sharing ``redis``."""
    return [FailedBinds(clock, limit, delay, shared=SharedFailures(redis, clock, "bind_ip")) for _ in range(n)]


def login_nodes(redis, clock, limit=4, window=60.0, block=60.0, n=2):
    """``n`` nodes' `FailedLogins` per address, sharing ``redis``."""
    return [FailedLogins(clock, limit, window, block, shared=shared_logins(redis, clock, "login_ip"))
            for _ in range(n)]


class Warnings:
    """The text of the warn events logged while in use."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, event):
        if event.get("log_level") is not None and event["log_level"].name == "warn":
            self.lines.append(event["log_format"].format(**event))

    def __enter__(self):
        globalLogPublisher.addObserver(self)
        return self.lines

    def __exit__(self, *exc):
        globalLogPublisher.removeObserver(self)


@pytest_twisted.ensureDeferred
async def test_bind_failures_split_over_two_nodes_block_the_address_on_both(redis):
    clock = task.Clock()
    a, b = bind_nodes(redis, clock, limit=4)
    with Warnings() as warned:
        for node in (a, b, a, b):
            await node.failed("10.0.0.1")
    assert b.blocked("10.0.0.1")                   # its failure reached the shared limit
    assert not a.blocked("10.0.0.1")               # only two failures here…
    assert await a.check("10.0.0.1") is True       # …but the block holds on every node
    assert a.blocked("10.0.0.1")                   # and is remembered: no more look-ups
    assert await a.check("10.0.0.2") is False and await b.check("10.0.0.2") is False
    assert [line for line in warned if "on every node" in line] == [
        "4 failed binds in a row for address 10.0.0.1, counted by all nodes (bind_ip): "
        "refusing its binds on every node for 60 s"]
    assert 55_000 < await redis.execute_command("PTTL", keys.failures_block("bind_ip", "10.0.0.1")) <= 60_000


@pytest_twisted.ensureDeferred
async def test_a_node_that_never_saw_the_address_learns_the_block_from_its_next_failure(redis):
    clock = task.Clock()
    a, b, c = bind_nodes(redis, clock, limit=2, n=3)
    await a.failed("10.0.0.1")
    await b.failed("10.0.0.1")
    await c.failed("10.0.0.1")                     # blocked already: not counted, learned
    assert c.blocked("10.0.0.1")
    assert await redis.exists(keys.failures("bind_ip", "10.0.0.1")) == 0


@pytest_twisted.ensureDeferred
async def test_a_good_bind_on_any_node_ends_the_series_in_a_row(redis):
    clock = task.Clock()
    a, b = bind_nodes(redis, clock, limit=3)
    await a.failed("10.0.0.1")
    await a.failed("10.0.0.1")
    await b.succeeded("10.0.0.1")
    await a.failed("10.0.0.1")                     # 1 in a row since the good bind (2 here, 3 < limit)
    assert not a.blocked("10.0.0.1") and await b.check("10.0.0.1") is False
    await b.failed("10.0.0.1")
    await b.failed("10.0.0.1")                     # 3 in a row across the nodes
    assert b.blocked("10.0.0.1") and await a.check("10.0.0.1") is True


@pytest_twisted.ensureDeferred
async def test_login_failures_split_over_two_nodes_block_the_address_on_both(redis):
    clock = task.Clock()
    a, b = login_nodes(redis, clock, limit=4)
    for node in (a, b, b, a):
        await node.failed("192.0.2.7")
    assert a.blocked("192.0.2.7")
    assert await b.check("192.0.2.7") is True      # failed here lately: one look-up, then known
    assert b.blocked("192.0.2.7")
    clock.advance(61)
    assert not a.blocked("192.0.2.7")              # the local memory of the block ends with it


@pytest_twisted.ensureDeferred
async def test_logins_check_the_shared_block_only_for_keys_that_failed_here_lately(redis):
    clock = task.Clock()
    a, b = login_nodes(redis, clock, limit=2, window=60, block=60)
    await a.failed("192.0.2.7")
    await a.failed("192.0.2.7")
    # never failed on b: no Redis round trip for it, so b does not know yet…
    assert await b.check("192.0.2.7") is False
    await b.failed("192.0.2.7")                    # …until its next failure answers with the block
    assert await b.check("192.0.2.7") is True


@pytest_twisted.ensureDeferred
async def test_shared_counts_expire_with_the_window_or_an_hour_after_the_last_bad_bind(redis):
    clock = task.Clock()
    [logins], [binds] = login_nodes(redis, clock, limit=5, window=30, n=1), bind_nodes(redis, clock, n=1)
    await logins.failed("192.0.2.7")
    await binds.failed("10.0.0.1")
    assert 25_000 < await redis.execute_command("PTTL", keys.failures("login_ip", "192.0.2.7")) <= 30_000
    assert 3_500_000 < await redis.execute_command("PTTL", keys.failures("bind_ip", "10.0.0.1")) <= 3_600_000


@pytest_twisted.ensureDeferred
async def test_with_redis_down_the_local_counts_still_block_and_nothing_fails(redis):
    down = connect(f"redis://127.0.0.1:{free_port()}/0", lazy=True)
    clock = task.Clock()
    try:
        [binds] = bind_nodes(down, clock, limit=2, n=1)
        [logins] = login_nodes(down, clock, limit=2, n=1)
        with Warnings() as warned:
            for _ in range(2):
                await binds.failed("10.0.0.1")
                await logins.failed("192.0.2.7")
            assert await binds.check("10.0.0.9") is False          # unknown: let through
            assert await logins.check("192.0.2.8") is False
        assert binds.blocked("10.0.0.1") and await binds.check("10.0.0.1") is True
        assert logins.blocked("192.0.2.7") and await logins.check("192.0.2.7") is True
        assert await binds.succeeded("10.0.0.2") is None
        assert sum("unavailable" in line for line in warned) == 2   # once per scope, not per attempt
        assert any("2 failed binds in a row for address 10.0.0.1" in line for line in warned)
        assert any("2 failed logins of address 192.0.2.7" in line for line in warned)
    finally:
        await down.disconnect()
