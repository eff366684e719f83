"""
Fixtures of the store tests: the store objects over the shared ``redis``
fixture (real Redis), with a `task.Clock` for time (batches flush on
``clock.advance(0)``; see `tests.store.support`).
"""

from __future__ import annotations

import pytest
from twisted.internet import task

from gateway.model import IdGenerator
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.outbox import Outbox
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker
from tests.store.support import T0


@pytest.fixture
def clock():
    c = task.Clock()
    c.advance(T0)
    return c


@pytest.fixture
def router():
    return Router([Route("all", providers=("p1", "p2"))])


@pytest.fixture
def acceptor(redis, router, clock):
    return Acceptor(redis, router, IdGenerator(7), clock, node="test")


@pytest.fixture
def queues(redis, clock):
    return Queues(redis, clock, max_attempts=3)


@pytest.fixture
def tracker(redis, clock):
    return Tracker(redis, IdGenerator(8), clock, node="test", unmatched_retries=0)


@pytest.fixture
def outbox(redis, clock):
    return Outbox(redis, clock, lease=30, retention=3600)
