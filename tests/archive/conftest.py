"""
Fixtures of the archive tests: the store objects over the real ``redis``
fixture with a `task.Clock` (batches flush on ``clock.advance(0)``), and a
helper that fills the archive with messages at chosen times.
"""

from __future__ import annotations

import pytest
from twisted.internet import task

from gateway.archive.query import Archive
from gateway.model import Account, IdGenerator, Submit
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z
DAY = 86_400.0


@pytest.fixture
def clock():
    c = task.Clock()
    c.advance(T0)
    return c


@pytest.fixture
def acceptor(redis, clock):
    router = Router([Route("sms", channel="*", providers=("up",))])
    return Acceptor(redis, router, IdGenerator(7), clock, node="node-a")


@pytest.fixture
def tracker(redis, clock):
    return Tracker(redis, IdGenerator(8), clock, node="node-a", unmatched_retries=0)


@pytest.fixture
def queues(redis, clock):
    return Queues(redis, clock)


@pytest.fixture
def archive(redis, clock):
    return Archive(redis, clock)


def account(name="acme") -> Account:
    return Account(name=name, throughput=0, dedup_window=0)


async def send(acceptor, clock, *submits, name="acme", at=None):
    """Accept ``submits`` for account ``name`` in one turn (at time ``at``, seconds)."""
    if at is not None:
        clock.advance(at - clock.seconds())
    ds = [acceptor.accept(account(name), s) for s in submits]
    clock.advance(0)
    return [await d for d in ds]


def sms(to="79001234567", text="hello", **fields) -> Submit:
    return Submit(destination=to, text=text, **fields)


@pytest.fixture(scope="module")
def redis_blocking(redis_server):
    """Run a `Script` synchronously (for hypothesis tests): ``run(script, args) -> reply``."""
    def run(script, args):
        return _resp(redis_server, ["EVAL", script.source, "0", *args])

    return run


def _encode(parts) -> bytes:
    out = b"*%d\r\n" % len(parts)
    for p in parts:
        p = p if isinstance(p, bytes) else str(p).encode()
        out += b"$%d\r\n%s\r\n" % (len(p), p)
    return out


def _resp(server, parts):
    """One command over a fresh socket; the reply parsed (arrays of bulk strings, ints, errors)."""
    import socket

    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(_encode(parts))
        reader = s.makefile("rb")
        return _read(reader)


def _read(reader):
    line = reader.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"+":
        return rest.decode()
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = reader.read(n + 2)[:-2]
        return data.decode("utf-8", "surrogateescape")
    if kind == b"*":
        return [_read(reader) for _ in range(int(rest))]
    raise RuntimeError(f"unexpected reply {line!r}")
