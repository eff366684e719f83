"""
The reliability scenarios, as functions of their durations and counts: the CI
tests (``tests/reliability/test_*.py``) run them short, the soak tests
(``tests/soak/``) long.  Each drives real processes — ``twistd smsgw``, the
simulator as ``twistd smsc-sim`` — asserts the lifecycle contract through a
`Ledger`, and returns its numbers (also printed as one JSON line).
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import urllib.error
import urllib.request
from pathlib import Path

from gateway.store import keys
from gateway.store.embedded import find_running_server
from tests.conftest import RedisServer, free_port
from tests.reliability.support import (
    API_KEY, TEMPORARY, Gateway, HttpLoad, Ledger, Load, Relay, Simulator, gateway_ini, redis_cli,
    stop_stale_redis, wait_until,
)

__all__ = ["crash_cycles", "redis_outage", "upstream_outage", "silent_client", "settle"]

#: The connector's window towards the simulator in these scenarios (duplicates are bounded by it).
UPSTREAM_WINDOW = 50


def report(name: str, numbers: dict) -> dict:
    print(json.dumps({"scenario": name, **numbers}), flush=True)
    return numbers


def settle(ledger: Ledger, simulator: Simulator, timeout: float = 60.0) -> dict:
    """Wait until every acknowledged message reached the upstream and every receipt asked for
    came back to a client; the ledger's numbers with the simulator's arrivals."""
    wait_until(lambda: not ledger.missing_upstream(simulator.arrivals()), timeout,
               "every acknowledged message at the upstream simulator", step=0.25)
    wait_until(lambda: not ledger.missing_dlrs(), timeout, "every requested DLR back at a client", step=0.25)
    return ledger.summary(simulator.arrivals())


def no_tracebacks(*processes) -> None:
    """No process logged a traceback or an unhandled error (shows the first one, in context)."""
    for process in processes:
        problems = process.problems()
        if problems:
            lines = process.output.splitlines()
            first = next(n for n, line in enumerate(lines) if "Traceback" in line or "Unhandled" in line)
            raise AssertionError(f"{len(problems)} problems logged; the first:\n"
                                 + "\n".join(lines[max(0, first - 5):first + 40]))


@contextlib.contextmanager
def cleanup(datadir: Path | None = None):
    """Stops every process and thread registered with it, whatever happened."""
    stack = contextlib.ExitStack()
    try:
        with stack:
            yield stack
    finally:
        if datadir is not None:
            stop_stale_redis(datadir / "var")


def _threads_stopper(threads):
    def stop():
        for thread in threads:
            thread.stopping.set()
        for thread in threads:
            thread.join(30)
    return stop


# --------------------------------------------------------------------------- SIGKILL cycles

def crash_cycles(workdir: Path, cycles: int = 3, seed: int | None = None, binds: int = 2,
                 acks_per_cycle: tuple[int, int] = (300, 2500)) -> dict:
    """A gateway on its embedded Redis under SMPP (and HTTP) load, killed with SIGKILL at a random
    moment ``cycles`` times and restarted on the same data directory; then nothing acknowledged
    is missing upstream, every DLR reached a client, duplicates stay within the in-flight window."""
    seed = random.randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    ledger = Ledger()
    kills = []
    with cleanup(workdir) as stack:
        simulator = Simulator()
        stack.callback(simulator.stop)
        config = gateway_ini(workdir, upstream_port=simulator.smpp_port,
                             provider={"window": str(UPSTREAM_WINDOW)})
        var = workdir / "var"
        stale = None
        gateways = []
        for cycle in range(cycles):
            gateway = Gateway(config)
            gateways.append(gateway)
            stack.callback(gateway.stop)
            started = gateway.wait_for(r"embedded redis-server (\d+) ready")
            if stale is not None:
                # the Redis the killed gateway left was found through its pidfile and stopped
                found = gateway.wait_for(r"a redis-server \(pid (\d+)\) left by an earlier gateway")
                assert int(found.group(1)) == stale
                assert int(started.group(1)) != stale
                assert process_gone(stale)
            loads = [Load(gateway.smpp_port, ledger, window=20, label=f"cycle{cycle}/{n}") for n in range(binds)]
            loads.append(HttpLoad(gateway.http_port, ledger))
            stack.callback(_threads_stopper(loads))
            for load in loads:
                load.start()
            target = ledger.acked_count + rng.randint(*acks_per_cycle)
            wait_until(lambda: ledger.acked_count >= target, 60, f"{target} acknowledged (cycle {cycle})")
            gateway.kill()  # SIGKILL: no clean-up at all
            kills.append(ledger.acked_count)
            stale = find_running_server(var)
            assert stale is not None, "the embedded redis-server should outlive a killed gateway"
            for load in loads:
                load.join(30)
                assert not load.is_alive()
            gateway.collect()
        # the last start: nothing is sent any more, clients collect their receipts
        gateway = Gateway(config)
        gateways.append(gateway)
        stack.callback(gateway.stop)
        receivers = [Load(gateway.smpp_port, ledger, mode="receiver", label=f"final/{n}") for n in range(binds)]
        stack.callback(_threads_stopper(receivers))
        for receiver in receivers:
            receiver.start()
        numbers = settle(ledger, simulator, timeout=90)
        _threads_stopper(receivers)()
        assert gateway.terminate() == 0
        assert find_running_server(var) is None
        no_tracebacks(*gateways)
    bound = cycles * 2 * UPSTREAM_WINDOW
    numbers.update(seed=seed, cycles=cycles, acknowledged_at_kills=kills, duplicate_bound=bound)
    assert numbers["upstream_duplicates"] <= bound, numbers
    return report("crash", numbers)


def process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for an adoptive parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


# --------------------------------------------------------------------------- Redis down

def _http_send(port: int, destination: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/messages", method="POST",
                                     data=json.dumps({"to": "+" + destination, "text": "outage"}).encode(),
                                     headers={"X-API-Key": f"{API_KEY}-load", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def redis_outage(workdir: Path, outage: float = 10.0) -> dict:
    """An external redis-server stopped for ``outage`` seconds under load: submits meanwhile get
    temporary errors (never status 0), HTTP gets 503, and service resumes by itself."""
    ledger = Ledger()
    with cleanup() as stack:
        redis = RedisServer(workdir / "redis", free_port())
        redis.datadir.mkdir(parents=True)
        redis.start()
        stack.callback(redis.stop)
        simulator = Simulator()
        stack.callback(simulator.stop)
        config = gateway_ini(workdir, redis_url=redis.url, upstream_port=simulator.smpp_port,
                             extra="")
        _set(config, "redis", "timeout", "2")
        gateway = Gateway(config)
        stack.callback(gateway.stop)
        loads = [Load(gateway.smpp_port, ledger, window=10, label=f"load/{n}") for n in range(2)]
        stack.callback(_threads_stopper(loads))
        for load in loads:
            load.start()
        wait_until(lambda: ledger.acked_count >= 500, 30, "load flowing")
        redis.stop()
        down_at, acked_at_stop = time.monotonic(), ledger.acked_count
        refused = lambda: sum(ledger.refused.get(s, 0) for s in TEMPORARY)  # noqa: E731
        wait_until(lambda: refused() > 0, outage + 10, "a submit refused as temporary while Redis is down")
        http_status, http_body = _http_send(gateway.http_port, "79990000001")
        assert http_status == 503, (http_status, http_body)
        acked_during = ledger.acked_count - acked_at_stop
        time.sleep(max(0.0, outage - (time.monotonic() - down_at)))  # the outage lasts its full length
        refused_during = refused()
        redis.start()
        restart = ledger.acked_count
        wait_until(lambda: ledger.acked_count > restart + 200, 60, "submits acknowledged again after Redis is back")
        resumed = time.monotonic() - down_at - outage
        status, body = _http_send(gateway.http_port, ledger.destination())
        assert status == 201, (status, body)
        for load in loads:
            load.hush()
        assert set(ledger.refused) <= TEMPORARY, ledger.refused
        numbers = settle(ledger, simulator)
        assert not any(load.error and "unbound" in load.error for load in loads)
        no_tracebacks(gateway)
    # a few submits may have been answered in the instant Redis was stopping
    assert acked_during <= 40, acked_during
    numbers.update(outage_s=outage, temporary_refusals_during=refused_during, acked_after_stop=acked_during,
                   http_during=http_status, resumed_after_s=round(resumed, 2))
    return report("redis_outage", numbers)


def _set(config: Path, section: str, key: str, value: str) -> None:
    text = config.read_text()
    config.write_text(text.replace(f"[{section}]\n", f"[{section}]\n{key} = {value}\n", 1))


# --------------------------------------------------------------------------- upstream down

def upstream_outage(workdir: Path, outage: float = 30.0, rate: float = 400.0) -> dict:
    """The upstream SMSC drops its connection and refuses binds for ``outage`` seconds: clients
    keep being acknowledged, the queue grows, and it drains afterwards with nothing lost."""
    ledger = Ledger()
    with cleanup(workdir) as stack:
        simulator = Simulator()
        stack.callback(simulator.stop)
        relay = Relay(simulator.smpp_port)
        stack.callback(relay.close)
        config = gateway_ini(workdir, upstream_port=relay.port, provider={"window": str(UPSTREAM_WINDOW)})
        gateway = Gateway(config)
        stack.callback(gateway.stop)
        loads = [Load(gateway.smpp_port, ledger, window=10, label=f"load/{n}", rate=rate / 2) for n in range(2)]
        stack.callback(_threads_stopper(loads))
        for load in loads:
            load.start()
        wait_until(lambda: ledger.acked_count >= 300, 30, "load flowing")
        relay.cut()
        down_at = time.monotonic()
        wait_until(lambda: relay.refused_binds >= 2, outage, "the connector retrying its bind")
        upstream_before = simulator.stats()["accepted"]
        acked_before = ledger.acked_count
        ready = keys.ready("up")
        wait_until(lambda: int(redis_cli(workdir / "var", "ZCARD", ready)) >= 200, outage,
                   "messages queueing while the upstream is away")
        time.sleep(max(0.0, outage - (time.monotonic() - down_at)))  # the outage lasts its full length
        queued = int(redis_cli(workdir / "var", "ZCARD", ready))
        upstream_during = simulator.stats()["accepted"] - upstream_before
        acked_during = ledger.acked_count - acked_before
        relay.restore()
        for load in loads:
            load.hush()
        numbers = settle(ledger, simulator)
        drained = time.monotonic() - down_at - outage
        wait_until(lambda: int(redis_cli(workdir / "var", "ZCARD", ready)) == 0, 30, "the queue drained")
        no_tracebacks(gateway)
    assert upstream_during == 0, upstream_during
    assert acked_during > 0 and queued > 0
    # sent when the link was cut, unanswered, sent again: at most the connector's window
    assert numbers["upstream_duplicates"] <= UPSTREAM_WINDOW, numbers
    numbers.update(outage_s=outage, refused_binds=relay.refused_binds, acked_during_outage=acked_during,
                   queued_at_end_of_outage=queued, drained_after_s=round(drained, 2))
    return report("upstream_outage", numbers)


# --------------------------------------------------------------------------- a client that stops answering

def silent_client(workdir: Path, messages: int = 300, window: int = 10, response_timeout: float = 3.0) -> dict:
    """A transceiver that stops answering deliver_sm: the server keeps at most ``window``
    unanswered, closes it after ``response_timeout``; its receipts wait in the outbox and all
    reach the client when it binds again."""
    ledger = Ledger()
    with cleanup(workdir) as stack:
        simulator = Simulator()
        stack.callback(simulator.stop)
        config = gateway_ini(workdir, upstream_port=simulator.smpp_port,
                             smpp={"window": str(window), "response_timeout": str(response_timeout)})
        gateway = Gateway(config)
        stack.callback(gateway.stop)
        silent = Load(gateway.smpp_port, ledger, window=20, total=messages, answer_delivers=False, linger=True,
                      label="silent")
        stack.callback(_threads_stopper([silent]))
        silent.start()
        wait_until(lambda: ledger.acked_count >= messages, 30, "every submit acknowledged")
        wait_until(lambda: silent.unanswered_delivers >= window, 30, "the deliver_sm window filled")
        silent.join(response_timeout + 15)  # the gateway gives up on it
        assert not silent.is_alive() and silent.error, "the gateway should close a client that stops answering"
        assert silent.max_unanswered_delivers == window, silent.max_unanswered_delivers
        waiting = lambda: int(redis_cli(workdir / "var", "HLEN", keys.outbox_items("load")))  # noqa: E731
        wait_until(lambda: waiting() >= messages - window, 30, "the receipts waiting in the outbox")
        in_outbox = waiting()
        assert not ledger.dlrs
        again = Load(gateway.smpp_port, ledger, mode="receiver", label="again")
        stack.callback(_threads_stopper([again]))
        again.start()
        numbers = settle(ledger, simulator)
        wait_until(lambda: waiting() == 0, 30, "the outbox emptied")
        no_tracebacks(gateway)
    numbers.update(window=window, unanswered_at_most=silent.max_unanswered_delivers, waited_in_outbox=in_outbox)
    return report("silent_client", numbers)
