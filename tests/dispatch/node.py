"""
A minimal gateway node for the two-process test: a dispatcher with a counting
provider ``p1`` against a shared Redis.  Waits until ``--peers`` nodes are
ready, dispatches until the queue of ``p1`` stays empty, then prints the ids
it sent as one JSON list.

    python -m tests.dispatch.node --redis-url redis://127.0.0.1:PORT/0 --owner n1 --peers 2
"""

from __future__ import annotations

import argparse
import json
import sys

from twisted.internet import defer, task

from gateway.dispatch import Dispatcher
from gateway.model import SendResult
from gateway.store import keys
from gateway.store.connection import connect
from gateway.store.queues import Queues
from tests.dispatch.support import CountingProvider

BARRIER = keys.PREFIX + "test:barrier"


class SlowProvider(CountingProvider):
    """Takes ``delay`` seconds per message, like a real upstream's round trip."""

    def __init__(self, reactor, delay):
        super().__init__("p1", window=10)
        self.reactor, self.delay = reactor, delay

    def send(self, message):
        self.sent.append(message.id)
        self.outstanding += 1
        return task.deferLater(self.reactor, self.delay, self._done, message)

    def _done(self, message):
        self.outstanding -= 1
        return SendResult.sent("up-" + message.id)


async def until(reactor, check, bound=30.0, step=0.02):
    for _ in range(int(bound / step)):
        if await check():
            return
        await task.deferLater(reactor, step, lambda: None)
    raise RuntimeError("timed out")


async def run(reactor, args):
    redis = await connect(args.redis_url, poolsize=2, reply_timeout=10)
    queues = Queues(redis, reactor)
    provider = SlowProvider(reactor, args.delay)
    dispatcher = Dispatcher(queues, [provider], args.owner, reactor, poll_interval=0.02,
                            housekeeping_interval=0.5, lease=10)
    await redis.incr(BARRIER)
    await until(reactor, lambda: redis.get(BARRIER).addCallback(lambda v: int(v) >= args.peers))
    dispatcher.startService()
    empty = [0]

    async def drained():
        depth = await queues.depth("p1")
        empty[0] = empty[0] + 1 if sum(depth.values()) == 0 else 0
        return empty[0] >= 10

    await until(reactor, drained)
    await dispatcher.stopService()
    await redis.disconnect()
    sys.stdout.write(json.dumps(provider.sent) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--owner", required=True)
    parser.add_argument("--peers", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.005)
    args = parser.parse_args()
    task.react(lambda reactor: defer.ensureDeferred(run(reactor, args)))


if __name__ == "__main__":
    main()
