"""Two gateway processes sharing one Redis queue: every message sent exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest_twisted
from twisted.internet import reactor, threads

from gateway.model import Account, IdGenerator, Submit
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor

ROOT = Path(__file__).resolve().parents[2]


def run_nodes(url: str, count: int) -> list[list[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-m", "tests.dispatch.node", "--redis-url", url,
                               "--owner", f"node{i}#{i}", "--peers", str(count)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(count)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


@pytest_twisted.ensureDeferred
async def test_two_processes_send_every_message_exactly_once(redis, redis_server):
    acceptor = Acceptor(redis, Router([Route("r", providers=("p1",))]), IdGenerator(99), reactor)
    account = Account("acme", throughput=0, dedup_window=0)
    accepted = []
    for start in range(0, 600, 200):
        batch = [acceptor.accept(account, Submit("79001234567", f"m{i}")) for i in range(start, start + 200)]
        for d in batch:
            accepted.append((await d).id)
    first, second = await threads.deferToThread(run_nodes, redis_server.url, 2)
    counts = Counter(first + second)
    assert set(counts) == set(accepted)
    assert max(counts.values()) == 1, [i for i, n in counts.items() if n > 1][:5]
    assert first and second  # both nodes took part
