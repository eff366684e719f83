"""Redis going away and coming back: accept fails fast and temporarily, then works again."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor, task

from gateway.model import IdGenerator
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.scripting import StoreUnavailable
from tests.store.support import account, submit


async def reconnected(redis, bound: float = 20.0):
    """Wait (bounded) until txredisapi has reconnected, polling the pool state."""
    waited = 0.0
    while redis._factory.size == 0:
        assert waited < bound, "no reconnection to Redis"
        await task.deferLater(reactor, 0.05, lambda: None)
        waited += 0.05


@pytest_twisted.ensureDeferred
async def test_accept_is_unavailable_while_redis_is_down_and_works_after(redis, redis_server):
    acceptor = Acceptor(redis, Router([Route("r", providers=("p1",))]), IdGenerator(3), reactor, timeout=3)
    await acceptor.accept(account(), submit(text="before"))
    redis_server.stop()
    try:
        for attempt in range(3):
            with pytest.raises(StoreUnavailable):
                await acceptor.accept(account(), submit(text=f"down {attempt}"))
    finally:
        redis_server.start()
    await reconnected(redis)
    message = await acceptor.accept(account(), submit(text="after"))
    assert await redis.exists("smsgw:msg:" + message.id)


@pytest_twisted.ensureDeferred
async def test_no_answer_in_time_is_unavailable_not_success(redis, redis_server):
    await redis.execute_command("CLIENT", "PAUSE", 1500)  # Redis alive but silent
    acceptor = Acceptor(redis, Router([Route("r", providers=("p1",))]), IdGenerator(4), reactor, timeout=0.3)
    with pytest.raises(StoreUnavailable):
        await acceptor.accept(account(), submit(text="paused"))
