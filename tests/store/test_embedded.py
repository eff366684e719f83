"""The embedded redis-server: start, persistence, supervision, clean stop, stale servers."""

import os
import signal

import pytest_twisted
from twisted.internet import defer, reactor, task

from gateway.store.connection import connect
from gateway.store.embedded import EmbeddedRedis, find_running_server


async def wait_for(predicate, timeout=20.0, step=0.05):
    """Wait (on the reactor, without blocking it) until predicate() is true."""
    for _ in range(int(timeout / step)):
        if predicate():
            return
        await task.deferLater(reactor, step, lambda: None)
    raise AssertionError("condition not reached within %s s" % timeout)


@pytest_twisted.ensureDeferred
async def test_embedded_server_keeps_data_across_restart_of_the_service(datadir):
    redis = EmbeddedRedis(datadir, restart_delay=0.1)
    await redis.startService()
    conn = await connect(redis.url)
    await conn.set("smsgw:test", "kept")
    await conn.disconnect()
    await redis.stopService()
    assert find_running_server(datadir) is None
    assert not redis.socket.exists()

    again = EmbeddedRedis(datadir)
    await again.startService()
    conn = await connect(again.url)
    assert await conn.get("smsgw:test") == "kept"
    await conn.disconnect()
    await again.stopService()


@pytest_twisted.ensureDeferred
async def test_embedded_server_is_restarted_when_it_dies(datadir):
    redis = EmbeddedRedis(datadir, restart_delay=0.05)
    await redis.startService()
    conn = await connect(redis.url)
    await conn.set("before", "crash")
    first = redis.process.transport.pid
    os.kill(first, signal.SIGKILL)
    await wait_for(lambda: redis.restarts == 1 and redis.process.ready.called)
    assert redis.process.transport.pid != first
    # the pool reconnects by itself; the AOF (everysec) may lose the last second, so write again
    await wait_for(lambda: conn._factory.size > 0)
    await conn.set("after", "restart")
    assert await conn.get("after") == "restart"
    await conn.disconnect()
    await redis.stopService()
    assert find_running_server(datadir) is None


@pytest_twisted.ensureDeferred
async def test_server_left_by_a_killed_gateway_is_stopped_before_a_new_one_starts(datadir):
    first = EmbeddedRedis(datadir)
    await first.startService()
    stale_pid = first.process.transport.pid
    # the gateway "dies": its supervisor forgets the child, the child keeps running
    first.running = False
    first.process = None
    assert find_running_server(datadir) == stale_pid

    second = EmbeddedRedis(datadir)
    await second.startService()
    assert second.process.transport.pid != stale_pid
    assert find_running_server(datadir) == second.process.transport.pid
    await second.stopService()
    assert find_running_server(datadir) is None


def test_shared_fixture_server_answers(redis_server):
    assert redis_server.running
