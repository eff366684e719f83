"""End-to-end benchmark: messages out to an SMSC and receipts back, through three paths.

Every path ends at the bundled SMSC simulator (its own process; receipts after
``--dlr-delay`` seconds, 0.2 by default as in ``[simulator]``):

- ``connector``: the SMPP client connector alone (`SMPPProvider.send`, as the
  dispatcher calls it, filling its window), receipts to an in-memory sink;
- ``proxy``: an ESME client → a null SMPP proxy (decodes and re-encodes every
  PDU between the client and the simulator, stores nothing) → the simulator:
  the ceiling for any SMPP gateway on this machine;
- ``gateway``: the ESME client → the gateway's SMPP server (accepted into Redis)
  → dispatcher → SMPP connector → simulator → receipt → tracker → outbox →
  deliver_sm back to the client.  `start_gateway` builds those pieces; without
  ``gateway.smpp.server`` the path is reported as skipped.

Each path runs in fresh processes (simulator, middle, load) so that two cores
are shared the way a deployment shares them.  Printed per path: messages/s
acknowledged, submit latency p50/p99, receipts/s, submit→receipt latency
p50/p99; the last line is one JSON object.

Run from the repository root: ``python bench/e2e.py [--messages 20000] [--paths connector,proxy,gateway]``.
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

PASSWORD = "bench42"
PATHS = ("connector", "proxy", "gateway")


# --------------------------------------------------------------------------- measuring

class Timings:
    """Submit and receipt times by message id; turns them into rates and percentiles."""

    def __init__(self):
        self.started = time.perf_counter()
        self.submitted: dict[str, float] = {}
        self.submit_latency: list[float] = []
        self.receipt_latency: list[float] = []
        self.early: dict[str, float] = {}  # receipts seen before their submit was answered
        self.ok = self.refused = self.receipts = 0
        self.last_ok = self.last_receipt = self.started

    def answered(self, ids, began: float) -> None:
        now = time.perf_counter()
        self.submit_latency.append(now - began)
        if not ids:
            self.refused += 1
            return
        self.ok += 1
        self.last_ok = now
        for upstream_id in ids:
            self.submitted[upstream_id] = began
            if upstream_id in self.early:
                self.receipt_latency.append(self.early.pop(upstream_id) - began)

    def receipt(self, upstream_id: str) -> None:
        now = time.perf_counter()
        self.receipts += 1
        self.last_receipt = now
        began = self.submitted.pop(upstream_id, None)
        if began is None:
            self.early[upstream_id] = now
        else:
            self.receipt_latency.append(now - began)

    def result(self, expected_receipts: int) -> dict:
        def pct(values, p):
            values = sorted(values)
            return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 2) if values else None

        submit_time = max(self.last_ok - self.started, 1e-9)
        receipt_time = max(self.last_receipt - self.started, 1e-9)
        return {
            "accepted": self.ok, "refused": self.refused, "receipts": self.receipts,
            "messages_per_s": round(self.ok / submit_time), "submit_p50_ms": pct(self.submit_latency, 0.5),
            "submit_p99_ms": pct(self.submit_latency, 0.99), "receipts_per_s": round(self.receipts / receipt_time),
            "receipt_p50_ms": pct(self.receipt_latency, 0.5), "receipt_p99_ms": pct(self.receipt_latency, 0.99),
            "all_receipts_back": self.receipts >= expected_receipts, "seconds": round(receipt_time, 3),
            "cpu_seconds": round(sum(os.times()[:2]), 2),
        }


async def until(reactor, condition, timeout: float) -> None:
    from twisted.internet import task

    deadline = time.perf_counter() + timeout
    while not condition() and time.perf_counter() < deadline:
        await task.deferLater(reactor, 0.02, lambda: None)


# --------------------------------------------------------------------------- connector path

def connector_section(port: int, window: int, system_id: str = "bench") -> dict:
    return {"host": "127.0.0.1", "port": str(port), "system_id": system_id, "password": PASSWORD,
            "window": str(window), "reconnect_initial": "0.1", "reconnect_max": "1"}


async def drive_connector(reactor, port: int, messages: int, window: int) -> dict:
    """Send ``messages`` through an `SMPPProvider`, keeping its capacity used, as the dispatcher does."""
    from twisted.internet import defer
    from zope.interface import implementer

    from gateway.interfaces import IReportSink
    from gateway.model import Message
    from gateway.providers.smpp import SMPPProvider

    timings = Timings()

    @implementer(IReportSink)
    class Sink:
        def report(self, provider, upstream_id, state, error_code=0, at=None):
            timings.receipt(upstream_id)
            return defer.succeed(upstream_id)

        def deliver_mo(self, *args, **kwargs):
            return defer.succeed(None)

    provider = SMPPProvider("bench", connector_section(port, window), Sink(), reactor)
    provider.startService()
    await provider.whenBound()
    timings.__init__()
    sent = 0

    def pump(_=None):
        nonlocal sent
        for _ in range(min(provider.capacity(), messages - sent)):
            sent += 1
            m = Message(id=f"b{sent}", account="bench", destination=f"7900{sent:07d}",
                        text=f"Your code is {sent}. Do not share it!")
            began = time.perf_counter()
            d = provider.send(m)
            d.addCallback(lambda r, began=began: timings.answered(r.upstream_ids, began))
            d.addCallback(pump)

    pump()
    await until(reactor, lambda: timings.receipts >= messages, 300)
    result = timings.result(messages)
    await provider.stopService()
    return result


# --------------------------------------------------------------------------- ESME load (proxy and gateway paths)

async def esme_load(reactor, port: int, binds: int, messages: int, window: int) -> dict:
    """``binds`` transceivers, each submitting its share with at most ``window`` unanswered."""
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from gateway.smpp.client import BindMode, BindParams, ESMESession
    from gateway.smpp.constants import CommandId
    from gateway.smpp.pdu import PDU

    timings = Timings()

    def on_request(session, pdu):
        if pdu.params.get("esm_class", 0) & 0x04:
            timings.receipt(pdu.tlvs.get("receipted_message_id", ""))
        return 0

    sessions = []
    for n in range(1, binds + 1):
        session = ESMESession(reactor, BindParams(BindMode.TRANSCEIVER, f"bench{n}", PASSWORD),
                              on_request=on_request, window=window + 10)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), session)
        await session.bind()
        sessions.append(session)
    timings.__init__()
    share = messages // binds

    def submit(session, n: int, left: int):
        pdu = PDU(CommandId.submit_sm, params={
            "source_addr": "Bench", "destination_addr": f"79{n:09d}", "registered_delivery": 1,
            "short_message": b"Your code is %d. Do not share it!" % n})
        began = time.perf_counter()
        d = session.submit(pdu)
        d.addCallbacks(lambda r: timings.answered([r.params["message_id"]], began),
                       lambda f: timings.answered([], began))
        if left > 1:
            d.addCallback(lambda _: submit(session, n + window, left - 1))

    for b, session in enumerate(sessions):
        for w in range(min(window, share)):
            per_slot = len(range(w, share, window))
            submit(session, b * share + w, per_slot)
    total = share * binds
    await until(reactor, lambda: timings.ok + timings.refused >= total and timings.receipts >= timings.ok, 300)
    result = timings.result(timings.ok)
    for session in sessions:
        await session.unbind().addErrback(lambda f: None)
    return result


# --------------------------------------------------------------------------- the middles

def null_proxy_factory(reactor, upstream_port: int):
    """A factory of proxies that forward decoded PDUs between a client and the simulator."""
    from twisted.internet import protocol
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from gateway.smpp.codec import encode
    from gateway.smpp.framing import Framer

    class Forward(protocol.Protocol):
        def __init__(self):
            self.framer, self.peer, self.held = Framer(), None, []

        def dataReceived(self, data):
            out = b"".join(encode(pdu) for pdu in self.framer.feed(data))
            if self.peer is None:
                self.held.append(out)
            else:
                self.peer.transport.write(out)

        def connectionLost(self, reason=None):
            if self.peer is not None and self.peer.transport is not None:
                self.peer.transport.loseConnection()

    class ClientSide(Forward):
        def connectionMade(self):
            upstream = Forward()
            upstream.peer = self
            connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", upstream_port), upstream).addCallback(
                self._connected)

        def _connected(self, upstream):
            self.peer = upstream
            upstream.transport.write(b"".join(self.held))
            self.held = []

    return protocol.Factory.forProtocol(ClientSide)


async def _gateway_store(reactor, redis_url: str, binds: int) -> dict:
    """The store objects of the gateway, with one account per ESME bind."""
    from gateway.model import Account
    from gateway.routing import Route, Router
    from gateway.store.accept import Acceptor
    from gateway.store.accounts import AccountStore
    from gateway.store.connection import connect
    from gateway.store.messages import MessageStore, new_id_generator
    from gateway.store.multipart import PartAssembler
    from gateway.store.outbox import Outbox
    from gateway.store.passwords import hash_password
    from gateway.store.queues import Queues
    from gateway.store.tracker import Tracker

    redis = await connect(redis_url, poolsize=4)
    ids = await new_id_generator(redis, reactor)
    acceptor = Acceptor(redis, Router([Route("all", providers=("upstream",))]), ids, reactor, node="bench")
    accounts = AccountStore(redis, reactor)
    for n in range(1, binds + 1):
        await accounts.put(Account(f"bench{n}", password=hash_password(PASSWORD), throughput=0, dedup_window=0))
    return {"ids": ids, "acceptor": acceptor, "assembler": PartAssembler(acceptor), "accounts": accounts,
            "outbox": Outbox(redis, reactor), "queues": Queues(redis, reactor),
            "messages": MessageStore(redis, reactor), "tracker": Tracker(redis, ids, reactor, node="bench")}


async def start_gateway(reactor, upstream_port: int, redis_url: str, binds: int, window: int):
    """The gateway pieces between an ESME and the simulator; fires with the SMPP port."""
    from twisted.internet import defer

    from gateway.dispatch import Dispatcher, owner_id
    from gateway.providers.smpp import SMPPProvider
    from gateway.smpp.auth import make_portal
    from gateway.smpp.server import SMPPServer, SMPPServerFactory
    from gateway.store.notify import Notifier

    s = await _gateway_store(reactor, redis_url, binds)
    notifier = Notifier(redis_url, reactor)
    notifier.startService()
    upstream = SMPPProvider("upstream", connector_section(upstream_port, window, "gateway"), s["tracker"], reactor)
    upstream.startService()
    await upstream.whenBound()
    dispatcher = Dispatcher(s["queues"], [upstream], owner_id("bench", s["ids"].node_number), reactor,
                            notifier=notifier, outbox=s["outbox"], assembler=s["assembler"], max_batch=200)
    s["acceptor"].add_listener(dispatcher.wake)
    s["acceptor"].set_direct(dispatcher)  # as the engine does: new messages skip an empty queue
    dispatcher.startService()
    factory = SMPPServerFactory(acceptor=s["acceptor"], assembler=s["assembler"], messages=s["messages"],
                                outbox=s["outbox"], portal=make_portal(s["accounts"]), clock=reactor, node="bench",
                                notifier=notifier, settings={"window": 100})
    server = SMPPServer(factory, ["tcp:0:interface=127.0.0.1"], reactor)
    server.startService()
    ports = await server.ready
    await notifier.whenSubscribed()

    async def stop():
        for service in (server, dispatcher, upstream, notifier):
            await defer.maybeDeferred(service.stopService)

    reactor.addSystemEventTrigger("before", "shutdown", lambda: defer.ensureDeferred(stop()))
    return ports[0].getHost().port


# --------------------------------------------------------------------------- roles (one process each)

def run_role(args) -> None:
    """Run one role's reactor; servers print ``LISTENING <port>``, loads print their JSON."""
    from twisted.internet import defer, reactor

    from gateway.runtime import tune_gc

    async def role():
        if args.role == "simulator":
            from gateway.simulator.service import SimulatorService

            sim = SimulatorService({"dlr_delay": str(args.dlr_delay), "keep_messages": "0", "deliver_window": "1000",
                                    "listen": "tcp:0:interface=127.0.0.1"}, reactor)
            sim.startService()
            await sim.whenListening()
            return sim.port
        if args.role == "proxy":
            port = await _listen(reactor, null_proxy_factory(reactor, args.upstream))
            return port.getHost().port
        if args.role == "gateway":
            return await start_gateway(reactor, args.upstream, args.redis, args.binds, args.upstream_window)
        if args.role == "connector":
            return await drive_connector(reactor, args.upstream, args.messages, args.window)
        return await esme_load(reactor, args.port, args.binds, args.messages, args.window)

    def done(value):
        if isinstance(value, dict):
            print(json.dumps(value), flush=True)
            reactor.stop()
        else:
            tune_gc()
            print("LISTENING", value, flush=True)

    def failed(failure):
        print("FAILED", failure.getErrorMessage(), json.dumps({"error": failure.getErrorMessage()}), flush=True)
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(role()).addCallbacks(done, failed))
    profile = os.environ.get("SMSGW_BENCH_PROFILE") if args.role in ("gateway", "proxy") else None
    if profile:  # --profile: the middle's CPU by function, for reading with pstats
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        reactor.addSystemEventTrigger("after", "shutdown", lambda: profiler.dump_stats(f"{profile}.{args.role}"))
    reactor.run()


def _listen(reactor, factory):
    from twisted.internet.endpoints import TCP4ServerEndpoint

    return TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)


# --------------------------------------------------------------------------- orchestration

class Child:
    """A role in its own process."""

    def __init__(self, *argv: str):
        self.proc = subprocess.Popen([sys.executable, __file__, *argv], stdout=subprocess.PIPE, text=True)

    def port(self) -> int:
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING"):
            raise RuntimeError(f"{self.proc.args[2:4]} did not start: {line.strip()!r}")
        return int(line.split()[1])

    def result(self, timeout: float = 900) -> dict:
        out, _ = self.proc.communicate(timeout=timeout)
        lines = out.strip().splitlines()
        return json.loads(lines[-1]) if lines else {"error": "no output"}

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used so far (Linux /proc)."""
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def process_cpu_seconds(pid: int) -> float | None:
    seconds = cpu_seconds(pid)
    return None if seconds is None else round(seconds, 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(datadir: Path):
    from gateway.store.embedded import server_arguments

    port = free_port()
    process = subprocess.Popen(server_arguments(datadir, "everysec", port), cwd=datadir,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in process.stdout:
        if b"Ready to accept connections" in line:
            return process, f"redis://127.0.0.1:{port}/0"
    raise RuntimeError("redis-server did not start")


def run_path(path: str, args) -> dict:
    """One path in fresh processes; the load's JSON result plus the CPU time of each process."""
    common = ["--messages", str(args.messages), "--window", str(args.window), "--binds", str(args.binds)]
    children, redis, datadir = {}, None, None
    try:
        children["simulator"] = sim = Child("--role", "simulator", "--dlr-delay", str(args.dlr_delay))
        sim_port = sim.port()
        if path == "connector":
            load = Child("--role", "connector", "--upstream", str(sim_port), *common)
        else:
            if path == "proxy":
                middle = Child("--role", "proxy", "--upstream", str(sim_port))
            else:
                datadir = Path(tempfile.mkdtemp(prefix="smsgw-e2e-"))
                redis, url = start_redis(datadir)
                middle = Child("--role", "gateway", "--upstream", str(sim_port), "--redis", url,
                               "--upstream-window", str(args.upstream_window), *common)
            children[path] = middle
            load = Child("--role", "client", "--port", str(middle.port()), *common)
        result = load.result()
        cpu = {"load": result.pop("cpu_seconds", None),
               **{name: child.cpu_seconds() for name, child in children.items()}}
        if redis is not None:
            cpu["redis"] = process_cpu_seconds(redis.pid)
        result["cpu_seconds"] = cpu
        if result.get("accepted"):  # the middle's CPU per message: gateway + its Redis, or the proxy
            middle = sum(cpu.get(name) or 0 for name in (path, "redis"))
            result["middle_cpu_us_per_message"] = round(middle / result["accepted"] * 1e6, 1)
        return result
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        return {"error": str(e)}
    finally:
        for child in reversed(list(children.values())):
            child.stop()
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=30)
        if datadir is not None:
            shutil.rmtree(datadir, ignore_errors=True)


def gateway_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("gateway.smpp.server") is not None
    except ImportError:
        return False


def main(args) -> dict:
    outcome = {"messages": args.messages, "window": args.window, "binds": args.binds, "dlr_delay": args.dlr_delay,
               "upstream_window": args.upstream_window,
               "cpus": os.cpu_count()}
    for path in args.paths:
        if path == "gateway" and not gateway_available():
            outcome[path] = {"skipped": "gateway.smpp.server is not there yet"}
            continue
        outcome[path] = result = run_path(path, args)
        print(f"{path:>9}: {result.get('accepted')} sent at {result.get('messages_per_s')}/s, "
              f"submit p50 {result.get('submit_p50_ms')} / p99 {result.get('submit_p99_ms')} ms, "
              f"{result.get('receipts')} receipts at {result.get('receipts_per_s')}/s, "
              f"submit→receipt p50 {result.get('receipt_p50_ms')} / p99 {result.get('receipt_p99_ms')} ms, "
              f"CPU s {result.get('cpu_seconds')}, middle µs/msg {result.get('middle_cpu_us_per_message')}" + (f"  ERROR {result['error']}" if "error" in result else ""),
              flush=True)
    proxy, gateway = outcome.get("proxy", {}), outcome.get("gateway", {})
    if proxy.get("messages_per_s") and proxy.get("receipts_per_s"):
        # messages/s accepted, and receipts/s: the rate of messages that made the whole trip
        outcome["gateway_vs_proxy"] = round(gateway.get("messages_per_s", 0) / proxy["messages_per_s"], 3)
        outcome["gateway_vs_proxy_receipts"] = round(gateway.get("receipts_per_s", 0) / proxy["receipts_per_s"], 3)
    return outcome


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=("bench", "simulator", "proxy", "gateway", "connector", "client"),
                        default="bench")
    parser.add_argument("--paths", type=lambda v: [p for p in v.split(",") if p], default=list(PATHS),
                        help="comma separated: " + ",".join(PATHS))
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=100, help="unanswered submits per bind / connector")
    parser.add_argument("--binds", type=int, default=2, help="ESME binds of the load (proxy and gateway)")
    parser.add_argument("--upstream-window", type=int, default=1000,
                        help="the gateway's connector window (seed 002: 1000-2000 for bulk)")
    parser.add_argument("--dlr-delay", type=float, default=0.2,
                        help="seconds from submit to receipt at the simulator (the [simulator] default)")
    parser.add_argument("--upstream", type=int, help="the simulator's port (middles and connector)")
    parser.add_argument("--port", type=int, help="the middle's port (client)")
    parser.add_argument("--redis")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="write cProfile stats of the gateway or proxy process to PREFIX.<role>")
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse()
    if options.profile:
        os.environ["SMSGW_BENCH_PROFILE"] = options.profile  # inherited by the role processes
    if options.role != "bench":
        run_role(options)
    else:
        print(json.dumps(main(options)))
